"""Forwarding audit events to a SIEM over syslog.

Each event becomes one RFC 5424 message whose structured data element `audit@32473` carries
the event's fields, sent over UDP (RFC 5426) or TCP with octet-counting framing (RFC 6587):

    SSPR_SYSLOG_URL       udp://host:514 or tcp://host:601; empty (the default) turns it off
    SSPR_SYSLOG_FACILITY  a name (auth, authpriv, local0 ... local7, ...) or 0 to 23; default
                          authpriv (10), the facility of security messages meant for
                          privileged readers only

The severity is notice (5) for a success and warning (4) for a failure. 32473 is the private
enterprise number that RFC 5612 reserves for examples and documentation; a SIEM matches the
SD-ID `audit@32473` as a plain string.

Messages are queued and sent by one background thread per process, so a request never waits
on the network; a message the receiver cannot take is dropped and the failure is logged once
per outage, without the message's content. The hash chain, not syslog, is the record of truth.
"""

from __future__ import annotations

import atexit
import json
import logging
import os
import queue
import socket
import threading
import time
from dataclasses import dataclass
from datetime import UTC
from urllib.parse import urlsplit

from django.conf import settings

from sspr.audit.models import AuditEvent, AuditSeal

log = logging.getLogger(__name__)

SD_ID = "audit@32473"
APP_NAME = "opensspr"
MSG_ID = "audit"
NOTICE, WARNING = 5, 4
TIMEOUT = 2.0
QUEUE_SIZE = 10_000
# RFC 5426 asks receivers for at least 2048 octets; common ones take far more over UDP.
MAX_UDP = 8192
MAX_TCP = 65536

FACILITIES = {
    "kern": 0, "user": 1, "mail": 2, "daemon": 3, "auth": 4, "syslog": 5, "lpr": 6, "news": 7,
    "uucp": 8, "cron": 9, "authpriv": 10, "ftp": 11, "ntp": 12, "security": 13, "console": 14,
    "solaris-cron": 15, **{f"local{n}": 16 + n for n in range(8)},
}  # fmt: skip


@dataclass(frozen=True)
class Target:
    transport: str  # "udp" or "tcp"
    host: str
    port: int

    def __str__(self) -> str:
        return f"{self.transport}://{self.host}:{self.port}"


def parse_url(url: str) -> Target | None:
    """The receiver named by SSPR_SYSLOG_URL, None when forwarding is off."""
    if not url:
        return None
    parts = urlsplit(url)
    try:
        port = parts.port
    except ValueError:
        port = None
    if parts.scheme not in ("udp", "tcp") or not parts.hostname or port is None:
        raise ValueError(
            "SSPR_SYSLOG_URL must look like udp://host:514 or tcp://host:601 (or be empty)."
        )
    if parts.username or parts.password or parts.path not in ("", "/"):
        raise ValueError("SSPR_SYSLOG_URL takes a scheme, a host and a port, nothing else.")
    return Target(parts.scheme, parts.hostname, port)


def parse_facility(value: str) -> int:
    name = value.strip().lower() or "authpriv"
    if name.isdigit() and 0 <= int(name) <= 23:
        return int(name)
    if name in FACILITIES:
        return FACILITIES[name]
    raise ValueError(
        f"SSPR_SYSLOG_FACILITY must be 0 to 23 or one of {', '.join(FACILITIES)}; not {value!r}."
    )


def check_settings() -> None:
    """Raise ValueError now, at start-up, for a setting that would fail at the first event."""
    parse_url(settings.AUDIT_SYSLOG_URL)
    parse_facility(settings.AUDIT_SYSLOG_FACILITY)


def _sd_value(value: object) -> str:
    text = value if isinstance(value, str) else str(value)
    return text.replace("\\", "\\\\").replace('"', '\\"').replace("]", "\\]")


def _camel_case(name: str) -> str:
    first, *rest = name.split("_")
    return first + "".join(word.capitalize() for word in rest)


def _header_field(value: str, limit: int) -> str:
    printable = "".join(c for c in value if 33 <= ord(c) <= 126)[:limit]
    return printable or "-"


def format_message(
    event: AuditEvent,
    *,
    tenant: str,
    facility: int,
    hostname: str,
    seal: tuple[int, str] | None = None,
    max_size: int = MAX_TCP,
) -> bytes:
    """One RFC 5424 message (without transport framing)."""
    severity = NOTICE if event.result == AuditEvent.Result.SUCCESS else WARNING
    timestamp = event.occurred_at.astimezone(UTC).isoformat(timespec="microseconds")
    header = " ".join(
        [
            f"<{facility * 8 + severity}>1",
            timestamp.replace("+00:00", "Z"),
            _header_field(hostname, 255),
            APP_NAME,
            str(os.getpid()),
            MSG_ID,
        ]
    )
    params: dict[str, object] = {
        "tenant": tenant,
        "id": event.pk,
        **{_camel_case(name): value for name, value in event.record_fields().items()},
    }
    if seal is not None:
        params["seq"], params["hash"] = seal
    summary = f"{event.activity}: {event.result}"
    if event.target:
        summary += f" target={event.target}"
    if event.actor:
        summary += f" actor={event.actor}"

    def build(details: str) -> bytes:
        sd = " ".join(f'{k}="{_sd_value(v)}"' for k, v in {**params, "details": details}.items())
        return f"{header} [{SD_ID} {sd}] ".encode() + b"\xef\xbb\xbf" + summary.encode()

    message = build(json.dumps(event.details, sort_keys=True, separators=(",", ":")))
    if len(message) > max_size:
        # The details are the only unbounded field; the export has them in full.
        message = build('{"truncated":true}')
    # Only a pathological event gets here; cut on a character boundary.
    return message[:max_size].decode("utf-8", "ignore").encode()


