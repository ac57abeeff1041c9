"""How the service's Redis clients connect, and how they tell an operator that Redis is gone.

Every client fails fast: redis-py's default is ten retries with back-off, so a stopped Redis
would hold each request for seconds before the caller's own answer to the outage (the database,
a refusal, the next poll) could take over.
"""

from __future__ import annotations

import logging
import threading
from typing import Any

log = logging.getLogger(__name__)

TIMEOUT = 2.0


def options() -> dict[str, Any]:
    """Keyword arguments for `redis.Redis.from_url` and for Django's RedisCache OPTIONS."""
    from redis.backoff import NoBackoff
    from redis.retry import Retry

    return {
        "socket_timeout": TIMEOUT,
        "socket_connect_timeout": TIMEOUT,
        # One immediate retry: the first command after a Redis restart meets a pooled
        # connection that died with the old server, and a fresh one succeeds.
        "retry": Retry(NoBackoff(), 1),
    }


class Outage:
    """Whether this process is between a failed Redis call and the next successful one, so that
    an outage is logged once when it starts and once when it ends, not at every request."""

    def __init__(self, user: str) -> None:
        self.user = user
        self._lock = threading.Lock()
        self.down = False

    def begin(self, error: BaseException, then: str) -> None:
        """Log the start of an outage (once), and `then`: what the caller does meanwhile."""
        with self._lock:
            if self.down:
                return
            self.down = True
        # The error's class, not its text: that varies with every attempt and names the server.
        log.warning(
            "redis_unavailable user=%s then=%s error=%s",
            self.user,
            then,
            type(error.__cause__ or error).__name__,
        )

    def over(self) -> None:
        if not self.down:  # the common case, without taking the lock
            return
        with self._lock:
            if not self.down:
                return
            self.down = False
        log.warning("redis_available_again user=%s", self.user)
