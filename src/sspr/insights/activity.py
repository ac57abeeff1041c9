"""What users did over a period, read from the audit trail: resets, unlocks and changes by
method and by result, day by day, the most frequent reasons for failure, and who is blocked now.

The audit trail is the record the administrator can check these numbers against: a count here
is a count of events there (filter the audit log by the same activity, result and dates).

- A reset succeeded: "Reset password (self-service)", success; its `methods` are the gates passed.
- A reset failed: a failure of that activity or of "Self-service password reset flow activity
  progress" (a wrong code or answer, a refused password, a name that cannot reset); its `method`
  is the gate concerned, when there was one.
- Unlocks and changes: their own activity, success or failure.
- Blocked: "Blocked from self-service password reset" (too many attempts).

Whole days are read from the counts the database keeps as events are written (sspr.insights.
counts), the parts of days at either end of the period from the audit trail; rows come back per
day, method or reason, never per event.
"""

from __future__ import annotations

import json
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from django.db.models import Count, Max, Q
from django.db.models.fields.json import KeyTextTransform
from django.db.models.functions import TruncDate
from django.utils import timezone

from sspr.audit.events import Activity
from sspr.audit.models import AuditEvent
from sspr.directory.models import Lockout, Tenant
from sspr.flows.eligibility import REASON_TEXT
from sspr.insights.counts import ACTIVITY_KEYS, activity_counts
from sspr.insights.coverage import method_label
from sspr.insights.period import Period
from sspr.throttling.limits import DAY

SUCCESS = AuditEvent.Result.SUCCESS
FAILURE = AuditEvent.Result.FAILURE
KINDS = ("reset", "unlock", "change")
_KIND_OF = {
    Activity.RESET_PASSWORD: "reset",
    Activity.RESET_PROGRESS: "reset",
    Activity.UNLOCK: "unlock",
    Activity.CHANGE_PASSWORD: "change",
}
# The failures whose reasons are worth ranking: what stops people from helping themselves.
_FAILING = (*_KIND_OF, Activity.RESET_BLOCKED)
TOP_REASONS = 10
BLOCKED_SHOWN = 20
# The longest block a throttle imposes (sspr.throttling.limits): older blocks have ended.
LONGEST_BLOCK = DAY
# Reasons as sspr.flows.reset records them.
_STARTED = "User started the password reset flow"
_ASKED = "User asked to verify with "
_WHY_NOT = {**REASON_TEXT, "unknown_user": "No account has this user name."}


@dataclass
class MethodResults:
    method: str
    label: str
    success: int = 0
    failure: int = 0


@dataclass
class Outcomes:
    """Successes and failures of one kind of activity, in all and by method."""

    success: int = 0
    failure: int = 0
    by_method: dict[str, MethodResults] = field(default_factory=dict)

    @property
    def total(self) -> int:
        return self.success + self.failure

    def add(self, result: str, count: int, methods: list[str]) -> None:
        ok = result == SUCCESS
        if ok:
            self.success += count
        else:
            self.failure += count
        for method in methods:
            row = self.by_method.setdefault(method, MethodResults(method, method_label(method)))
            if ok:
                row.success += count
            else:
                row.failure += count

    def methods(self) -> list[MethodResults]:
        return sorted(self.by_method.values(), key=lambda r: (-(r.success + r.failure), r.method))


@dataclass(frozen=True)
class Day:
    day: date
    resets_succeeded: int = 0
    resets_failed: int = 0
    unlocks_succeeded: int = 0
    unlocks_failed: int = 0
    changes_succeeded: int = 0
    changes_failed: int = 0
    blocked: int = 0


@dataclass(frozen=True)
class FailureReason:
    activity: str
    reason: str
    count: int


@dataclass(frozen=True)
class BlockedName:
    username: str
    blocked_until: datetime


@dataclass(frozen=True)
class Blocked:
    count: int  # names blocked now
    names: tuple[BlockedName, ...]  # the ones blocked longest, at most BLOCKED_SHOWN
    locked_out: int  # names locked out of sign-in now (smart lockout)


@dataclass(frozen=True)
class ActivityReport:
    outcomes: dict[str, Outcomes]
    blocked_events: int
    days: tuple[Day, ...]
    failure_reasons: tuple[FailureReason, ...]
    blocked: Blocked


def _counted(since: datetime, before: datetime) -> Q:
    return Q(occurred_at__gte=since, occurred_at__lt=before)


def _rows(tenant: Tenant, period: Period) -> list[dict[str, Any]]:
    """The period's counted events, by UTC day and every key below: whole days from the counts
    the database keeps (sspr.insights.counts), the parts of days at either end from the audit
    trail itself."""
    first = _midnight_after(period.since)
    last = datetime.combine(period.before.astimezone(UTC).date(), time(), tzinfo=UTC)
    rows: list[dict[str, Any]] = []
    if first < last:
        rows += activity_counts(tenant, first.date(), last.date())
        ends = _counted(period.since, first) | _counted(last, period.before)
    else:
        ends = _counted(period.since, period.before)
    raw = (
        AuditEvent.objects.filter(ends, tenant=tenant, activity__in=_FAILING)
        .exclude(activity=Activity.RESET_PROGRESS, result=SUCCESS)
        .order_by()
        .annotate(
            day=TruncDate("occurred_at"),
            gates=KeyTextTransform("methods", "details"),
            gate=KeyTextTransform("method", "details"),
            why_not=KeyTextTransform("cannot_reset", "details"),
        )
        .values(*ACTIVITY_KEYS)
        .annotate(n=Count("pk"))
    )
    return rows + list(raw)


