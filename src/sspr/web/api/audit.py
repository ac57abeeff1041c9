"""The audit log for administrators: filter, page and export the tenant's events.

Any administrator may read it; the filters are those of sspr.audit.query.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from django.http import HttpRequest, StreamingHttpResponse
from django.utils import timezone
from ninja import Field, Query, Router, Schema

from sspr.audit import export, query
from sspr.web.api.auth import bearer
from sspr.web.api.schemas import Error, Text
from sspr.web.api.users import acting_admin
from sspr.web.downloads import streaming_download

router = Router(tags=["audit"], auth=bearer)

_TIME = (
    "ISO 8601 date or date and time (UTC unless a zone is given), such as 2026-03-01 or "
    "2026-03-01T08:30:00Z"
)


class AuditFilterIn(Schema):
    since: Text = Field(default="", max_length=64, description=f"From this instant on; {_TIME}")
    until: Text = Field(
        default="",
        max_length=64,
        description=f"Up to this instant, inclusive; a date alone means the end of that day; "
        f"{_TIME}",
    )
    activity: Text = Field(
        default="",
        max_length=256,
        description="Exact activity name, such as 'Reset password (self-service)'",
    )
    user: Text = Field(
        default="", max_length=256, description="Part of the actor's or the target's name"
    )
    actor: Text = Field(default="", max_length=256, description="Who acted (any case)")
    result: Text = Field(default="", max_length=16, description="success or failure")

    def parsed(self) -> query.AuditFilter:
        return query.parse_filter(
            since=self.since,
            until=self.until,
            activity=self.activity,
            user=self.user,
            actor=self.actor,
            result=self.result,
        )


class AuditPageIn(AuditFilterIn):
    limit: int = Field(default=50, ge=1, le=500)
    offset: int = Field(default=0, ge=0, le=10_000_000)


class AuditExportIn(AuditFilterIn):
    format: Literal["csv", "jsonl"] = Field(default="csv", description="csv or jsonl")


class AuditEventOut(Schema):
    id: int
    occurred_at: datetime
    service: str
    category: str
    activity: str
    result: str
    actor: str
    target: str
    reason: str
    ip: str
    user_agent: str
    correlation_id: str
    details: dict[str, Any]


class AuditEventsOut(Schema):
    events: list[AuditEventOut]
    total: int = Field(description="How many events match the filter, across all pages")


@router.get(
    "/tenants/{tenant}/audit-events",
    response={200: AuditEventsOut, 401: Error, 403: Error, 404: Error, 422: Error},
)
def list_audit_events(
    request: HttpRequest, tenant: Text, filters: Query[AuditPageIn]
) -> dict[str, Any]:
    """The organisation's audit events, newest first (any administrator)."""
    scope, _ = acting_admin(request, tenant)
    found = query.page(scope, filters.parsed(), limit=filters.limit, offset=filters.offset)
    return {"events": found.events, "total": found.total}


@router.get(
    "/tenants/{tenant}/audit-events/export",
    response={401: Error, 403: Error, 404: Error, 422: Error},
    openapi_extra={
        "responses": {
            "200": {
                "description": "The matching events, oldest first, as a download",
                "content": {
                    "text/csv": {"schema": {"type": "string"}},
                    "application/x-ndjson": {"schema": {"type": "string"}},
                },
            }
        }
    },
)
def export_audit_events(
    request: HttpRequest, tenant: Text, filters: Query[AuditExportIn]
) -> StreamingHttpResponse:
    """Every matching event as CSV or JSON lines, streamed (any administrator)."""
    scope, _ = acting_admin(request, tenant)
    flt = filters.parsed()
    fmt = export.FORMATS[filters.format]
    return streaming_download(
        export.chunks(fmt, scope, flt),
        fmt.content_type,
        export.filename(fmt, scope, timezone.now()),
    )
