"""Taking from a limit atomically: a row lock in the database, or Redis when configured.

A hit is counted *before* the guarded work runs and given back (`release`) when the work
succeeds, so that concurrent requests can never do more work than the limit allows.

When Redis is configured but cannot be reached, `settings.REDIS_FAILURE` decides: "database"
counts the same limits in the database for that call, "closed" refuses the work. Neither lets
work through unchecked. Giving back and clearing come after work that succeeded, so they never
fail it: a hit that cannot be given back, or a count that cannot be cleared, stays counted
(stricter, never looser).
"""

from __future__ import annotations

import logging
import threading
from datetime import datetime
from typing import TYPE_CHECKING

from django.conf import settings
from django.db import DatabaseError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from sspr.errors import DomainError
from sspr.redis_client import Outage
from sspr.throttling.limits import Limit
from sspr.throttling.models import Counter

if TYPE_CHECKING:
    from sspr.throttling.redis_counters import RedisCounters


class Blocked(Exception):
    def __init__(self, limit: Limit, until: datetime) -> None:
        super().__init__(f"{limit.name} blocked until {until.isoformat()}")
        self.limit = limit
        self.until = until


class RedisUnavailable(Exception):
    """Redis refused the connection or did not answer in time."""


class ThrottlingUnavailable(DomainError):
    status = 503
    code = "throttling_unavailable"

    def __init__(self) -> None:
        super().__init__(
            _(
                "The service cannot count attempts right now, so it did not go ahead. "
                "Nothing was changed. Try again in a moment."
            )
        )


log = logging.getLogger(__name__)

_outage = Outage("throttling")
# The hits this thread took in the database because Redis was down: they are given back
# there, not in Redis, where they were never counted.
_local = threading.local()


def _redis() -> RedisCounters:
    from sspr.throttling.redis_counters import RedisCounters

    return RedisCounters.shared(settings.REDIS_URL)


def _mode() -> str:
    return str(getattr(settings, "REDIS_FAILURE", "database"))


def _fall_back(error: RedisUnavailable) -> None:
    """Go on in the database, or refuse (ThrottlingUnavailable) when configured closed."""
    _outage.begin(error, _mode())
    if _mode() == "closed":
        raise ThrottlingUnavailable() from None


def _database_takes() -> set[tuple[str, int, str]]:
    if not hasattr(_local, "takes"):
        _local.takes = set()
    taken: set[tuple[str, int, str]] = _local.takes
    return taken


def take(limit: Limit, tenant_id: int, key: str) -> None:
    """Count one hit, or raise Blocked (and start the block) when the limit is used up."""
    if settings.REDIS_URL:
        try:
            _redis().take(limit, tenant_id, key)
        except RedisUnavailable as error:
            _fall_back(error)
            _take_in_database(limit, tenant_id, key)
            _database_takes().add((limit.name, tenant_id, key))
            return
        _outage.over()
        return
    _take_in_database(limit, tenant_id, key)


def release(limit: Limit, tenant_id: int, key: str) -> None:
    """Give back a hit taken for work that succeeded."""
    taken = (limit.name, tenant_id, key)
    in_database = taken in _database_takes()
    _database_takes().discard(taken)
    if settings.REDIS_URL and not in_database:
        try:
            _redis().release(limit, tenant_id, key)
        except RedisUnavailable as error:
            _outage.begin(error, _mode())
            return
        _outage.over()
        return
    try:
        _release_in_database(limit, tenant_id, key)
    except DatabaseError as error:
        # The work succeeded and is answered as done; the hit stays counted.
        log.warning("throttle_hit_kept limit=%s error=%s", limit.name, type(error).__name__)


def blocked_until(limit: Limit, tenant_id: int, key: str) -> datetime | None:
    if settings.REDIS_URL:
        try:
            until = _redis().blocked_until(limit, tenant_id, key)
        except RedisUnavailable as error:
            _fall_back(error)
        else:
            _outage.over()
            return until
    row = Counter.objects.filter(tenant_id=tenant_id, name=limit.name, key=key[:256]).first()
    if row is not None and row.blocked_until and row.blocked_until > timezone.now():
        return row.blocked_until
    return None


def clear(limits: list[Limit], tenant_id: int, key: str) -> None:
    """Forget the counts of a key: a successful reset starts afresh."""
    if settings.REDIS_URL:
        try:
            _redis().clear(limits, tenant_id, key)
        except RedisUnavailable as error:
            # The work this follows is done: it is not refused now. Redis keeps its counts.
            _outage.begin(error, _mode())
        else:
            _outage.over()
            return
    try:
        Counter.objects.filter(
            tenant_id=tenant_id, name__in=[lim.name for lim in limits], key=key[:256]
        ).delete()
    except DatabaseError as error:
        # Called after the work is committed: the counts stay, and age out with their window.
        log.warning("throttle_counts_kept error=%s", type(error).__name__)


def _take_in_database(limit: Limit, tenant_id: int, key: str) -> None:
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


def _release_in_database(limit: Limit, tenant_id: int, key: str) -> None:
    with transaction.atomic():
        row = (
            Counter.objects.select_for_update()
            .filter(tenant_id=tenant_id, name=limit.name, key=key[:256])
            .first()
        )
        if row is not None and row.hits > 0:
            row.hits -= 1
            row.save(update_fields=["hits"])
