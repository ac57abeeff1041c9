from __future__ import annotations

from django.db import models
from django.utils import timezone


class Counter(models.Model):
    """Hits of one limit for one key (a user name, an address, a tenant) in the current window."""

    tenant_id = models.BigIntegerField()
    name = models.CharField(max_length=32)
    key = models.CharField(max_length=256)
    window_start = models.DateTimeField(default=timezone.now)
    hits = models.PositiveIntegerField(default=0)
    blocked_until = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["tenant_id", "name", "key"], name="counter_unique")
        ]

    def __str__(self) -> str:
        return f"{self.name} {self.key}: {self.hits}"
