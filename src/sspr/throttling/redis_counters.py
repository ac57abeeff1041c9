"""The same counters in Redis, for many app processes on many hosts."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from functools import cache

import redis

from sspr import redis_client
from sspr.throttling.limits import Limit

# One round trip, atomic: blocked? then count within the window, and block when over.
_TAKE = """
local blocked = redis.call('PTTL', KEYS[2])
if blocked > 0 then return {0, blocked} end
local hits = redis.call('INCR', KEYS[1])
if hits == 1 then redis.call('PEXPIRE', KEYS[1], ARGV[2]) end
if hits > tonumber(ARGV[1]) then
  redis.call('DECR', KEYS[1])
  local block = tonumber(ARGV[3])
  if block <= 0 then block = redis.call('PTTL', KEYS[1]) end
  if block <= 0 then block = 1 end
  redis.call('SET', KEYS[2], 1, 'PX', block)
  return {0, block}
end
return {1, 0}
"""
_RELEASE = """
local hits = tonumber(redis.call('GET', KEYS[1]) or '0')
if hits > 0 then redis.call('DECR', KEYS[1]) end
return 1
"""


@contextmanager
def _reachable() -> Iterator[None]:
    """Redis being away becomes RedisUnavailable, which the callers know how to live with."""
    from sspr.throttling.counters import RedisUnavailable

    try:
        yield
    except (redis.ConnectionError, redis.TimeoutError) as error:
        raise RedisUnavailable(type(error).__name__) from error


class RedisCounters:
    def __init__(self, url: str) -> None:
        self.client = redis.Redis.from_url(url, **redis_client.options())
        self._take = self.client.register_script(_TAKE)
        self._release = self.client.register_script(_RELEASE)

    @staticmethod
    @cache
    def shared(url: str) -> RedisCounters:
        return RedisCounters(url)

    @staticmethod
    def _keys(limit: Limit, tenant_id: int, key: str) -> list[str]:
        base = f"sspr:throttle:{tenant_id}:{limit.name}:{key[:256]}"
        return [base, base + ":blocked"]

    def take(self, limit: Limit, tenant_id: int, key: str) -> None:
        from sspr.throttling.counters import Blocked

        window_ms = int(limit.window.total_seconds() * 1000)
        block_ms = int(limit.block.total_seconds() * 1000)
        with _reachable():
            allowed, wait_ms = self._take(
                keys=self._keys(limit, tenant_id, key), args=[limit.max_hits, window_ms, block_ms]
            )
        if not allowed:
            until = datetime.now(UTC).timestamp() + int(wait_ms) / 1000
            raise Blocked(limit, datetime.fromtimestamp(until, UTC))

    def release(self, limit: Limit, tenant_id: int, key: str) -> None:
        with _reachable():
            self._release(keys=self._keys(limit, tenant_id, key)[:1])

    def blocked_until(self, limit: Limit, tenant_id: int, key: str) -> datetime | None:
        with _reachable():
            wait_ms = self.client.pttl(self._keys(limit, tenant_id, key)[1])
        if int(wait_ms) <= 0:
            return None
        return datetime.fromtimestamp(datetime.now(UTC).timestamp() + int(wait_ms) / 1000, UTC)

    def clear(self, limits: list[Limit], tenant_id: int, key: str) -> None:
        names = [k for lim in limits for k in self._keys(lim, tenant_id, key)]
        with _reachable():
            self.client.delete(*names)