_STOP = b""


def _hung_up(sock: socket.socket) -> bool:
    """Whether the receiver closed the connection. A receiver never sends, so anything readable
    is its goodbye; a message sent into the closed socket would be lost without an error."""
    sock.setblocking(False)
    try:
        return sock.recv(1, socket.MSG_PEEK) == b""
    except BlockingIOError:
        return False
    except OSError:
        return True
    finally:
        sock.settimeout(TIMEOUT)


class Forwarder:
    """One receiver, one queue, one sending thread."""

    def __init__(self, target: Target) -> None:
        self.target = target
        self.pid = os.getpid()
        self.queue: queue.Queue[bytes] = queue.Queue(maxsize=QUEUE_SIZE)
        self._sock: socket.socket | None = None
        self._failing = False
        self._dropped = 0
        self._thread = threading.Thread(target=self._run, name="sspr-audit-syslog", daemon=True)
        self._thread.start()

    @property
    def max_size(self) -> int:
        return MAX_UDP if self.target.transport == "udp" else MAX_TCP

    def submit(self, message: bytes) -> None:
        try:
            self.queue.put_nowait(message)
        except queue.Full:
            self._failed("queue full")

    def flush(self, timeout: float) -> bool:
        """Wait until every queued message was sent or given up on; False on timeout."""
        deadline = time.monotonic() + timeout
        with self.queue.all_tasks_done:
            while self.queue.unfinished_tasks:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return False
                self.queue.all_tasks_done.wait(remaining)
        return True

    def stop(self) -> None:
        """End the thread once the messages queued before are sent."""
        self.queue.put(_STOP)

    def _run(self) -> None:
        while True:
            message = self.queue.get()
            try:
                if message == _STOP:
                    self._close()
                    return
                self._deliver(message)
            finally:
                self.queue.task_done()

    def _deliver(self, message: bytes) -> None:
        # A connection that broke without a goodbye (a network hiccup; over UDP, the ICMP
        # answer to an earlier datagram) shows when a send fails: one retry on a new socket.
        # During an outage one try is enough, so that the queue keeps moving.
        attempts = 1 if self._failing else 2
        for attempt in range(1, attempts + 1):
            try:
                self._send(message)
            except OSError as error:
                self._close()
                if attempt == attempts:
                    self._failed(f"{type(error).__name__}: {error.strerror or error}")
                    return
            else:
                if self._failing:
                    log.info(
                        "audit_syslog_recovered target=%s dropped=%d", self.target, self._dropped
                    )
                    self._failing, self._dropped = False, 0
                return

    def _send(self, message: bytes) -> None:
        if self._sock is not None and self.target.transport == "tcp" and _hung_up(self._sock):
            self._close()
        if self._sock is None:
            self._sock = self._connect()
        if self.target.transport == "udp":
            self._sock.send(message)
        else:
            self._sock.sendall(b"%d " % len(message) + message)

    def _connect(self) -> socket.socket:
        if self.target.transport == "tcp":
            return socket.create_connection((self.target.host, self.target.port), TIMEOUT)
        family, kind, proto, _, address = socket.getaddrinfo(
            self.target.host, self.target.port, type=socket.SOCK_DGRAM
        )[0]
        sock = socket.socket(family, kind, proto)
        sock.settimeout(TIMEOUT)
        sock.connect(address)
        return sock

    def _close(self) -> None:
        if self._sock is not None:
            self._sock.close()
            self._sock = None

    def _failed(self, why: str) -> None:
        self._dropped += 1
        if not self._failing:
            self._failing = True
            log.warning(
                "audit_syslog_failed target=%s error=%s (events are dropped until it recovers)",
                self.target,
                why,
            )


_lock = threading.Lock()
_forwarder: Forwarder | None = None


def _current(target: Target) -> Forwarder:
    global _forwarder
    with _lock:
        if _forwarder is None or _forwarder.target != target or _forwarder.pid != os.getpid():
            if _forwarder is None:
                atexit.register(flush, TIMEOUT)
            elif _forwarder.pid == os.getpid():
                _forwarder.stop()
            _forwarder = Forwarder(target)
        return _forwarder


def forward(event: AuditEvent) -> None:
    """Queue the event for the SIEM, if one is configured; never raises for the network."""
    target = parse_url(settings.AUDIT_SYSLOG_URL)
    if target is None:
        return
    forwarder = _current(target)
    seal = AuditSeal.objects.filter(event_id=event.pk).values_list("seq", "hash").first()
    forwarder.submit(
        format_message(
            event,
            tenant=event.tenant.slug,
            facility=parse_facility(settings.AUDIT_SYSLOG_FACILITY),
            hostname=socket.gethostname(),
            seal=seal,
            max_size=forwarder.max_size,
        )
    )


def flush(timeout: float = TIMEOUT) -> bool:
    """Wait for queued messages to leave (process exit, tests)."""
    with _lock:
        forwarder = _forwarder
    return forwarder.flush(timeout) if forwarder is not None else True
