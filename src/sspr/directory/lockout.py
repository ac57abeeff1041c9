"""Smart lockout, as Entra does it.

Ten failures lock the name for 60 seconds; each further lockout doubles the time, up to an hour.
The same wrong password typed again is not counted twice. A failure is counted *before* the
password is checked and forgiven after a success, so that concurrent guesses can never get more
checks than the threshold allows.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from sspr.directory.models import Lockout, Tenant
from sspr.directory.passwords import fingerprint
from sspr.errors import DomainError

THRESHOLD = 10
FIRST_LOCK = timedelta(seconds=60)
LONGEST_LOCK = timedelta(hours=1)
# A quiet day forgives earlier failures.
OBSERVATION_WINDOW = timedelta(hours=24)
REMEMBERED_BAD_PASSWORDS = 3


class AccountLocked(DomainError):
    status = 429
    code = "account_locked"

    def __init__(self, until: datetime) -> None:
        seconds = max(1, math.ceil((until - timezone.now()).total_seconds()))
        super().__init__(
            _(
                "Your account is temporarily locked to prevent unauthorised use. "
                "Try again in %(duration)s."
            )
            % {"duration": _duration(seconds)},
            retry_after=seconds,
        )
        self.retry_after = seconds


def _duration(seconds: int) -> str:
    if seconds < 90:
        return ngettext("%(count)d second", "%(count)d seconds", seconds) % {"count": seconds}
    minutes = math.ceil(seconds / 60)
    return ngettext("%(count)d minute", "%(count)d minutes", minutes) % {"count": minutes}


def lock_duration(lockouts: int) -> timedelta:
    return min(FIRST_LOCK * (2 ** max(0, lockouts - 1)), LONGEST_LOCK)


@dataclass(frozen=True)
class Attempt:
    tenant_id: int
    key: str
    bad_fingerprint: str
    counted: bool


def begin(tenant: Tenant, key: str, password: str) -> Attempt:
    """Reserve one attempt for `key`, or raise AccountLocked."""
    now = timezone.now()
    print_ = fingerprint(password, "lockout")
    with transaction.atomic():
        row, _ = Lockout.objects.select_for_update().get_or_create(tenant=tenant, key=key)
        if row.locked_until and row.locked_until > now:
            raise AccountLocked(row.locked_until)
        if now - row.updated_at > OBSERVATION_WINDOW:
            row.failures = 0
            row.recent_bad = []
        counted = print_ not in row.recent_bad
        if counted:
            row.failures += 1
            if row.failures >= THRESHOLD:
                row.lockouts += 1
                row.locked_until = now + lock_duration(row.lockouts)
                # After a lockout the next failure locks again, for longer.
                row.failures = THRESHOLD - 1
        row.updated_at = now
        row.save()
    return Attempt(tenant.pk, key, print_, counted)


def succeeded(attempt: Attempt) -> None:
    Lockout.objects.filter(tenant_id=attempt.tenant_id, key=attempt.key).update(
        failures=0, locked_until=None, recent_bad=[], updated_at=timezone.now()
    )


def failed(attempt: Attempt) -> None:
    with transaction.atomic():
        row = Lockout.objects.select_for_update().get(tenant_id=attempt.tenant_id, key=attempt.key)
        if attempt.counted:
            row.recent_bad = [*row.recent_bad, attempt.bad_fingerprint][-REMEMBERED_BAD_PASSWORDS:]
            row.save(update_fields=["recent_bad"])
