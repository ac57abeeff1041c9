"""Throttles as the flows meet them: a block the user is told about, audited once."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime

from django.db import transaction
from django.utils.dateformat import format as format_date
from django.utils.translation import gettext as _

from sspr.audit.events import Activity, failure
from sspr.directory.models import Tenant
from sspr.errors import DomainError
from sspr.policy.sspr_policy import get_policy
from sspr.throttling.counters import Blocked, take
from sspr.throttling.limits import Limit


class ResetBlocked(DomainError):
    status = 429
    code = "sspr_blocked"

    def __init__(self, until: datetime, helpdesk: str) -> None:
        when = {
            "time": format_date(until, "H:i"),
            # Translators: a date in a sentence, in the format of Django's `date` filter.
            "date": format_date(until, _("j F Y")),
            "helpdesk": helpdesk,
        }
        message = (
            _(
                "You have made too many attempts. Try again after %(time)s UTC on %(date)s or "
                "contact your helpdesk: %(helpdesk)s."
            )
            if helpdesk
            else _(
                "You have made too many attempts. Try again after %(time)s UTC on %(date)s or "
                "contact your helpdesk."
            )
        )
        super().__init__(
            message % when,
            blocked_until=until.isoformat(),
            helpdesk=helpdesk,
            retry_after=max(1, int((until - datetime.now(until.tzinfo)).total_seconds())),
        )


def helpdesk_of(tenant: Tenant) -> str:
    return get_policy(tenant).helpdesk_url


@contextmanager
def blocking(tenant: Tenant, username: str) -> Iterator[None]:
    """Turn a throttle's Blocked into the user's message and the audit event."""
    try:
        yield
    except Blocked as blocked:
        with transaction.atomic():
            failure(
                tenant,
                Activity.RESET_BLOCKED,
                f"Too many attempts ({blocked.limit.name})",
                target=username,
                blocked_until=blocked.until.isoformat(),
            )
        raise ResetBlocked(blocked.until, helpdesk_of(tenant)) from None


def take_all(tenant: Tenant, username: str, limits: list[tuple[Limit, str]]) -> None:
    with blocking(tenant, username):
        for limit, key in limits:
            take(limit, tenant.pk, key)