def _midnight_after(moment: datetime) -> datetime:
    """The first UTC midnight at or after `moment`."""
    day = datetime.combine(moment.astimezone(UTC).date(), time(), tzinfo=UTC)
    return day if day == moment else day + timedelta(days=1)


def _is_outcome(row: dict[str, Any]) -> bool:
    # A progress step that went well is not an outcome; one that failed is a failed reset.
    return row["activity"] != Activity.RESET_BLOCKED and (
        row["activity"] != Activity.RESET_PROGRESS or row["result"] == FAILURE
    )


def _json_list(text: Any) -> list[str]:
    """A JSON list of method names as the database hands it back, or nothing."""
    if isinstance(text, list):
        items: Any = text
    elif isinstance(text, str) and text.startswith("["):
        try:
            items = json.loads(text)
        except ValueError:
            return []
    else:
        return []
    return [str(i)[:32] for i in items if isinstance(i, str)] if isinstance(items, list) else []


def _outcomes(rows: list[dict[str, Any]]) -> dict[str, Outcomes]:
    outcomes = {kind: Outcomes() for kind in KINDS}
    for row in filter(_is_outcome, rows):
        methods = _json_list(row["gates"])
        if not methods and isinstance(row["gate"], str) and row["gate"]:
            methods = [row["gate"][:32]]
        outcomes[_KIND_OF[row["activity"]]].add(row["result"], row["n"], methods)
    return outcomes


def _days(rows: list[dict[str, Any]], period: Period) -> tuple[Day, ...]:
    counted: dict[date, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    names = {"reset": "resets", "unlock": "unlocks", "change": "changes"}
    for row in rows:
        if row["activity"] == Activity.RESET_BLOCKED:
            counted[row["day"]]["blocked"] += row["n"]
        elif _is_outcome(row):
            outcome = "succeeded" if row["result"] == SUCCESS else "failed"
            counted[row["day"]][f"{names[_KIND_OF[row['activity']]]}_{outcome}"] += row["n"]
    return tuple(Day(day, **counted.get(day, {})) for day in period.days)


def _reason_text(activity: str, reason: str, why_not: Any) -> str:
    """The recorded reason, said plainly where the flow records a step that only fails for a
    name that cannot reset (a decoy flow: the person is shown the same pages, nothing is sent)."""
    if activity == Activity.RESET_PROGRESS and reason == _STARTED:
        codes = _json_list(why_not)
        if codes:
            return "Could not start a reset: " + " ".join(
                _WHY_NOT.get(c, c.replace("_", " ")) for c in codes
            )
    if activity == Activity.RESET_PROGRESS and reason.startswith(_ASKED):
        return f"{reason} (a name that cannot reset: nothing was sent)"
    return reason or "No reason recorded"


def _failure_reasons(rows: list[dict[str, Any]]) -> tuple[FailureReason, ...]:
    counted: dict[tuple[str, str, Any], int] = defaultdict(int)
    for row in rows:
        if row["result"] == FAILURE:
            counted[row["activity"], row["reason"], row["why_not"]] += row["n"]
    ranked = sorted(
        counted.items(), key=lambda item: (-item[1], item[0][0], item[0][1], str(item[0][2]))
    )
    return tuple(
        FailureReason(activity=activity, reason=_reason_text(activity, reason, why_not), count=n)
        for (activity, reason, why_not), n in ranked[:TOP_REASONS]
        if n > 0
    )


def _blocked(tenant: Tenant, now: datetime) -> Blocked:
    """Names blocked now, as the blocks were recorded: each block event names its end."""
    # ISO 8601 instants in UTC, as the flows write them, compare correctly as text.
    now_text = now.astimezone(UTC).isoformat()
    names = (
        AuditEvent.objects.filter(
            tenant=tenant,
            activity=Activity.RESET_BLOCKED,
            occurred_at__gte=now - LONGEST_BLOCK - timedelta(minutes=5),
        )
        .order_by()
        .annotate(until_text=KeyTextTransform("blocked_until", "details"))
        .values("target")
        .annotate(until=Max("until_text"))
        .filter(until__gt=now_text)
    )
    shown = []
    for row in names.order_by("-until", "target")[:BLOCKED_SHOWN]:
        try:
            until = datetime.fromisoformat(str(row["until"]))
        except ValueError:
            continue
        shown.append(BlockedName(row["target"], until))
    return Blocked(
        count=names.count(),
        names=tuple(shown),
        locked_out=Lockout.objects.filter(tenant=tenant, locked_until__gt=now).count(),
    )


def activity(tenant: Tenant, period: Period, *, now: datetime | None = None) -> ActivityReport:
    rows = _rows(tenant, period)
    days = _days(rows, period)
    return ActivityReport(
        outcomes=_outcomes(rows),
        blocked_events=sum(d.blocked for d in days),
        days=days,
        failure_reasons=_failure_reasons(rows),
        blocked=_blocked(tenant, now or timezone.now()),
    )
