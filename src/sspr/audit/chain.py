"""Tamper evidence for the audit trail: one SHA-256 hash chain per tenant.

Each link (an AuditSeal) hashes one event's fields together with its sequence number and the
previous link's hash, so changing, removing or reordering an event breaks every later link.

Events are written in the transaction of the change they describe and sealed just after it
commits, in a short transaction of its own that locks the tenant's chain head. A request
therefore never holds a tenant-wide lock while it does its work: concurrent requests append
events freely and only the sealing, a few milliseconds, takes turns. Whatever sealing missed
(a crash between commit and seal, a transaction that ran longer than the sealing window) is
sealed by `seal_pending(..., everything=True)`, which `sspr audit verify`, `export` and
`prune` run first.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from django.db import IntegrityError, transaction
from django.db.models import Exists, OuterRef, QuerySet
from django.utils import timezone

from sspr.audit.models import (
    GENESIS_HASH,
    AuditChainHead,
    AuditCheckpoint,
    AuditEvent,
    AuditSeal,
)
from sspr.directory.models import Tenant

# After a commit only recent events are looked at: an event cannot commit later than its
# transaction's length after it was created, and no transaction here lasts anywhere near this.
SEAL_WINDOW = timedelta(hours=1)
BATCH = 500


def fields(event: AuditEvent, tenant_slug: str) -> dict[str, Any]:
    """What a seal covers: every field of the event, in a form that survives a round trip
    through SQLite and PostgreSQL unchanged."""
    return {
        "id": event.pk,
        "tenant": tenant_slug,
        "occurred_at": event.occurred_at.astimezone(UTC).isoformat(timespec="microseconds"),
        **event.record_fields(),
        "details": event.details,
    }


def link_hash(event_fields: dict[str, Any], previous_hash: str, seq: int) -> str:
    canonical = json.dumps(
        {"event": event_fields, "previous_hash": previous_hash, "seq": seq},
        sort_keys=True,
        separators=(",", ":"),
        ensure_ascii=True,
    )
    return hashlib.sha256(canonical.encode("ascii")).hexdigest()


def _unsealed(
    tenant: Tenant, everything: bool, only: list[int] | None = None
) -> QuerySet[AuditEvent]:
    events = AuditEvent.objects.filter(tenant=tenant).filter(
        ~Exists(AuditSeal.objects.filter(event_id=OuterRef("pk")))
    )
    if only is not None:
        events = events.filter(pk__in=only)
    elif not everything:
        events = events.filter(occurred_at__gte=timezone.now() - SEAL_WINDOW)
    return events.order_by("id")


def seal_pending(
    tenant: Tenant,
    *,
    everything: bool = False,
    only: list[int] | None = None,
    known_unsealed: bool = False,
) -> int:
    """Append a link for each committed event of the tenant that has none; how many.

    `only`: just these events (what a transaction just committed): a busy tenant's last hour
    holds far too many events to look through after every commit. `known_unsealed`: the caller
    knows there is something to seal, so the lock is taken without a look first.
    """
    if not known_unsealed and not _unsealed(tenant, everything, only).exists():
        return 0
    sealed = 0
    while True:
        with transaction.atomic():
            head, _ = AuditChainHead.objects.select_for_update().get_or_create(tenant=tenant)
            # Read again under the lock: another process may have sealed them meanwhile.
            events = list(_unsealed(tenant, everything, only)[:BATCH])
            seq, previous = head.seq, head.hash
            seals = []
            for event in events:
                seq += 1
                digest = link_hash(fields(event, tenant.slug), previous, seq)
                seals.append(
                    AuditSeal(
                        tenant=tenant,
                        seq=seq,
                        event_id=event.pk,
                        occurred_at=event.occurred_at,
                        previous_hash=previous,
                        hash=digest,
                    )
                )
                previous = digest
            if seals:
                AuditSeal.objects.bulk_create(seals)
                head.seq, head.hash, head.updated_at = seq, previous, timezone.now()
                head.save(update_fields=["seq", "hash", "updated_at"])
        sealed += len(events)
        if len(events) < BATCH:
            return sealed


@dataclass(frozen=True)
class Break:
    """The first link that does not hold."""

    seq: int
    event_id: int | None
    occurred_at: datetime | None
    problem: str

    def describe(self) -> str:
        where = [f"seq {self.seq}"]
        if self.event_id is not None:
            where.append(f"event {self.event_id}")
        if self.occurred_at is not None:
            where.append(f"occurred {self.occurred_at.astimezone(UTC):%Y-%m-%d %H:%M:%S} UTC")
        return f"{', '.join(where)}: {self.problem}"


@dataclass(frozen=True)
class Verification:
    tenant: str
    verified: int
    sealed_now: int
    starts_after: int  # the retention checkpoint's seq; 0 when the chain starts at its origin
    broken: Break | None

    @property
    def ok(self) -> bool:
        return self.broken is None


def _links(tenant: Tenant, after: int, through: int) -> Iterator[list[AuditSeal]]:
    while True:
        batch = list(
            AuditSeal.objects.filter(tenant=tenant, seq__gt=after, seq__lte=through).order_by(
                "seq"
            )[:BATCH]
        )
        if not batch:
            return
        yield batch
        after = batch[-1].seq


def verify(tenant: Tenant) -> Verification:
    """Seal what is pending, then recompute every link from the checkpoint to the head."""
    try:
        sealed_now = seal_pending(tenant, everything=True)
    except IntegrityError:
        # The head disagrees with the links after it (they were tampered with): the walk
        # below says where.
        sealed_now = 0
    head = AuditChainHead.objects.filter(tenant=tenant).first()
    checkpoint = AuditCheckpoint.objects.filter(tenant=tenant).order_by("-seq").first()
    start = checkpoint.seq if checkpoint is not None else 0
    previous = checkpoint.hash if checkpoint is not None else GENESIS_HASH
    end = head.seq if head is not None else 0
    expected = start + 1
    verified = 0

    def result(broken: Break | None) -> Verification:
        return Verification(tenant.slug, verified, sealed_now, start, broken)

    if head is None and AuditSeal.objects.filter(tenant=tenant).exists():
        return result(Break(0, None, None, "seal chain broken: the chain's head is missing"))
    for batch in _links(tenant, start, end):
        events = AuditEvent.objects.in_bulk([seal.event_id for seal in batch])
        for seal in batch:
            if seal.seq != expected:
                return result(
                    Break(
                        expected,
                        None,
                        None,
                        f"seal chain broken: the links up to seq {seal.seq - 1} are missing "
                        f"(the next link seals event {seal.event_id})",
                    )
                )
            where = (seal.seq, seal.event_id, seal.occurred_at)
            if seal.previous_hash != previous:
                return result(
                    Break(*where, "seal chain broken: this link does not follow the one before it")
                )
            event = events.get(seal.event_id)
            if event is None:
                return result(Break(*where, "event missing: the sealed event was deleted"))
            if event.tenant_id != tenant.pk:
                return result(Break(*where, "event changed: it was moved to another tenant"))
            if link_hash(fields(event, tenant.slug), seal.previous_hash, seal.seq) != seal.hash:
                return result(
                    Break(*where, "event changed: its content no longer matches its seal")
                )
            previous = seal.hash
            expected += 1
            verified += 1
    if expected - 1 != end:
        return result(
            Break(
                expected,
                None,
                None,
                f"seal chain broken: the links from seq {expected} to {end} are missing",
            )
        )
    if head is not None and head.hash != previous:
        return result(
            Break(end, None, None, "seal chain broken: the chain's head does not match its link")
        )
    return result(None)
