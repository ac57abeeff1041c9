"""Exporting audit events as CSV or JSON lines, oldest first, a batch at a time.

The output is produced as text chunks, so that a download or a file of any size never holds
the whole trail in memory. Batches are read by id ranges rather than through one open cursor:
each read is independent of the last, whichever thread serves the next chunk.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sspr.audit.models import AuditEvent
from sspr.audit.query import AuditFilter, matching
from sspr.directory.models import Tenant

BATCH = 1000
COLUMNS = ("id", "occurred_at", *AuditEvent.RECORD_FIELDS, "details")
# A spreadsheet runs a cell that starts with one of these as a formula; user names and user
# agents come from whoever typed them (OWASP "CSV injection").
_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


@dataclass(frozen=True)
class Format:
    name: str
    content_type: str
    extension: str


FORMATS = {
    "csv": Format("csv", "text/csv; charset=utf-8", "csv"),
    "jsonl": Format("jsonl", "application/x-ndjson; charset=utf-8", "jsonl"),
}


def as_dict(event: AuditEvent, tenant: Tenant) -> dict[str, Any]:
    return {
        "id": event.pk,
        "tenant": tenant.slug,
        "occurred_at": event.occurred_at.astimezone(UTC).isoformat(),
        **event.record_fields(),
        "details": event.details,
    }


def batches(tenant: Tenant, flt: AuditFilter) -> Iterator[list[AuditEvent]]:
    events = matching(tenant, flt).order_by("id")
    after = 0
    while True:
        batch = list(events.filter(id__gt=after)[:BATCH])
        if not batch:
            return
        yield batch
        after = batch[-1].pk


def _cell(value: object) -> object:
    if isinstance(value, str) and value.startswith(_FORMULA_STARTS):
        return "'" + value
    return value


def csv_chunks(tenant: Tenant, flt: AuditFilter) -> Iterator[str]:
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(COLUMNS)
    yield buffer.getvalue()
    for batch in batches(tenant, flt):
        buffer.seek(0)
        buffer.truncate()
        for event in batch:
            row = as_dict(event, tenant)
            row["details"] = json.dumps(row["details"], sort_keys=True, ensure_ascii=False)
            writer.writerow([_cell(row[column]) for column in COLUMNS])
        yield buffer.getvalue()


def jsonl_chunks(tenant: Tenant, flt: AuditFilter) -> Iterator[str]:
    for batch in batches(tenant, flt):
        yield "".join(
            json.dumps(as_dict(event, tenant), ensure_ascii=False) + "\n" for event in batch
        )


def chunks(fmt: Format, tenant: Tenant, flt: AuditFilter) -> Iterator[str]:
    return csv_chunks(tenant, flt) if fmt.name == "csv" else jsonl_chunks(tenant, flt)


def filename(fmt: Format, tenant: Tenant, now: datetime) -> str:
    return f"audit-{tenant.slug}-{now.astimezone(UTC):%Y%m%dT%H%M%SZ}.{fmt.extension}"
