"""Recording audit events, in the transaction of the change they describe."""

from __future__ import annotations

from typing import Any

from django.db import transaction

from sspr.audit import context, sealer
from sspr.audit.models import AuditEvent
from sspr.directory.models import Tenant, User


class Activity:
    """Entra's activity names; audit consumers match on these strings."""

    CHANGE_PASSWORD = "Change password (self-service)"
    RESET_PASSWORD_BY_ADMIN = "Reset password (by admin)"
    VERIFY_CALLER = "Verify caller identity"
    SIGN_IN = "Sign-in"
    SIGN_OUT = "Sign-out"
    ADD_USER = "Add user"
    ADD_MEMBER_TO_ROLE = "Add member to role"
    CREATE_TENANT = "Create tenant"
    UPDATE_SSPR_POLICY = "Update self-service password reset policy"
    UPDATE_PASSWORD_POLICY = "Update password protection policy"
    PASSWORD_WOULD_BE_REJECTED = "Password would have been rejected (audit mode)"
    RESET_PASSWORD = "Reset password (self-service)"
    RESET_PROGRESS = "Self-service password reset flow activity progress"
    RESET_BLOCKED = "Blocked from self-service password reset"
    UNLOCK = "Unlock user account (self-service)"
    REGISTERED_SECURITY_INFO = "User registered security info"
    DELETED_SECURITY_INFO = "User deleted security info"
    REVIEWED_SECURITY_INFO = "User reviewed security info"
    DELETE_AUDIT_EVENTS = "Delete audit events (retention)"
    SEND_ROLLOUT = "Send rollout announcement"
    ADD_NAMED_LOCATION = "Add named location"
    UPDATE_NAMED_LOCATION = "Update named location"
    DELETE_NAMED_LOCATION = "Delete named location"
    ADD_CONDITIONAL_ACCESS_POLICY = "Add conditional access policy"
    UPDATE_CONDITIONAL_ACCESS_POLICY = "Update conditional access policy"
    DELETE_CONDITIONAL_ACCESS_POLICY = "Delete conditional access policy"
    # A Temporary Access Pass issued or revoked (Entra's words for it).
    ADMIN_REGISTERED_SECURITY_INFO = "Admin registered security info"
    ADMIN_DELETED_SECURITY_INFO = "Admin deleted security info"
    VERIFY_IDENTITY = "Verify identity for security info"
    ADMIN_PORTAL_SIGN_IN = "Sign-in to the admin portal"


_CATEGORIES = {
    Activity.CHANGE_PASSWORD: "UserManagement",
    Activity.RESET_PASSWORD_BY_ADMIN: "UserManagement",
    Activity.VERIFY_CALLER: "UserManagement",
    Activity.SIGN_IN: "Authentication",
    Activity.SIGN_OUT: "Authentication",
    Activity.ADD_USER: "UserManagement",
    Activity.ADD_MEMBER_TO_ROLE: "RoleManagement",
    Activity.CREATE_TENANT: "DirectoryManagement",
    Activity.UPDATE_SSPR_POLICY: "Policy",
    Activity.UPDATE_PASSWORD_POLICY: "Policy",
    Activity.PASSWORD_WOULD_BE_REJECTED: "Policy",
    Activity.RESET_PASSWORD: "UserManagement",
    Activity.RESET_PROGRESS: "UserManagement",
    Activity.RESET_BLOCKED: "UserManagement",
    Activity.UNLOCK: "UserManagement",
    Activity.REGISTERED_SECURITY_INFO: "UserManagement",
    Activity.DELETED_SECURITY_INFO: "UserManagement",
    Activity.REVIEWED_SECURITY_INFO: "UserManagement",
    Activity.DELETE_AUDIT_EVENTS: "DirectoryManagement",
    Activity.SEND_ROLLOUT: "UserManagement",
    Activity.ADD_NAMED_LOCATION: "Policy",
    Activity.UPDATE_NAMED_LOCATION: "Policy",
    Activity.DELETE_NAMED_LOCATION: "Policy",
    Activity.ADD_CONDITIONAL_ACCESS_POLICY: "Policy",
    Activity.UPDATE_CONDITIONAL_ACCESS_POLICY: "Policy",
    Activity.DELETE_CONDITIONAL_ACCESS_POLICY: "Policy",
    Activity.ADMIN_REGISTERED_SECURITY_INFO: "UserManagement",
    Activity.ADMIN_DELETED_SECURITY_INFO: "UserManagement",
    Activity.VERIFY_IDENTITY: "Authentication",
    Activity.ADMIN_PORTAL_SIGN_IN: "Authentication",
}

# Keys that must never reach the trail, whatever a caller passes in `details`.
_SECRET_KEYS = ("password", "token", "secret", "code", "answer", "hash")


def _describe(who: User | str | None) -> str:
    if who is None:
        return ""
    return who.upn if isinstance(who, User) else who


def record(
    tenant: Tenant,
    activity: str,
    *,
    result: str = AuditEvent.Result.SUCCESS,
    actor: User | str | None = None,
    target: User | str | None = None,
    reason: str = "",
    **details: Any,
) -> AuditEvent:
    ctx = context.current()
    clean = {k: v for k, v in details.items() if not any(s in k.lower() for s in _SECRET_KEYS)}
    event = AuditEvent.objects.create(
        tenant=tenant,
        category=_CATEGORIES.get(activity, "Other"),
        activity=activity,
        actor=_describe(actor),
        target=_describe(target),
        result=result,
        reason=reason[:512],
        ip=ctx.ip[:64],
        user_agent=ctx.user_agent[:512],
        correlation_id=ctx.correlation_id,
        details=clean,
    )
    _seal_after_commit(event)
    return event


class _Sealing:
    """What one transaction recorded, sealed once it commits (`sspr.audit.sealer`), all of it
    in one short locking transaction rather than one per event."""

    def __init__(self, event: AuditEvent) -> None:
        self.tenant_id = event.tenant_id
        self.events = [event]

    def __call__(self) -> None:
        sealer.seal(self.events)


def _seal_after_commit(event: AuditEvent) -> None:
    # Joined only within the same block (savepoint), whose fate the event shares.
    connection = transaction.get_connection()
    here = set(connection.savepoint_ids)
    for savepoints, pending, _ in connection.run_on_commit:
        if (
            savepoints == here
            and isinstance(pending, _Sealing)
            and pending.tenant_id == event.tenant_id
        ):
            pending.events.append(event)
            return
    # Robust: the change is committed by then; a failure here must not turn it into an error.
    transaction.on_commit(_Sealing(event), robust=True)


def failure(tenant: Tenant, activity: str, reason: str, **kwargs: Any) -> AuditEvent:
    return record(tenant, activity, result=AuditEvent.Result.FAILURE, reason=reason, **kwargs)
