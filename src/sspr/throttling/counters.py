"""Taking from a limit atomically: a row lock in the database, or Redis when configured.

A hit is counted *before* the guarded work runs and given back (`release`) when the work
succeeds, so that concurrent requests can never do more work than the limit allows.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from sspr.throttling.limits import Limit
from sspr.throttling.models import Counter

if TYPE_CHECKING:
    from sspr.throttling.redis_counters import RedisCounters


class Blocked(Exception):
    def __init__(self, limit: Limit, until: datetime) -> None:
        super().__init__(f"{limit.name} blocked until {until.isoformat()}")
        self.limit = limit
        self.until = until


def _redis() -> RedisCounters:
    from sspr.throttling.redis_counters import RedisCounters

    return RedisCounters.shared(settings.REDIS_URL)


def take(limit: Limit, tenant_id: int, key: str) -> None:
    """Count one hit, or raise Blocked (and start the block) when the limit is used up."""
    if settings.REDIS_URL:
        _redis().take(limit, tenant_id, key)
        return
    now = timezone.now()
    with transaction.atomic():
        row, _ = Counter.objects.select_for_update().get_or_create(
            tenant_id=tenant_id, name=limit.name, key=key[:256]
        )
        blocked = row.blocked_until if row.blocked_until and row.blocked_until > now else None
        if blocked is None:
            if now - row.window_start >= limit.window:
                row.window_start, row.hits = now, 0
            if row.hits >= limit.max_hits:
                blocked = now + limit.block if limit.block else row.window_start + limit.window
                row.blocked_until = blocked
            else:
                row.hits += 1
            row.save()
    if blocked is not None:
        raise Blocked(limit, blocked)


def release(limit: Limit, tenant_id: int, key: str) -> None:
    """Give back a hit taken for work that succeeded."""
    if settings.REDIS_URL:
        _redis().release(limit, tenant_id, key)
        return
    with transaction.atomic():
        row = (
            Counter.objects.select_for_update()
            .filter(tenant_id=tenant_id, name=limit.name, key=key[:256])
            .first()
        )
        if row is not None and row.hits > 0:
            row.hits -= 1
            row.save(update_fields=["hits"])


def blocked_until(limit: Limit, tenant_id: int, key: str) -> datetime | None:
    if settings.REDIS_URL:
        return _redis().blocked_until(limit, tenant_id, key)
    row = Counter.objects.filter(tenant_id=tenant_id, name=limit.name, key=key[:256]).first()
    if row is not None and row.blocked_until and row.blocked_until > timezone.now():
        return row.blocked_until
    return None


def clear(limits: list[Limit], tenant_id: int, key: str) -> None:
    """Forget the counts of a key: a successful reset starts afresh."""
    if settings.REDIS_URL:
        _redis().clear(limits, tenant_id, key)
        return
    Counter.objects.filter(
        tenant_id=tenant_id, name__in=[lim.name for lim in limits], key=key[:256]
    ).delete()
