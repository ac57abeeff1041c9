"""A password reset by an administrator or the helpdesk, within Entra's role rules.

The new password is temporary: shown once to the administrator, changed by the user at the next
sign-in. Every session of the user ends; the user is told.
"""

from __future__ import annotations

import secrets
import string
from functools import partial

from django.db import transaction
from django.utils import timezone

from sspr.afterwards import after_commit
from sspr.audit.events import Activity, failure, record
from sspr.directory import credentials
from sspr.directory.models import Lockout, User
from sspr.directory.passwords import hash_password
from sspr.directory.roles import can_reset_password
from sspr.errors import Forbidden
from sspr.flows import caller_verification, writeback
from sspr.messaging.notify import notify_admin_reset
from sspr.policy.passwords import PasswordRejected, check_new_password

_ALPHABET = string.ascii_letters + string.digits


def temporary_password() -> str:
    """Four groups of four, with a digit, an upper- and a lower-case letter and a symbol."""
    while True:
        groups = ["".join(secrets.choice(_ALPHABET) for _ in range(4)) for _ in range(4)]
        candidate = "-".join(groups)
        if (
            any(c.isdigit() for c in candidate)
            and any(c.isupper() for c in candidate)
            and any(c.islower() for c in candidate)
        ):
            return candidate


def reset_by_admin(actor: User, target: User, password: str | None = None) -> str:
    """Set a temporary password on `target`; return it (the only time it is seen)."""
    tenant = target.tenant
    if actor.tenant_id != target.tenant_id or not can_reset_password(actor.roles, target.roles):
        with transaction.atomic():
            failure(
                tenant,
                Activity.RESET_PASSWORD_BY_ADMIN,
                "Not allowed by role",
                actor=actor,
                target=target,
            )
        raise Forbidden("Your role does not allow you to reset this user's password.")
    synced = writeback.is_synced(target)
    chosen = password or temporary_password()
    entry = "hybrid_precheck" if synced else "admin_reset"
    try:
        check_new_password(tenant, target, chosen, entry=entry)
    except PasswordRejected:
        if password is not None:
            raise
        chosen = temporary_password()  # a generated one that a list happens to refuse
        check_new_password(tenant, target, chosen, entry=entry)
    if synced:
        # The directory first; it also makes the user change the password at next logon.
        writeback.reset(target, chosen, must_change=True, enforce_policy=False)
    with transaction.atomic():
        target.password_hash = "" if synced else hash_password(chosen)
        target.password_last_set = timezone.now()
        target.must_change_password = True
        target.save(update_fields=["password_hash", "password_last_set", "must_change_password"])
        ended = credentials.revoke_all_except(target, keep=None)
        Lockout.objects.filter(tenant=tenant, key=target.upn).delete()
        checked = caller_verification.recent(actor, target)
        record(
            tenant,
            Activity.RESET_PASSWORD_BY_ADMIN,
            actor=actor,
            target=target,
            sessions_ended=ended,
            on_premises=synced,
            caller_verified_with=checked.method if checked else "",
        )
        after_commit(partial(notify_admin_reset, target))
    return chosen
