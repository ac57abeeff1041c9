"""The audit trail: append-only events in Entra's words."""

from __future__ import annotations

from typing import Any

from django.db import models
from django.utils import timezone

from sspr.directory.models import Tenant


class AppendOnlyQuerySet(models.QuerySet["AuditEvent"]):
    def update(self, **kwargs: Any) -> int:
        raise PermissionError("audit events are append-only")

    def delete(self) -> tuple[int, dict[str, int]]:
        raise PermissionError("audit events are append-only")

    def delete_for_retention(self) -> int:
        """The one deliberate way around the guard, for retention pruning (retention.py)."""
        return models.QuerySet.delete(self)[0]


class AuditEvent(models.Model):
    class Result(models.TextChoices):
        SUCCESS = "success"
        FAILURE = "failure"

    tenant = models.ForeignKey(Tenant, on_delete=models.PROTECT, related_name="+")
    occurred_at = models.DateTimeField(default=timezone.now, db_index=True)
    service = models.CharField(max_length=64, default="Self-service Password Management")
    category = models.CharField(max_length=64)
    activity = models.CharField(max_length=128, db_index=True)
    actor = models.CharField(max_length=256, blank=True)
    target = models.CharField(max_length=256, blank=True)
    result = models.CharField(max_length=8, choices=Result.choices)
    reason = models.CharField(max_length=512, blank=True)
    ip = models.CharField(max_length=64, blank=True)
    user_agent = models.CharField(max_length=512, blank=True)
    correlation_id = models.CharField(max_length=64, blank=True, db_index=True)
    details = models.JSONField(default=dict)

    objects = AppendOnlyQuerySet.as_manager()

    # What happened, by whom, to whom and from where: the fields that every copy of an event
    # carries (the export, the syslog message, the hash chain's seal), in this order.
    RECORD_FIELDS = (
        "service",
        "category",
        "activity",
        "result",
        "actor",
        "target",
        "reason",
        "ip",
        "user_agent",
        "correlation_id",
    )

    class Meta:
        ordering = ["-occurred_at", "-id"]

    def __str__(self) -> str:
        return f"{self.occurred_at:%Y-%m-%d %H:%M:%S} {self.activity} {self.result}"

    def save(self, *args: Any, **kwargs: Any) -> None:
        if self.pk is not None:
            raise PermissionError("audit events are append-only")
        super().save(*args, **kwargs)

    def delete(self, *args: Any, **kwargs: Any) -> tuple[int, dict[str, int]]:
        raise PermissionError("audit events are append-only")

    def record_fields(self) -> dict[str, str]:
        """The RECORD_FIELDS and their values, in order."""
        return {name: getattr(self, name) for name in self.RECORD_FIELDS}


class ActivityCount(models.Model):
    """Audit events that insights count, by UTC day and by what insights group them by, as
    changes: the triggers of migration 0003 append +1 for each such event inserted and -1 for
    each deleted (retention); sspr.insights.counts sums them and folds them together."""

    tenant = models.ForeignKey(
        Tenant, on_delete=models.DO_NOTHING, db_constraint=False, related_name="+"
    )
    day = models.DateField()
    activity = models.CharField(max_length=128)
    result = models.CharField(max_length=8)
    reason = models.CharField(max_length=512, blank=True)
    # details' "methods", "method" and "cannot_reset", as the database's JSON text operator
    # hands them back; null when absent, which insights tell apart from empty.
    gates = models.TextField(null=True)  # noqa: DJ001
    gate = models.TextField(null=True)  # noqa: DJ001
    why_not = models.TextField(null=True)  # noqa: DJ001
    events = models.IntegerField()

    class Meta:
        indexes = [models.Index(fields=["tenant", "day"], name="activity_count_day")]

    def __str__(self) -> str:
        return f"{self.day} {self.activity} {self.result}: {self.events:+d}"


GENESIS_HASH = "0" * 64


class AppendOnlySealQuerySet(models.QuerySet["AuditSeal"]):
    def update(self, **kwargs: Any) -> int:
        raise PermissionError("audit seals are append-only")

    def delete(self) -> tuple[int, dict[str, int]]:
        raise PermissionError("audit seals are append-only")

    def delete_for_retention(self) -> int:
        return models.QuerySet.delete(self)[0]


class AuditSeal(models.Model):
    """One link of a tenant's hash chain: the SHA-256 of one event and of the link before it.

    A row of its own rather than columns on the event, so that the event is written in its
    change's transaction without waiting for the tenant's chain; the event is sealed right
    after that transaction commits (see chain.py). `event_id` is deliberately no foreign key:
    deleting an event must leave its seal behind as evidence.
    """

    tenant = models.ForeignKey(Tenant, on_delete=models.PROTECT, related_name="+")
    seq = models.PositiveBigIntegerField()
    event_id = models.BigIntegerField(unique=True)
    # As sealed: a report can still say when a deleted or altered event happened.
    occurred_at = models.DateTimeField()
    previous_hash = models.CharField(max_length=64)
    hash = models.CharField(max_length=64)
    sealed_at = models.DateTimeField(default=timezone.now)

    objects = AppendOnlySealQuerySet.as_manager()

    class Meta:
        ordering = ["tenant", "seq"]
        constraints = [
            models.UniqueConstraint(fields=["tenant", "seq"], name="audit_seal_seq_unique")
        ]

    def __str__(self) -> str:
        return f"seal {self.seq} of event {self.event_id}"

    def save(self, *args: Any, **kwargs: Any) -> None:
        if self.pk is not None:
            raise PermissionError("audit seals are append-only")
        super().save(*args, **kwargs)

    def delete(self, *args: Any, **kwargs: Any) -> tuple[int, dict[str, int]]:
        raise PermissionError("audit seals are append-only")


class AuditChainHead(models.Model):
    """The last link of a tenant's chain. Sealing locks this row, so that two processes never
    append the same sequence number; it also shows when seals were cut off the chain's end."""

    tenant = models.OneToOneField(
        Tenant, on_delete=models.PROTECT, primary_key=True, related_name="+"
    )
    seq = models.PositiveBigIntegerField(default=0)
    hash = models.CharField(max_length=64, default=GENESIS_HASH)
    updated_at = models.DateTimeField(default=timezone.now)

    def __str__(self) -> str:
        return f"chain of {self.tenant_id} at {self.seq}"


class AuditCheckpoint(models.Model):
    """Where the chain starts after retention pruning: the last pruned link's sequence number
    and hash, which the first retained seal names as its previous hash."""

    tenant = models.ForeignKey(Tenant, on_delete=models.PROTECT, related_name="+")
    seq = models.PositiveBigIntegerField()
    hash = models.CharField(max_length=64)
    events_deleted = models.PositiveBigIntegerField()
    older_than = models.DateTimeField()
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["tenant", "-seq"]

    def __str__(self) -> str:
        return f"checkpoint of {self.tenant_id} at {self.seq}"
