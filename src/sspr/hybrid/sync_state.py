"""Where the tenant's on-premises directory sync stands: what the agent runs next and from which
cursor, the sync an administrator asked for, and the statistics of the last full and delta syncs
(the admin pages show them). Each applied batch advances it (sync.apply_batch).
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

from django.db import transaction
from django.utils import timezone

from sspr.audit.events import record
from sspr.directory.models import Tenant, User
from sspr.errors import InvalidValue
from sspr.hybrid import wakeup
from sspr.hybrid.models import SyncState
from sspr_protocol.messages import SyncBatch

if TYPE_CHECKING:
    from sspr.hybrid.sync import SyncReport

SYNC_ACTIVITY = "Synchronise on-premises directory"
MAX_ERRORS_KEPT = 100  # per sync, in the stats the admin page shows


def record_progress(
    state: SyncState,
    batch: SyncBatch,
    report: SyncReport,
    started: datetime,
    users: int,
    groups: int,
) -> None:
    now = timezone.now()
    key = "last_full" if batch.mode == "full" else "last_delta"
    stats: dict[str, Any] = dict(getattr(state, key))
    new_sync = stats.get("sync_id") != batch.sync_id
    if new_sync:
        stats = {
            "sync_id": batch.sync_id,
            "started_at": started.isoformat(),
            "finished_at": None,
            "batches": 0,
            "users": 0,
            "groups": 0,
            "created": 0,
            "updated": 0,
            "deleted": 0,
            "unchanged": 0,
            "errors": 0,
            "error_list": [],
            "rate": 0.0,
        }
    stats["batches"] += 1
    stats["users"] += users
    stats["groups"] += groups
    for name in ("created", "updated", "deleted", "unchanged"):
        stats[name] += getattr(report, name)
    stats["errors"] += len(report.errors)
    stats["error_list"] = (stats["error_list"] + report.errors)[:MAX_ERRORS_KEPT]
    elapsed = (now - datetime.fromisoformat(stats["started_at"])).total_seconds()
    stats["rate"] = round(stats["users"] / max(elapsed, 0.001), 1)
    if batch.final or batch.mode == "delta":
        stats["finished_at"] = now.isoformat()
    setattr(state, key, stats)
    if new_sync and state.requested != "none":
        asked = state.requested_at or now
        if started >= asked and (batch.mode == "full" or state.requested == "delta"):
            state.requested, state.requested_at = "none", None
    state.cursor = batch.cursor
    state.sync_id = batch.sync_id
    state.mode = batch.mode
    if batch.mode == "full" and batch.final:
        state.full_completed = True
    state.updated_at = now
    state.save()
    # One audit line per full sync, and per delta batch that changed something.
    counts = stats if batch.mode == "full" else {**report.as_dict(), "errors": len(report.errors)}
    if (
        batch.final
        if batch.mode == "full"
        else report.created or report.updated or report.deleted or report.errors
    ):
        record(
            state.tenant,
            SYNC_ACTIVITY,
            actor="sspr-agent",
            sync_id=batch.sync_id,
            mode=batch.mode,
            **{name: counts[name] for name in ("created", "updated", "deleted", "errors")},
        )


def sync_state(tenant: Tenant) -> dict[str, str]:
    """Where the agent should go on: `{"mode", "cursor", "sync_id"}`.

    A full sync when none has ever finished or an administrator asked for one (resuming an
    unfinished full sync under its own sync_id), a delta from the cursor otherwise.
    """
    state = SyncState.objects.filter(tenant=tenant).first()
    if state is None:
        return {"mode": "full", "cursor": "", "sync_id": ""}
    full_running = (
        state.mode == "full"
        and state.last_full.get("sync_id") == state.sync_id
        and not state.last_full.get("finished_at")
    )
    if full_running:
        return {"mode": "full", "cursor": state.cursor, "sync_id": state.sync_id}
    if not state.full_completed or state.requested == "full":
        return {"mode": "full", "cursor": "", "sync_id": ""}
    return {"mode": "delta", "cursor": state.cursor, "sync_id": ""}


def requested(tenant: Tenant) -> dict[str, str]:
    """The sync an administrator asked for and no sync has answered yet.

    `{"sync": "none|delta|full", "sync_request": ID}`: the agent acts once per ID. The request
    stays pending until a batch of a sync started after it arrives, and an agent asked again in
    that time must not run a second sync.
    """
    state = SyncState.objects.filter(tenant=tenant).first()
    if state is None or state.requested == "none" or state.requested_at is None:
        return {"sync": "none", "sync_request": ""}
    return {"sync": state.requested, "sync_request": state.requested_at.isoformat()}


def request_sync(tenant: Tenant, mode: str, actor: User | str | None = None) -> None:
    if mode not in ("delta", "full"):
        raise InvalidValue("Ask for a 'full' or a 'delta' sync.", field="mode")
    with transaction.atomic():
        state, _ = SyncState.objects.select_for_update().get_or_create(tenant=tenant)
        if state.requested != "full":  # a full sync covers a delta
            state.requested = mode
        state.requested_at = timezone.now()
        state.save(update_fields=["requested", "requested_at"])
        record(tenant, "Request on-premises directory sync", actor=actor, mode=mode)
        wakeup.announce(wakeup.agents_topic(tenant.pk))  # the agents' long polls tell them


def stats(tenant: Tenant) -> dict[str, Any]:
    state = SyncState.objects.filter(tenant=tenant).first()
    if state is None:
        return {"cursor": "", "requested": "none", "last_full": {}, "last_delta": {}}
    return {
        "cursor": state.cursor,
        "requested": state.requested,
        "last_full": state.last_full,
        "last_delta": state.last_delta,
    }
