"""Password change by a signed-in user who knows the current password.

signed_in --verify current--> verified --rules pass--> committed (others signed out, notified)
          +-wrong current--> refused (counts toward lockout)
                              verified --rules fail--> refused (nothing changed)
"""

from __future__ import annotations

from django.db import transaction
from django.utils import timezone

from sspr.audit.events import Activity, failure, record
from sspr.directory import credentials, lockout
from sspr.directory.models import Credential, Source
from sspr.directory.passwords import hash_password, verify_password
from sspr.directory.plans import Feature, require
from sspr.errors import DomainError
from sspr.messaging.notify import notify_password_changed
from sspr.policy.passwords import PasswordRejected, check_new_password


class CurrentPasswordIncorrect(DomainError):
    status = 422
    code = "current_password_incorrect"

    def __init__(self) -> None:
        super().__init__("Your current password is incorrect.")


class WritebackUnavailable(DomainError):
    status = 409
    code = "writeback_unavailable"

    def __init__(self) -> None:
        super().__init__(
            "Your account is managed by your organisation's on-premises directory, and "
            "password writeback is not available. Contact your helpdesk."
        )


def change_password(credential: Credential, current_password: str, new_password: str) -> None:
    user = credential.user
    tenant = user.tenant
    if user.source == Source.SYNCED:
        require(tenant.plan, Feature.HYBRID_WRITEBACK)
        raise WritebackUnavailable()
    require(tenant.plan, Feature.CLOUD_PASSWORD_CHANGE)

    attempt = lockout.begin(tenant, user.upn, current_password)
    if not verify_password(user.password_hash, current_password):
        lockout.failed(attempt)
        with transaction.atomic():
            failure(
                tenant,
                Activity.CHANGE_PASSWORD,
                "Current password incorrect",
                actor=user,
                target=user,
            )
        raise CurrentPasswordIncorrect()
    lockout.succeeded(attempt)

    try:
        check_new_password(tenant, user, new_password, forbid_current=True)
    except PasswordRejected as rejected:
        with transaction.atomic():
            failure(
                tenant,
                Activity.CHANGE_PASSWORD,
                "New password does not meet the rules",
                actor=user,
                target=user,
                rules=[v.code for v in rejected.violations],
            )
        raise

    with transaction.atomic():
        user.password_hash = hash_password(new_password)
        user.password_last_set = timezone.now()
        user.must_change_password = False
        user.save(update_fields=["password_hash", "password_last_set", "must_change_password"])
        revoked = credentials.revoke_all_except(user, keep=credential)
        record(
            tenant, Activity.CHANGE_PASSWORD, actor=user, target=user, other_sessions_ended=revoked
        )
        transaction.on_commit(lambda: notify_password_changed(user))
