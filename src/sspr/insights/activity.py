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

Every query groups in the database; rows come back per day, method or reason, never per user.
"""

from __future__ import annotations

import json
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

from django.db.models import Count, Max, Q, QuerySet
from django.db.models.fields.json import KeyTextTransform
from django.db.models.functions import TruncDate
from django.utils import timezone

from sspr.audit.events import Activity
from sspr.audit.models import AuditEvent
from sspr.directory.models import Lockout, Tenant
from sspr.flows.eligibility import REASON_TEXT
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


def _events(tenant: Tenant, period: Period) -> QuerySet[AuditEvent]:
    return AuditEvent.objects.filter(
        tenant=tenant, occurred_at__gte=period.since, occurred_at__lt=period.before
    ).order_by()


def _outcome_events(tenant: Tenant, period: Period) -> QuerySet[AuditEvent]:
    # A progress step that went well is not an outcome; one that failed is a failed reset.
    return _events(tenant, period).filter(
        Q(activity__in=[Activity.RESET_PASSWORD, Activity.UNLOCK, Activity.CHANGE_PASSWORD])
        | Q(activity=Activity.RESET_PROGRESS, result=FAILURE)
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


def _outcomes(tenant: Tenant, period: Period) -> dict[str, Outcomes]:
    rows = (
        _outcome_events(tenant, period)
        .annotate(
            gates=KeyTextTransform("methods", "details"),
            gate=KeyTextTransform("method", "details"),
        )
        .values("activity", "result", "gates", "gate")
        .annotate(n=Count("pk"))
    )
    outcomes = {kind: Outcomes() for kind in KINDS}
    for row in rows:
        methods = _json_list(row["gates"])
        if not methods and isinstance(row["gate"], str) and row["gate"]:
            methods = [row["gate"][:32]]
        outcomes[_KIND_OF[row["activity"]]].add(row["result"], row["n"], methods)
    return outcomes


def _days(tenant: Tenant, period: Period) -> tuple[Day, ...]:
    counted: dict[date, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    rows = (
        _outcome_events(tenant, period)
        .annotate(day=TruncDate("occurred_at"))
        .values("day", "activity", "result")
        .annotate(n=Count("pk"))
    )
    names = {"reset": "resets", "unlock": "unlocks", "change": "changes"}
    for row in rows:
        outcome = "succeeded" if row["result"] == SUCCESS else "failed"
        counted[row["day"]][f"{names[_KIND_OF[row['activity']]]}_{outcome}"] += row["n"]
    blocked = (
        _events(tenant, period)
        .filter(activity=Activity.RESET_BLOCKED)
        .annotate(day=TruncDate("occurred_at"))
        .values_list("day")
        .annotate(n=Count("pk"))
    )
    for day, n in blocked:
        counted[day]["blocked"] += n
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


def _failure_reasons(tenant: Tenant, period: Period) -> tuple[FailureReason, ...]:
    rows = (
        _events(tenant, period)
        .filter(activity__in=_FAILING, result=FAILURE)
        .annotate(why_not=KeyTextTransform("cannot_reset", "details"))
        .values("activity", "reason", "why_not")
        .annotate(n=Count("pk"))
        .order_by("-n", "activity", "reason")[:TOP_REASONS]
    )
    return tuple(
        FailureReason(
            activity=row["activity"],
            reason=_reason_text(row["activity"], row["reason"], row["why_not"]),
            count=row["n"],
        )
        for row in rows
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
    outcomes = _outcomes(tenant, period)
    days = _days(tenant, period)
    return ActivityReport(
        outcomes=outcomes,
        blocked_events=sum(d.blocked for d in days),
        days=days,
        failure_reasons=_failure_reasons(tenant, period),
        blocked=_blocked(tenant, now or timezone.now()),
    )
