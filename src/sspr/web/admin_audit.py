"""The "Audit log" admin page: filter the tenant's events, page through them, export them.

Every administrator may read the audit log. The API takes bearer tokens only, so the page has
an export address of its own, authenticated by the page's session.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_http_methods

from sspr.audit import export, query
from sspr.audit.events import Activity
from sspr.directory.models import Credential
from sspr.errors import InvalidValue
from sspr.web.admin_pages import admin_page
from sspr.web.downloads import streaming_download

PAGE_SIZE = 50
FILTERS = ("since", "until", "activity", "user", "result")
KNOWN_ACTIVITIES = [value for name, value in vars(Activity).items() if name.isupper()]


def _filters(request: HttpRequest) -> dict[str, str]:
    return {name: request.GET.get(name, "").strip()[: query.MAX_TEXT + 1] for name in FILTERS}


def _page_number(value: str) -> int:
    return int(value) if value.isdigit() and 0 < int(value) <= 1_000_000 else 1


def _link(name: str, tenant: str, params: dict[str, Any]) -> str:
    shown = {k: v for k, v in params.items() if v not in ("", None)}
    return reverse(name, args=[tenant]) + (f"?{urlencode(shown)}" if shown else "")


@admin_page  # first: to anyone else every method is refused alike
@require_http_methods(["GET", "HEAD"])
def audit_page(request: HttpRequest, credential: Credential) -> HttpResponse:
    user = credential.user
    tenant = user.tenant
    filters = _filters(request)
    context: dict[str, Any] = {
        "tenant": tenant,
        "user": user,
        "section": "audit",
        "filters": filters,
        "activities": query.activities(tenant, KNOWN_ACTIVITIES),
        "results": [("", "Any"), ("success", "Success"), ("failure", "Failure")],
        "error": "",
        "page": None,
    }
    try:
        flt = query.parse_filter(**filters)
    except InvalidValue as refused:
        context["error"] = refused.message
        return render(request, "sspr/admin/audit.html", context, status=400)
    number = _page_number(request.GET.get("page", ""))
    found = query.page(tenant, flt, limit=PAGE_SIZE, offset=(number - 1) * PAGE_SIZE)
    context.update(
        page=found,
        first=found.offset + 1,
        last=found.offset + len(found.events),
        previous_url=_link("admin-audit", tenant.slug, {**filters, "page": number - 1})
        if found.has_previous
        else "",
        next_url=_link("admin-audit", tenant.slug, {**filters, "page": number + 1})
        if found.has_next
        else "",
        exports=[
            (label, _link("admin-audit-export", tenant.slug, {**filters, "format": fmt}))
            for fmt, label in (("csv", "Export CSV"), ("jsonl", "Export JSON lines"))
        ],
    )
    return render(request, "sspr/admin/audit.html", context)


@admin_page  # first: to anyone else every method is refused alike
@require_http_methods(["GET", "HEAD"])
def audit_export(request: HttpRequest, credential: Credential) -> HttpResponse:
    tenant = credential.user.tenant
    fmt = export.FORMATS.get(request.GET.get("format", "csv"))
    try:
        if fmt is None:
            raise InvalidValue("Choose the format csv or jsonl.", field="format")
        flt = query.parse_filter(**_filters(request))
    except InvalidValue as refused:
        return render(
            request,
            "sspr/error.html",
            {"tenant": tenant, "message": refused.message, "code": refused.code},
            status=400,
        )
    return streaming_download(  # type: ignore[return-value]
        export.chunks(fmt, tenant, flt),
        fmt.content_type,
        export.filename(fmt, tenant, timezone.now()),
    )
