"""The "Usage & insights" and "Recommendations" admin pages.

Every administrator may look at both; only policy managers (Global and Authentication Policy
Administrators) see and may press a recommendation's Fix button. Charts are SVG drawn here, so
the pages need no script; each is followed by a table of the same numbers.
"""

from __future__ import annotations

import math
from typing import Any

from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_http_methods

from sspr.directory.models import Credential
from sspr.directory.roles import can_manage_policy
from sspr.errors import DomainError, InvalidValue
from sspr.insights.period import parse_period
from sspr.insights.recommendations import NOT_APPLICABLE, fix, recommendations
from sspr.insights.report import Insights, insights
from sspr.web.admin_pages import admin_page
from sspr.web.charts import BLUE, ORANGE, Series, horizontal_bars, stacked_columns

NOTICE = "sspr_admin_recommendations_notice"
# Day labels under a daily chart: about this many, whatever the period's length.
DAY_LABELS = 8
PAGES = {
    "password-reset": "admin-policy",
    "password-protection": "admin-protection",
    "agents": "admin-agents",
}
STATUS_TEXT = {"met": "Done", "not_met": "To do", NOT_APPLICABLE: "Not applicable"}


def _charts(report: Insights) -> dict[str, Any]:
    cov = report.coverage
    days = report.activity.days
    coverage_chart = horizontal_bars(
        chart_id="chart-coverage",
        title="Registration by method",
        description=(
            f"Users in scope who registered each method, of {cov.in_scope} in scope: "
            + "; ".join(f"{m.label} {m.users}" for m in cov.by_method)
            + "."
        ),
        rows=[(m.label, m.users) for m in cov.by_method],
        unit="users",
    )
    succeeded = [d.resets_succeeded for d in days]
    failed = [d.resets_failed for d in days]
    resets_chart = stacked_columns(
        chart_id="chart-resets",
        title="Resets by result, per day (UTC)",
        description=(
            f"{sum(succeeded)} resets succeeded and {sum(failed)} reset steps failed from "
            f"{days[0].day:%d %B %Y} to {days[-1].day:%d %B %Y}; the table below gives each day."
        ),
        labels=[f"{d.day.day} {d.day:%b}" for d in days],
        series=[Series("Succeeded", succeeded, BLUE), Series("Failed", failed, ORANGE)],
        label_every=max(1, math.ceil(len(days) / DAY_LABELS)),
    )
    return {"coverage_chart": coverage_chart, "resets_chart": resets_chart}


@admin_page  # first: to anyone else every method is refused alike
@require_http_methods(["GET", "HEAD"])
def insights_page(request: HttpRequest, credential: Credential) -> HttpResponse:
    user = credential.user
    tenant = user.tenant
    since = request.GET.get("since", "").strip()[:65]
    until = request.GET.get("until", "").strip()[:65]
    context: dict[str, Any] = {
        "tenant": tenant,
        "user": user,
        "section": "insights",
        "since": since,
        "until": until,
        "error": "",
        "report": None,
    }
    try:
        period = parse_period(since, until)
    except InvalidValue as refused:
        context["error"] = refused.message
        return render(request, "sspr/admin/insights.html", context, status=400)
    report = insights(tenant, period)
    act = report.activity
    context.update(
        report=report,
        since=since or f"{period.since:%Y-%m-%d}",
        until=until or f"{period.until:%Y-%m-%d}",
        outcomes=[
            ("Password resets", act.outcomes["reset"]),
            ("Account unlocks", act.outcomes["unlock"]),
            ("Password changes", act.outcomes["change"]),
        ],
        **_charts(report),
    )
    return render(request, "sspr/admin/insights.html", context)


@admin_page  # first: to anyone else every method is refused alike
@require_http_methods(["GET", "HEAD", "POST"])
def recommendations_page(request: HttpRequest, credential: Credential) -> HttpResponse:
    user = credential.user
    tenant = user.tenant
    can_manage = can_manage_policy(user.roles)
    context: dict[str, Any] = {
        "tenant": tenant,
        "user": user,
        "section": "recommendations",
        "can_manage": can_manage,
        "error": "",
        "notice": request.session.pop(NOTICE, ""),
    }
    status = 200
    if request.method == "POST":
        if not can_manage:
            context["error"] = (
                "Only Global Administrators and Authentication Policy Administrators can apply "
                "a recommendation's fix."
            )
            status = 403
        else:
            try:
                done = fix(tenant, request.POST.get("recommendation", "")[:64], user)
            except DomainError as refused:
                context["error"], status = refused.message, refused.status
            else:
                request.session[NOTICE] = (
                    f"Done: {done.recommendation.title}. {done.recommendation.state}"
                )
                return redirect(reverse("admin-recommendations", args=[tenant.slug]))
    items = recommendations(tenant)
    context.update(
        items=[
            {
                "item": item,
                "status_text": STATUS_TEXT[item.status],
                "page_url": reverse(PAGES[item.page], args=[tenant.slug]),
            }
            for item in items
        ],
        met=sum(1 for r in items if r.met),
        applicable=sum(1 for r in items if r.status != NOT_APPLICABLE),
    )
    return render(request, "sspr/admin/recommendations.html", context, status=status)
