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
