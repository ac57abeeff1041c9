"""Finding audit events: the filters that the admin page, the API and the command line share.

Times are ISO 8601 (see sspr.instants). `since` is inclusive; so is `until`, and a bare date as
`until` means the end of that day. A time without a zone is UTC.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from django.db.models import Q, QuerySet

from sspr.audit.models import AuditEvent
from sspr.directory.models import Tenant
from sspr.errors import InvalidValue
from sspr.instants import parse_instant

MAX_TEXT = 256
RESULTS = tuple(AuditEvent.Result.values)


@dataclass(frozen=True)
class AuditFilter:
    since: datetime | None = None
    # Exclusive: the first instant no longer wanted.
    before: datetime | None = None
    activity: str = ""
    user: str = ""
    actor: str = ""
    result: str = ""


def _text(value: str, name: str) -> str:
    text = value.strip()
    if len(text) > MAX_TEXT:
        raise InvalidValue(f"'{name}' is longer than {MAX_TEXT} characters.", field=name)
    return text


def parse_filter(
    *,
    since: str = "",
    until: str = "",
    activity: str = "",
    user: str = "",
    actor: str = "",
    result: str = "",
) -> AuditFilter:
    """The filter from text as people and programs type it; InvalidValue says what is wrong."""
    start = parse_instant(since, "since", end=False)
    # An end past the last instant that can be represented is no upper bound at all.
    before = parse_instant(until, "until", end=True, open_ended=True)
    if start is not None and before is not None and start >= before:
        raise InvalidValue("'since' must be earlier than 'until'.", field="since")
    outcome = _text(result, "result").lower()
    if outcome and outcome not in RESULTS:
        raise InvalidValue(
            f"'result' must be {' or '.join(RESULTS)}, not '{outcome[:40]}'.", field="result"
        )
    return AuditFilter(
        since=start,
        before=before,
        activity=_text(activity, "activity"),
        user=_text(user, "user"),
        actor=_text(actor, "actor"),
        result=outcome,
    )


def matching(tenant: Tenant, flt: AuditFilter) -> QuerySet[AuditEvent]:
    """The tenant's events that pass the filter, unordered."""
    events = AuditEvent.objects.filter(tenant=tenant)
    if flt.since is not None:
        events = events.filter(occurred_at__gte=flt.since)
    if flt.before is not None:
        events = events.filter(occurred_at__lt=flt.before)
    if flt.activity:
        events = events.filter(activity=flt.activity)
    if flt.user:
        events = events.filter(Q(actor__icontains=flt.user) | Q(target__icontains=flt.user))
    if flt.actor:
        events = events.filter(actor__iexact=flt.actor)
    if flt.result:
        events = events.filter(result=flt.result)
    return events


@dataclass(frozen=True)
class Page:
    events: list[AuditEvent]
    total: int
    limit: int
    offset: int

    @property
    def has_previous(self) -> bool:
        return self.offset > 0

    @property
    def has_next(self) -> bool:
        return self.offset + len(self.events) < self.total


def page(tenant: Tenant, flt: AuditFilter, *, limit: int = 50, offset: int = 0) -> Page:
    """Newest first."""
    events = matching(tenant, flt)
    rows = list(events.order_by("-occurred_at", "-id")[offset : offset + limit])
    return Page(rows, events.count(), limit, offset)


def activities(tenant: Tenant, known: list[str]) -> list[str]:
    """Activity names to choose from: the known ones and any the tenant's trail holds."""
    present = AuditEvent.objects.filter(tenant=tenant).values_list("activity", flat=True)
    return sorted(set(known) | set(present.distinct()))
