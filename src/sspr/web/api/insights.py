"""Usage & insights and recommendations for administrators.

Any administrator may read them; only Global Administrators and Authentication Policy
Administrators may apply a recommendation's fix, which changes the policy like a PATCH would.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any, Literal

from django.http import HttpRequest
from ninja import Field, Query, Router, Schema

from sspr.directory.roles import can_manage_policy
from sspr.errors import Forbidden
from sspr.insights.activity import Outcomes
from sspr.insights.period import MAX_DAYS, parse_period
from sspr.insights.recommendations import (
    Recommendation,
    fix,
    recommendations,
)
from sspr.insights.report import Insights, insights
from sspr.web.api.auth import bearer
from sspr.web.api.schemas import Error, Text
from sspr.web.api.sspr_policy import ImpactOut
from sspr.web.api.users import acting_admin

router = Router(tags=["insights"], auth=bearer)

_TIME = (
    "ISO 8601 date or date and time (UTC unless a zone is given), such as 2026-03-01 or "
    "2026-03-01T08:30:00Z"
)


class InsightsIn(Schema):
    since: Text = Field(
        default="",
        max_length=64,
        description=f"From this instant on; {_TIME}. Default: 30 days ago (29 days before "
        "today's start).",
    )
    until: Text = Field(
        default="",
        max_length=64,
        description=f"Up to this instant, inclusive; a date alone means the end of that day; "
        f"{_TIME}. Default: now. At most {MAX_DAYS} days after 'since'.",
    )


class PeriodOut(Schema):
    since: datetime = Field(description="First instant counted.")
    before: datetime = Field(description="First instant no longer counted.")
    days: int


class MethodCoverageOut(Schema):
    method: str
    label: str
    enabled: bool = Field(description="Whether the policy offers the method now.")
    users: int = Field(description="Users in scope who registered the method.")


class RegistrationOut(Schema):
    enabled_for: str
    groups: list[str]
    methods_required: int
    users: int = Field(description="Enabled accounts of the organisation.")
    users_in_scope: int = Field(description="Enabled accounts self-service reset is on for.")
    registered: int = Field(description="Users in scope with enough usable methods to reset.")
    partially_registered: int = Field(description="Some usable methods, not enough.")
    not_registered: int = Field(description="No usable method.")
    registered_percent: int


class MethodResultsOut(Schema):
    method: str
    label: str
    success: int
    failure: int


class OutcomesOut(Schema):
    success: int
    failure: int
    total: int
    by_method: list[MethodResultsOut]


class DayOut(Schema):
    date: date
    resets_succeeded: int
    resets_failed: int
    unlocks_succeeded: int
    unlocks_failed: int
    changes_succeeded: int
    changes_failed: int
    blocked: int


class FailureReasonOut(Schema):
    activity: str
    reason: str
    count: int


class BlockedNameOut(Schema):
    username: str
    blocked_until: datetime


class BlockedNowOut(Schema):
    count: int = Field(description="User names blocked from self-service reset now.")
    users: list[BlockedNameOut] = Field(description="Up to 20 of them, longest block first.")
    locked_out_of_sign_in: int = Field(description="Names locked out of sign-in now.")


class InsightsOut(Schema):
    tenant: str
    generated_at: datetime
    period: PeriodOut
    registration: RegistrationOut
    registration_by_method: list[MethodCoverageOut]
    resets: OutcomesOut = Field(
        description="Succeeded: completed resets, by the methods passed. Failed: failed "
        "steps (wrong code or answer, refused password, a name that cannot reset), by method."
    )
    unlocks: OutcomesOut
    changes: OutcomesOut
    blocked_events: int = Field(description="Attempts refused for being too many.")
    daily: list[DayOut]
    failure_reasons: list[FailureReasonOut] = Field(description="The 10 most frequent.")
    blocked_now: BlockedNowOut


class RecommendationOut(Schema):
    id: str
    title: str
    why: str
    status: Literal["met", "not_met", "not_applicable"]
    state: str = Field(description="Where the organisation stands, with the numbers.")
    fixable: bool = Field(description="Whether POST .../fix applies it in one click now.")
    fix: str = Field(description="What the one-click fix does, in words; empty when none.")
    fix_changes: dict[str, Any] = Field(description="The policy settings the fix sets.")
    not_fixable_because: str


class RecommendationsOut(Schema):
    met: int
    applicable: int
    items: list[RecommendationOut]


class FixOut(Schema):
    recommendation: RecommendationOut
    changes: dict[str, Any]
    impact: ImpactOut | None = Field(
        description="Who could reset before and after, for changes to the SSPR policy."
    )


def _outcomes(outcomes: Outcomes) -> dict[str, Any]:
    return {
        "success": outcomes.success,
        "failure": outcomes.failure,
        "total": outcomes.total,
        "by_method": [vars(m) for m in outcomes.methods()],
    }


def as_json(report: Insights) -> dict[str, Any]:
    cov = report.coverage
    act = report.activity
    return {
        "tenant": report.tenant.slug,
        "generated_at": report.generated_at,
        "period": {
            "since": report.period.since,
            "before": report.period.before,
            "days": len(report.period.days),
        },
        "registration": {
            "enabled_for": cov.enabled_for,
            "groups": list(cov.groups),
            "methods_required": cov.methods_required,
            "users": cov.users,
            "users_in_scope": cov.in_scope,
            "registered": cov.registered,
            "partially_registered": cov.partially_registered,
            "not_registered": cov.not_registered,
            "registered_percent": cov.registered_percent,
        },
        "registration_by_method": [vars(m) for m in cov.by_method],
        "resets": _outcomes(act.outcomes["reset"]),
        "unlocks": _outcomes(act.outcomes["unlock"]),
        "changes": _outcomes(act.outcomes["change"]),
        "blocked_events": act.blocked_events,
        "daily": [{**vars(d), "date": d.day} for d in act.days],
        "failure_reasons": [vars(r) for r in act.failure_reasons],
        "blocked_now": {
            "count": act.blocked.count,
            "users": [vars(b) for b in act.blocked.names],
            "locked_out_of_sign_in": act.blocked.locked_out,
        },
    }


def recommendation_json(item: Recommendation) -> dict[str, Any]:
    return {
        "id": item.id,
        "title": item.title,
        "why": item.why,
        "status": item.status,
        "state": item.state,
        "fixable": item.fixable,
        "fix": item.fix_label if item.fixable else "",
        "fix_changes": dict(item.fix_changes),
        "not_fixable_because": item.not_fixable_because,
    }


@router.get(
    "/tenants/{tenant}/insights",
    response={200: InsightsOut, 401: Error, 403: Error, 404: Error, 422: Error},
)
def read_insights(request: HttpRequest, tenant: Text, period: Query[InsightsIn]) -> dict[str, Any]:
    """Registration coverage now, and resets, unlocks and changes over the period, by method,
    result and day (any administrator)."""
    scope, _ = acting_admin(request, tenant)
    return as_json(insights(scope, parse_period(period.since, period.until)))


@router.get(
    "/tenants/{tenant}/recommendations",
    response={200: RecommendationsOut, 401: Error, 403: Error, 404: Error},
)
def list_recommendations(request: HttpRequest, tenant: Text) -> dict[str, Any]:
    """What to set next, each with its current state (any administrator)."""
    scope, _ = acting_admin(request, tenant)
    items = recommendations(scope)
    return {
        "met": sum(1 for r in items if r.met),
        "applicable": sum(1 for r in items if r.status != "not_applicable"),
        "items": [recommendation_json(r) for r in items],
    }


@router.post(
    "/tenants/{tenant}/recommendations/{recommendation}/fix",
    response={200: FixOut, 401: Error, 403: Error, 404: Error, 409: Error},
)
def fix_recommendation(request: HttpRequest, tenant: Text, recommendation: Text) -> dict[str, Any]:
    """Apply the one-click fix: the policy change is checked and audited like any other.

    409 when the recommendation is already met or has no one-click fix now. Only Global
    Administrators and Authentication Policy Administrators may do this.
    """
    scope, actor = acting_admin(request, tenant)
    if not can_manage_policy(actor.roles):
        raise Forbidden(
            "Only Global Administrators and Authentication Policy Administrators may apply a "
            "recommendation's fix."
        )
    done = fix(scope, recommendation, actor)
    return {
        "recommendation": recommendation_json(done.recommendation),
        "changes": dict(done.changes),
        "impact": done.impact,
    }
