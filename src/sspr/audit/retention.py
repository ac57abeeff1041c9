"""Retention: deleting audit events older than the limit, without breaking the hash chain.

Only a prefix of the chain is ever deleted, from its start up to the first link whose event is
recent enough to keep, and a checkpoint records the hash of the last deleted link: the first
kept link names it as its previous hash, so `verify` starts there. An old event sealed after
a recent one stays until the chain's prefix reaches it. The pruning is itself an audit event.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db import transaction
from django.utils import timezone

from sspr.audit.chain import seal_pending
from sspr.audit.events import Activity, record
from sspr.audit.models import AuditChainHead, AuditCheckpoint, AuditEvent, AuditSeal
from sspr.directory.models import Tenant
from sspr.errors import Conflict, InvalidValue


@dataclass(frozen=True)
class Pruned:
    tenant: str
    deleted: int
    older_than: datetime
    through_seq: int


def cutoff(days: int) -> datetime:
    if days < 1:
        raise InvalidValue("Keep audit events for at least one day.", field="days")
    try:
        return timezone.now() - timedelta(days=days)
    except OverflowError:
        raise InvalidValue(f"{days} days is too long a retention period.", field="days") from None


def prune(tenant: Tenant, older_than: datetime, actor: str = "sspr command line") -> Pruned:
    seal_pending(tenant, everything=True)
    with transaction.atomic():
        head, _ = AuditChainHead.objects.select_for_update().get_or_create(tenant=tenant)
        latest = AuditCheckpoint.objects.filter(tenant=tenant).order_by("-seq").first()
        start = latest.seq if latest is not None else 0
        first_kept = (
            AuditSeal.objects.filter(tenant=tenant, seq__gt=start, occurred_at__gte=older_than)
            .order_by("seq")
            .values_list("seq", flat=True)
            .first()
        )
        through = first_kept - 1 if first_kept is not None else head.seq
        if through <= start:
            return Pruned(tenant.slug, 0, older_than, start)
        last = AuditSeal.objects.filter(tenant=tenant, seq=through).first()
        if last is None:
            raise Conflict(
                f"The audit chain of {tenant.slug} has no link {through}; nothing was deleted. "
                "Run `sspr audit verify` to see what is wrong."
            )
        links = AuditSeal.objects.filter(tenant=tenant, seq__gt=start, seq__lte=through)
        deleted = AuditEvent.objects.filter(
            tenant=tenant, pk__in=links.values("event_id")
        ).delete_for_retention()
        links.delete_for_retention()
        AuditCheckpoint.objects.create(
            tenant=tenant,
            seq=through,
            hash=last.hash,
            events_deleted=deleted,
            older_than=older_than,
        )
        record(
            tenant,
            Activity.DELETE_AUDIT_EVENTS,
            actor=actor,
            deleted=deleted,
            older_than=older_than.isoformat(),
            through_seq=through,
        )
    return Pruned(tenant.slug, deleted, older_than, through)
