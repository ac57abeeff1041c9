"""Sealing committed audit events into their tenants' hash chains, and forwarding them.

Inline by default (the CLI, the tests): `seal()` does the work at once. A serving process calls
`start_background()`: then a request only hands its events to one thread of the process, which
seals whatever has gathered meanwhile in one short transaction per tenant. Sealing takes the
tenant's chain lock, and on the request path it serialised every audited request of a tenant
across all processes behind that lock, and added a transaction to each.

What a thread could not seal (the database went away, the process stopped) is left unsealed, and
sealed by the next `sspr audit verify` or retention run; `stop()` gives the thread a moment to
finish on a clean stop.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Sequence

from django.db import DatabaseError, connection

from sspr.audit import chain, syslog
from sspr.audit.models import AuditEvent

log = logging.getLogger(__name__)

RETRIES = 3
RETRY_SECONDS = 1.0
# The thread lets events gather this long before it seals: sealing is one transaction under the
# tenant's chain lock whatever the number of events, and the requests need the CPU more.
GATHER_SECONDS = 0.2


def _seal_now(events: Sequence[AuditEvent]) -> bool:
    """Seal `events` (all of one tenant), then forward them; False if the database failed."""
    try:
        chain.seal_pending(events[0].tenant, only=[e.pk for e in events], known_unsealed=True)
    except DatabaseError as error:
        log.warning(
            "audit_seal_deferred tenant=%s error=%s", events[0].tenant_id, type(error).__name__
        )
        return False
    for event in events:
        syslog.forward(event)
    return True


class _Background:
    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._pending: list[AuditEvent] = []
        self._busy = False
        self._stopping = False
        self._thread = threading.Thread(target=self._run, name="sspr-audit-sealer", daemon=True)
        self._thread.start()

    def submit(self, events: Sequence[AuditEvent]) -> None:
        with self._cond:
            self._pending.extend(events)
            self._cond.notify_all()

    def idle(self, timeout: float) -> bool:
        """Wait until everything handed over so far is sealed (or given up); whether it was."""
        with self._cond:
            return self._cond.wait_for(lambda: not self._pending and not self._busy, timeout)

    def stop(self, timeout: float) -> None:
        self.idle(timeout)
        with self._cond:
            self._stopping = True
            self._cond.notify_all()
        self._thread.join(timeout)

    def _run(self) -> None:
        while True:
            with self._cond:
                self._cond.wait_for(lambda: self._pending or self._stopping)
                if self._stopping and not self._pending:
                    return
                self._cond.wait_for(lambda: self._stopping, GATHER_SECONDS)
                taken, self._pending, self._busy = self._pending, [], True
            try:
                self._seal(taken)
            finally:
                # Kept for the next batch, as a request thread keeps its own; a broken one is
                # closed now, and the next batch's first query checks the one it finds.
                connection.close_if_unusable_or_obsolete()
                with self._cond:
                    self._busy = False
                    self._cond.notify_all()

    def _seal(self, events: list[AuditEvent]) -> None:
        by_tenant: dict[int, list[AuditEvent]] = {}
        for event in events:
            by_tenant.setdefault(event.tenant_id, []).append(event)
        for tenant_events in by_tenant.values():
            for attempt in range(RETRIES):
                if _seal_now(tenant_events):
                    break
                connection.close()
                if attempt + 1 < RETRIES and not self._stopping:
                    time.sleep(RETRY_SECONDS)


_background: _Background | None = None
_lock = threading.Lock()


def start_background() -> None:
    """From now on this process seals in its own thread (`sspr serve` calls this)."""
    global _background
    with _lock:
        if _background is None:
            _background = _Background()


def stop(timeout: float = 5.0) -> None:
    """Seal what was handed over, for up to `timeout` seconds, then stop the thread."""
    global _background
    with _lock:
        background, _background = _background, None
    if background is not None:
        background.stop(timeout)


def wait_idle(timeout: float = 5.0) -> bool:
    """Whether everything handed to the thread so far is sealed (at once when inline)."""
    background = _background
    return background is None or background.idle(timeout)


def seal(events: Sequence[AuditEvent]) -> None:
    """Seal these committed events of one tenant: at once, or by the process's thread."""
    if not events:
        return
    background = _background
    if background is None:
        _seal_now(events)
    else:
        background.submit(events)
