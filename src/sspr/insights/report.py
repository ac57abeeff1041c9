"""One report for a tenant and a period: coverage now, activity over the period."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from django.utils import timezone

from sspr.directory.models import Tenant
from sspr.insights.activity import ActivityReport, activity
from sspr.insights.coverage import Coverage, coverage
from sspr.insights.period import Period
from sspr.policy.sspr_policy import get_policy


@dataclass(frozen=True)
class Insights:
    tenant: Tenant
    period: Period
    generated_at: datetime
    coverage: Coverage
    activity: ActivityReport


def insights(tenant: Tenant, period: Period) -> Insights:
    now = timezone.now()
    return Insights(
        tenant=tenant,
        period=period,
        generated_at=now,
        coverage=coverage(tenant, get_policy(tenant)),
        activity=activity(tenant, period, now=now),
    )
