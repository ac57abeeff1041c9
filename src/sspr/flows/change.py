"""Password change by a signed-in user who knows the current password.

    signed_in --verify current--> verified --rules pass--> committed (others signed out, notified)
              +-wrong current--> refused (counts toward lockout)
                                  verified --rules fail--> refused (nothing changed)

For a synced user the rules are checked first (the pre-check), then the on-premises directory
makes the change as the user, old password and new, so that its history and minimum age apply;
only when it has accepted does the service record anything.
"""

from __future__ import annotations

from functools import partial

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from sspr.afterwards import after_commit
from sspr.audit.events import Activity, failure, record
from sspr.directory import credentials, lockout
from sspr.directory.models import Credential, User
from sspr.directory.passwords import hash_password, verify_password
from sspr.directory.plans import Feature, require
from sspr.errors import DomainError
from sspr.flows import writeback
from sspr.messaging.notify import notify_password_changed
from sspr.policy.passwords import PasswordRejected, check_new_password
from sspr_protocol.messages import Outcome


class CurrentPasswordIncorrect(DomainError):
    status = 422
    code = "current_password_incorrect"

    def __init__(self) -> None:
        super().__init__(_("Your current password is incorrect."))


def _refused(user: User, reason: str, **details: object) -> None:
    with transaction.atomic():
        failure(user.tenant, Activity.CHANGE_PASSWORD, reason, actor=user, target=user, **details)


def _check_rules(user: User, new_password: str, *, synced: bool) -> None:
    try:
        check_new_password(
            user.tenant,
            user,
            new_password,
            forbid_current=not synced,
            entry="hybrid_precheck" if synced else "change",
        )
    except PasswordRejected as rejected:
        _refused(
            user,
            "New password does not meet the rules",
            rules=[v.code for v in rejected.violations],
        )
        raise


def _change_on_premises(user: User, attempt: lockout.Attempt, current: str, new: str) -> None:
    try:
        writeback.change(user, current, new)
    except writeback.DirectoryRefused as refused:
        if refused.details.get("outcome") == Outcome.WRONG_PASSWORD:
            lockout.failed(attempt)
            _refused(user, "Current password incorrect")
            raise CurrentPasswordIncorrect() from None
        lockout.succeeded(attempt)
        _refused(user, f"Refused by the on-premises directory ({refused.code})")
        raise
    except DomainError as unavailable:
        lockout.succeeded(attempt)  # not the user's mistake: it does not count
        _refused(user, f"On-premises writeback failed ({unavailable.code})")
        raise
    lockout.succeeded(attempt)


def change_password(credential: Credential, current_password: str, new_password: str) -> None:
    user = credential.user
    tenant = user.tenant
    synced = writeback.is_synced(user)
    require(tenant.plan, Feature.HYBRID_WRITEBACK if synced else Feature.CLOUD_PASSWORD_CHANGE)

    if synced:
        _check_rules(user, new_password, synced=True)
        attempt = lockout.begin(tenant, user.upn, current_password)
        _change_on_premises(user, attempt, current_password, new_password)
    else:
        attempt = lockout.begin(tenant, user.upn, current_password)
        if not verify_password(user.password_hash, current_password):
            lockout.failed(attempt)
            _refused(user, "Current password incorrect")
            raise CurrentPasswordIncorrect()
        lockout.succeeded(attempt)
        _check_rules(user, new_password, synced=False)

    with transaction.atomic():
        # A synced user's password lives in the directory; the service keeps no hash of it.
        user.password_hash = "" if synced else hash_password(new_password)
        user.password_last_set = timezone.now()
        user.must_change_password = False
        user.save(update_fields=["password_hash", "password_last_set", "must_change_password"])
        revoked = credentials.revoke_all_except(user, keep=credential)
        record(
            tenant,
            Activity.CHANGE_PASSWORD,
            actor=user,
            target=user,
            other_sessions_ended=revoked,
            on_premises=synced,
        )
        after_commit(partial(notify_password_changed, user))
