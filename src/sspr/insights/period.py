"""The period a report covers: from a first instant (inclusive) to a last one (exclusive).

People type dates; programs may send instants. A bare date as `until` means the end of that day,
as "from 1 to 3 March" does when read aloud. Times without a zone are UTC, like the audit log.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

from django.utils import timezone

from sspr.errors import InvalidValue
from sspr.instants import parse_instant

DEFAULT_DAYS = 30
# A daily chart of more than a year is unreadable, and the cost of a report grows with its days.
MAX_DAYS = 366


@dataclass(frozen=True)
class Period:
    since: datetime
    before: datetime

    @property
    def days(self) -> list[date]:
        """Every UTC day the period touches, oldest first."""
        first = self.since.astimezone(UTC).date()
        last = (self.before - timedelta(microseconds=1)).astimezone(UTC).date()
        return [first + timedelta(days=n) for n in range((last - first).days + 1)]

    @property
    def until(self) -> datetime:
        """The last instant inside the period, for people: the end of the period's last day."""
        return self.before - timedelta(microseconds=1)


def _midnight(moment: datetime) -> datetime:
    return datetime.combine(moment.astimezone(UTC).date(), time(), tzinfo=UTC)


def parse_period(since: str = "", until: str = "", *, now: datetime | None = None) -> Period:
    """The period from text; by default the last 30 days, today included."""
    now = now or timezone.now()
    start = parse_instant(since, "since", end=False)
    before = parse_instant(until, "until", end=True)
    try:
        if before is None:
            before = max(now, start + timedelta(days=1)) if start is not None else now
        if start is None:
            start = _midnight(before - timedelta(microseconds=1)) - timedelta(days=DEFAULT_DAYS - 1)
    except OverflowError:
        raise InvalidValue(
            "The period reaches past the dates this service can count; choose nearer dates.",
            # The bound that was given is the one too near the edge.
            field="until" if start is None else "since",
        ) from None
    if start >= before:
        raise InvalidValue("'since' must be earlier than 'until'.", field="since")
    if before - start > timedelta(days=MAX_DAYS):
        raise InvalidValue(
            f"A report covers at most {MAX_DAYS} days; this period has "
            f"{(before - start).days} days. Choose a shorter one.",
            field="since",
        )
    return Period(start, before)
