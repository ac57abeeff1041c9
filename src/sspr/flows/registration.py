"""Registering verification methods: prove ownership first, then the method counts.

(none) --begin--> pending --code right--> active (audited "User registered security info")
                  pending --code wrong--> pending (throttled)
active --remove (recent sign-in)--> (none)      active --review--> active (re-confirmed)

Adding, confirming and removing from a signed-in session first pass the tenant's conditional
access for "register security information" (sspr.access): blocked, or a registered method (or a
Temporary Access Pass) to prove first; the evaluation goes on the audit event of the change.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from sspr.access.enforcement import REGISTER, enforce
from sspr.audit.events import Activity, record
from sspr.directory.models import Credential, User
from sspr.directory.roles import is_admin
from sspr.errors import DomainError, Forbidden, InvalidValue, NotFound
from sspr.flows import eligibility
from sspr.flows.blocking import blocking
from sspr.methods.models import RegisteredMethod
from sspr.methods.registry import method_for
from sspr.policy.models import SsprPolicy
from sspr.policy.sspr_policy import get_policy
from sspr.throttling import limits
from sspr.throttling.counters import release, take

REAUTHENTICATION_WINDOW = timedelta(minutes=10)
Active = RegisteredMethod.State.ACTIVE
Pending = RegisteredMethod.State.PENDING


class ReauthenticationRequired(DomainError):
    status = 403
    code = "reauthentication_required"

    def __init__(self) -> None:
        super().__init__(_("For your safety, sign in again before you remove a method."))


class CodeIncorrect(DomainError):
    status = 422
    code = "verification_failed"

    def __init__(self) -> None:
        super().__init__(
            _("That code is not right, or it has expired. Check it or ask for a new one.")
        )


def registered(user: User) -> list[RegisteredMethod]:
    return list(RegisteredMethod.objects.filter(user=user, state=Active).order_by("method"))


def _access(session: Credential | None, activity: str) -> dict[str, Any]:
    """The conditional access evaluation for a change made from `session` (none: not made by
    the user from a sign-in, e.g. set up by the command line), raising when it is refused."""
    if session is None:
        return {}
    return {"conditional_access": enforce(session, REGISTER, activity)}


def begin(
    user: User, method: str, payload: dict[str, Any], *, session: Credential | None = None
) -> tuple[RegisteredMethod, dict[str, Any]]:
    """Start registering `method`; a code goes to the new address or number to prove it."""
    access = _access(session, Activity.REGISTERED_SECURITY_INFO)
    policy = get_policy(user.tenant)
    handler = method_for(method, policy)
    if method not in policy.methods_enabled:
        raise InvalidValue(
            _("Your organisation does not offer this method for password reset: %(method)s.")
            % {"method": _(handler.label)},
            field="method",
        )
    if is_admin(user.roles) and not handler.for_admins:
        raise Forbidden(_("Administrators cannot use security questions: choose another method."))
    value = handler.normalise(str(payload.get("value", ""))) if handler.channel else ""
    if handler.channel:
        with blocking(user.tenant, user.upn):
            take(limits.REGISTRATION_CODES, user.tenant.pk, user.upn)
            if method == "sms":
                take(limits.sms_per_tenant(policy.sms_daily_limit), user.tenant.pk, "tenant")
    with transaction.atomic():
        RegisteredMethod.objects.filter(user=user, method=method, state=Pending).delete()
        registration = RegisteredMethod.objects.create(user=user, method=method, value=value)
        info = handler.start_enrollment(registration, payload)
        if method == "questions":
            _activate(registration, access)
    return registration, info


def confirm(
    user: User,
    registration_id: int,
    payload: dict[str, Any],
    *,
    session: Credential | None = None,
) -> RegisteredMethod:
    """Finish registering with the code that was sent (or the app's current code)."""
    access = _access(session, Activity.REGISTERED_SECURITY_INFO)
    registration = RegisteredMethod.objects.filter(
        pk=registration_id, user=user, state=Pending
    ).first()
    if registration is None:
        raise NotFound(_("There is no pending registration with that id; start again."))
    handler = method_for(registration.method, get_policy(user.tenant))
    with blocking(user.tenant, user.upn):
        take(limits.REGISTRATION_FAILURES, user.tenant.pk, user.upn)
    # The code is used up and the method activated in one transaction: cut off in between,
    # neither happened, and the same code still works.
    with transaction.atomic():
        finished = handler.finish_enrollment(registration, payload)
        if finished:
            _activate(registration, access)
    if not finished:
        raise CodeIncorrect()
    release(limits.REGISTRATION_FAILURES, user.tenant.pk, user.upn)
    return registration


def _activate(registration: RegisteredMethod, access: dict[str, Any]) -> None:
    now = timezone.now()
    RegisteredMethod.objects.filter(
        user=registration.user, method=registration.method, state=Active
    ).delete()
    registration.state = Active
    registration.verified_at = registration.confirmed_at = now
    registration.save(update_fields=["state", "verified_at", "confirmed_at"])
    record(
        registration.user.tenant,
        Activity.REGISTERED_SECURITY_INFO,
        actor=registration.user,
        target=registration.user,
        method=registration.method,
        **access,
    )


def remove(credential: Credential, registration_id: int) -> None:
    user = credential.user
    registration = RegisteredMethod.objects.filter(pk=registration_id, user=user).first()
    if registration is None:
        raise NotFound(_("There is no such method registered to your account."))
    if registration.state == Active and (
        timezone.now() - credential.created_at > REAUTHENTICATION_WINDOW
    ):
        raise ReauthenticationRequired()
    # Dropping a pending registration changes nothing that counts: no conditional access.
    access = _access(
        credential if registration.state == Active else None, Activity.DELETED_SECURITY_INFO
    )
    with transaction.atomic():
        registration.delete()
        record(
            user.tenant,
            Activity.DELETED_SECURITY_INFO,
            actor=user,
            target=user,
            method=registration.method,
            **access,
        )


def review(user: User) -> int:
    """The user looked at their methods and says they are still right."""
    with transaction.atomic():
        count = RegisteredMethod.objects.filter(user=user, state=Active).update(
            confirmed_at=timezone.now()
        )
        record(user.tenant, Activity.REVIEWED_SECURITY_INFO, actor=user, target=user)
    return count


def interruption(user: User, policy: SsprPolicy | None = None) -> str | None:
    """At sign-in: "register" (too few methods), "reconfirm" (review is due) or None."""
    policy = policy or get_policy(user.tenant)
    if not policy.registration_required or not eligibility.in_scope(user, policy):
        return None
    needs = eligibility.requirements(user, policy)
    usable = eligibility.usable_methods(user, needs)
    if len(usable) < needs.methods_required:
        return "register"
    if policy.reconfirm_days:
        due = timezone.now() - timedelta(days=policy.reconfirm_days)
        if any(m.confirmed_at is None or m.confirmed_at < due for m in usable):
            return "reconfirm"
    return None
