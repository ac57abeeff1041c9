"""Waking whoever waits for a change in the command queue, instead of having them poll it.

The database stays the truth: a waiter looks at it, then sleeps until something is announced on
its topic (or a short fallback interval passes), then looks again. Topics:

- ``agents:<tenant id>``: a command was queued or given back, or a sync was asked for; the
  tenant's agents' long polls look at the queue.
- ``command:<id>``: the command ended; the request waiting for it reads the result.

Within one process the announcement is a condition variable. With ``REDIS_URL`` set it is also
published on Redis, and every process relays what it hears to its own waiters, so that a
command queued by one app process wakes the long poll held by another. Without Redis, waiters
in other processes notice at their fallback interval.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from collections.abc import Iterator
from typing import Any

from django.conf import settings
from django.db import transaction

log = logging.getLogger(__name__)

CHANNEL = "sspr:wakeup"


def agents_topic(tenant_id: int) -> str:
    return f"agents:{tenant_id}"


def command_topic(command_id: str) -> str:
    return f"command:{command_id}"


class _Board:
    """Generation counters of the topics someone is waiting on, under one condition."""

    def __init__(self) -> None:
        self._condition = threading.Condition()
        self._generation: dict[str, int] = {}
        self._interest: dict[str, int] = {}
        self.closing = False

    def enter(self, topic: str) -> int:
        with self._condition:
            self._interest[topic] = self._interest.get(topic, 0) + 1
            return self._generation.setdefault(topic, 0)

    def leave(self, topic: str) -> None:
        with self._condition:
            self._interest[topic] -= 1
            if not self._interest[topic]:
                del self._interest[topic], self._generation[topic]

    def wait(self, topic: str, seen: int, timeout: float) -> int:
        with self._condition:
            self._condition.wait_for(
                lambda: self.closing or self._generation[topic] != seen, timeout
            )
            return self._generation[topic]

    def announce(self, topic: str) -> None:
        with self._condition:
            if topic in self._generation:  # nobody waits: nothing to remember
                self._generation[topic] += 1
                self._condition.notify_all()

    def close(self) -> None:
        with self._condition:
            self.closing = True
            self._condition.notify_all()


_board = _Board()
_sleep = time.sleep


def close() -> None:
    """The server is stopping: every waiter returns now (a long poll answers with nothing, and
    its agent comes back to whichever process serves next)."""
    _board.close()


class Waiter:
    """What `listening` yields: `wait()` returns at the next announcement after the previous
    `wait()` (or the start of listening), or after `timeout` seconds."""

    def __init__(self, topic: str, seen: int) -> None:
        self.topic = topic
        self._seen = seen

    @property
    def closing(self) -> bool:
        return _board.closing

    def wait(self, timeout: float) -> bool:
        if _board.closing:
            # Nothing is announced any more: whoever goes on waiting (a reset whose agent may
            # still answer) looks at the database at the fallback pace, not in a tight loop.
            _sleep(max(timeout, 0.0))
            return False
        before = self._seen
        self._seen = _board.wait(self.topic, before, max(timeout, 0.0))
        return self._seen != before


@contextlib.contextmanager
def listening(topic: str) -> Iterator[Waiter]:
    """Start listening *before* looking at the database, so that nothing announced between
    the look and the wait is missed."""
    _relay.ensure_started()
    seen = _board.enter(topic)
    try:
        yield Waiter(topic, seen)
    finally:
        _board.leave(topic)


def announce(topic: str) -> None:
    """Announce once the current transaction (if any) has committed: a waiter woken earlier
    would look at the database and not find the change yet."""
    transaction.on_commit(lambda: _announce_now(topic))


def _announce_now(topic: str) -> None:
    _board.announce(topic)
    _relay.publish(topic)


class _RedisRelay:
    """Publishes announcements on Redis and relays those of other processes to this one's
    waiters. Started lazily by the first waiter; reconnects after a failure."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._client: Any = None

    def _url(self) -> str:
        return str(getattr(settings, "REDIS_URL", "") or "")

    def _redis(self) -> Any:
        if self._client is None:
            import redis

            from sspr import redis_client

            self._client = redis.Redis.from_url(self._url(), **redis_client.options())
        return self._client

    def publish(self, topic: str) -> None:
        if not self._url():
            return
        try:
            self._redis().publish(CHANNEL, topic)
        except Exception as exc:  # noqa: BLE001 - waiters still see it at their fallback look
            log.warning("wakeup_publish_failed %s", exc.__class__.__name__)

    def ensure_started(self) -> None:
        if self._thread is not None or not self._url():
            return
        with self._lock:
            if self._thread is None:
                self._thread = threading.Thread(
                    target=self._listen, name="sspr-wakeup-relay", daemon=True
                )
                self._thread.start()

    def _listen(self) -> None:
        while True:
            if not self._url():  # configured away (tests change settings): stop relaying
                with self._lock:
                    self._thread = None
                return
            try:
                import redis

                # Its own connection, without a read timeout: it sits waiting for messages.
                listener = redis.Redis.from_url(self._url(), socket_connect_timeout=2)
                pubsub = listener.pubsub(ignore_subscribe_messages=True)  # type: ignore[no-untyped-call]
                pubsub.subscribe(CHANNEL)
                for message in pubsub.listen():
                    data = message.get("data")
                    if isinstance(data, bytes):
                        _board.announce(data.decode(errors="replace"))
            except Exception as exc:  # noqa: BLE001 - keep relaying after Redis comes back
                log.warning("wakeup_relay_reconnecting %s", exc.__class__.__name__)
                time.sleep(1.0)


_relay = _RedisRelay()
