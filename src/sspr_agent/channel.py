"""The agent's side of the channel (docs/agent-channel.md): outbound HTTPS, every call signed.

Each request carries ``X-SSPR-Agent``, ``X-SSPR-Timestamp``, ``X-SSPR-Nonce`` and an Ed25519
``X-SSPR-Signature`` over ``METHOD\\nPATH\\nTIMESTAMP\\nNONCE\\nSHA256_HEX(body)``, where PATH is
the path and query string as sent (``/api/v1/agent/commands?wait=25``; the service URL's own path
prefix included). Nothing here logs a body: bodies may carry sealed secrets, and errors name only
the call and the status.
"""

from __future__ import annotations

import base64
import hashlib
import http.client
import json
import logging
import random
import secrets
import ssl
import threading
import time
import urllib.parse
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any

from nacl.signing import SigningKey

from sspr_agent import __version__
from sspr_protocol.messages import Heartbeat, Result, SyncBatch, fields_of

log = logging.getLogger("sspr_agent.channel")

ENROLL_PATH = "/api/v1/agent/enrollments"
COMMANDS_PATH = "/api/v1/agent/commands"
RESULTS_PATH = "/api/v1/agent/results"
HEARTBEATS_PATH = "/api/v1/agent/heartbeats"
SYNC_STATE_PATH = "/api/v1/agent/sync/state"
SYNC_PATH = "/api/v1/agent/sync"
RETRY_STATUSES = frozenset({429, 502, 503, 504})


@dataclass(frozen=True)
class Polled:
    commands: list[dict[str, Any]]
    sync: str  # none, delta or full: asked for by an administrator
    sync_request: str  # that request's id


class ChannelError(Exception):
    """The service could not be reached, or answered with an error."""

    def __init__(self, message: str, status: int = 0, code: str = "") -> None:
        super().__init__(message)
        self.status = status
        self.code = code

    @property
    def network(self) -> bool:
        """No answer at all (or a gateway's): worth trying again later."""
        return self.status == 0 or self.status in RETRY_STATUSES


def ssl_context(ca_file: str = "", insecure: bool = False) -> ssl.SSLContext:
    """Verification on by default. A CA file is trusted in addition to the system's."""
    context = ssl.create_default_context()
    if insecure:
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    elif ca_file:
        context.load_verify_locations(cafile=ca_file)
    return context


# The service closes a kept-alive connection after a few idle seconds (uvicorn: 5 s); one idle
# longer is not worth trying, and a fresh one costs less than a failed attempt.
KEEP_IDLE_SECONDS = 4.0
# What a kept-alive connection closed by the server just before it was used raises.
_STALE = (http.client.RemoteDisconnected, BrokenPipeError, ConnectionResetError)


class StaleConnection(ConnectionError):
    """The kept connection had been closed by the service; the request was not answered."""


class HttpError(Exception):
    def __init__(self, status: int, body: bytes) -> None:
        super().__init__(status)
        self.status = status
        self.body = body


class _Connections:
    """One kept-alive connection to the service per thread.

    A command's `start` and result then cost a request each instead of a TCP connection (and,
    over HTTPS, a TLS handshake) each.
    """

    def __init__(self, service_url: str, context: ssl.SSLContext | None) -> None:
        parts = urllib.parse.urlsplit(service_url)
        self._https = parts.scheme == "https"
        self._host = parts.hostname or ""
        self._port = parts.port
        self._context = context or (ssl_context() if self._https else None)
        self._local = threading.local()

    def _new(self, timeout: float) -> http.client.HTTPConnection:
        if self._https:
            return http.client.HTTPSConnection(
                self._host, self._port, timeout=timeout, context=self._context
            )
        return http.client.HTTPConnection(self._host, self._port, timeout=timeout)

    def request(
        self, method: str, target: str, body: bytes | None, headers: dict[str, str], timeout: float
    ) -> bytes:
        """The answer's body; HttpError for a status other than 2xx (redirects included: a
        signature covers one path)."""
        kept: http.client.HTTPConnection | None = getattr(self._local, "connection", None)
        self._local.connection = None
        if kept is not None and time.monotonic() - self._local.used > KEEP_IDLE_SECONDS:
            kept.close()
            kept = None
        try:
            status, data, reusable = self._exchange(
                kept or self._new(timeout), method, target, body, headers, timeout
            )
        except _STALE:
            if kept is None:
                raise
            raise StaleConnection() from None
        if reusable is not None:
            self._local.connection, self._local.used = reusable, time.monotonic()
        if not 200 <= status < 300:
            raise HttpError(status, data)
        return data

    @staticmethod
    def _exchange(
        connection: http.client.HTTPConnection,
        method: str,
        target: str,
        body: bytes | None,
        headers: dict[str, str],
        timeout: float,
    ) -> tuple[int, bytes, http.client.HTTPConnection | None]:
        connection.timeout = timeout
        if connection.sock is not None:
            connection.sock.settimeout(timeout)
        try:
            connection.request(method, target, body=body, headers=headers)
            response = connection.getresponse()
            data = response.read()
        except BaseException:
            connection.close()
            raise
        if response.will_close:
            connection.close()
            return response.status, data, None
        return response.status, data, connection


def signing_string(method: str, path: str, timestamp: str, nonce: str, body: bytes) -> bytes:
    digest = hashlib.sha256(body).hexdigest()
    return f"{method.upper()}\n{path}\n{timestamp}\n{nonce}\n{digest}".encode()


class Channel:
    """A client for the agent API. Thread-safe: each call builds its own request."""

    def __init__(
        self,
        service_url: str,
        *,
        agent_id: str = "",
        signing_key: SigningKey | None = None,
        context: ssl.SSLContext | None = None,
        timeout: float = 15.0,
        retries: int = 4,
        backoff: float = 0.5,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.service_url = service_url.rstrip("/")
        self._base_path = urllib.parse.urlsplit(self.service_url).path.rstrip("/")
        self.agent_id = agent_id
        self._signing_key = signing_key
        self.timeout = timeout
        self.retries = retries
        self.backoff = backoff
        self._sleep = sleep
        self._connections = _Connections(self.service_url, context)

    def __repr__(self) -> str:  # never the key
        return f"Channel({self.service_url!r}, agent_id={self.agent_id!r})"

    # The calls of the contract.

    def enroll(self, payload: dict[str, Any]) -> dict[str, Any]:
        """Register with a one-time token (the token is the credential; the call is unsigned)."""
        return self._call("POST", ENROLL_PATH, payload, signed=False, retries=1)

    def poll_commands(self, wait: int = 25, sync_seen: str = "") -> Polled:
        """Long poll: the signed envelopes ``{"command": {...}, "signature": "..."}`` claimed,
        and the sync an administrator asked for (answered early when it is one not seen)."""
        query = {"wait": str(wait)}
        if sync_seen:
            query["sync_seen"] = sync_seen
        answer = self._call("GET", COMMANDS_PATH, None, query=query, timeout=wait + 15, retries=0)
        commands = answer.get("commands", [])
        return Polled(
            [c for c in commands if isinstance(c, dict)] if isinstance(commands, list) else [],
            str(answer.get("sync") or "none"),
            str(answer.get("sync_request") or ""),
        )

    def start(self, command_id: str) -> None:
        """Tell the service the directory is about to be touched. Raises if it says no (409)."""
        self._call(
            "POST",
            f"{COMMANDS_PATH}/{urllib.parse.quote(command_id, safe='')}/start",
            {},
            retries=2,
        )

    def post_result(self, result: Result) -> dict[str, Any]:
        return self._call("POST", RESULTS_PATH, asdict(result), retries=3)

    def heartbeat(self, heartbeat: Heartbeat) -> dict[str, Any]:
        return self._call("POST", HEARTBEATS_PATH, asdict(heartbeat), retries=1)

    def sync_state(self) -> dict[str, Any]:
        return self._call("GET", SYNC_STATE_PATH, None)

    def post_sync(self, batch: SyncBatch) -> dict[str, Any]:
        return self._call("POST", SYNC_PATH, fields_of(batch), timeout=max(self.timeout, 120))

    # Plumbing.

    def _headers(self, method: str, path: str, body: bytes) -> dict[str, str]:
        if self._signing_key is None or not self.agent_id:
            raise ChannelError("this agent is not enrolled (no agent id or signing key)")
        timestamp = str(int(time.time()))
        nonce = secrets.token_hex(16)
        message = signing_string(method, path, timestamp, nonce, body)
        signature = self._signing_key.sign(message).signature
        return {
            "X-SSPR-Agent": self.agent_id,
            "X-SSPR-Timestamp": timestamp,
            "X-SSPR-Nonce": nonce,
            "X-SSPR-Signature": base64.b64encode(signature).decode(),
        }

    def _call(
        self,
        method: str,
        path: str,
        payload: dict[str, Any] | None,
        *,
        query: dict[str, str] | None = None,
        signed: bool = True,
        timeout: float | None = None,
        retries: int | None = None,
    ) -> dict[str, Any]:
        body = b"" if payload is None else json.dumps(payload, separators=(",", ":")).encode()
        if query:
            path += "?" + urllib.parse.urlencode(query)
        full_path = self._base_path + path  # what the signature covers
        attempts = 1 + (self.retries if retries is None else retries)
        delay = self.backoff
        for attempt in range(1, attempts + 1):
            try:
                return self._once(method, full_path, body, signed, timeout or self.timeout)
            except ChannelError as exc:
                if not exc.network or attempt == attempts:
                    raise
                wait = min(delay, 30.0) * (0.5 + random.random())  # noqa: S311 - jitter only
                log.warning(
                    "agent.channel.retry %s %s: %s (attempt %d/%d, next in %.1f s)",
                    method,
                    path,
                    exc,
                    attempt,
                    attempts,
                    wait,
                )
                self._sleep(wait)
                delay *= 2
        raise AssertionError("unreachable")  # pragma: no cover

    def _send(
        self,
        method: str,
        path: str,
        body: bytes,
        headers: dict[str, str],
        signed: bool,
        timeout: float,
    ) -> bytes:
        for _ in range(2):
            if signed:  # signed anew each time: a nonce is good for one request
                headers.update(self._headers(method, path, body))
            try:
                return self._connections.request(
                    method, path, body if method != "GET" else None, headers, timeout
                )
            except StaleConnection:
                continue  # on a new connection this time
        raise AssertionError("unreachable")  # pragma: no cover

    def _once(
        self, method: str, path: str, body: bytes, signed: bool, timeout: float
    ) -> dict[str, Any]:
        headers = {
            "Accept": "application/json",
            "User-Agent": f"sspr-agent/{__version__}",
        }
        if method != "GET":
            headers["Content-Type"] = "application/json"
        try:
            raw = self._send(method, path, body, headers, signed, timeout)
        except HttpError as exc:
            code, message = _error_fields(exc.body)
            raise ChannelError(
                f"{method} {path} answered {exc.status}"
                + (f" {code}" if code else "")
                + (f": {message}" if message else ""),
                status=exc.status,
                code=code,
            ) from None
        except (OSError, http.client.HTTPException) as exc:
            raise ChannelError(f"{method} {path} failed: {_describe(exc)}") from None
        if not raw:
            return {}
        try:
            data = json.loads(raw)
        except ValueError:
            raise ChannelError(f"{method} {path} answered something that is not JSON") from None
        return data if isinstance(data, dict) else {"data": data}


def _error_fields(body: bytes) -> tuple[str, str]:
    try:
        data = json.loads(body or b"{}")
    except ValueError:
        return "", ""
    if not isinstance(data, dict):
        return "", ""
    # The service's errors are {"code", "message"}: short, and never an echo of a secret.
    return str(data.get("code", ""))[:80], str(data.get("message", ""))[:200]


def _describe(reason: object) -> str:
    if isinstance(reason, ssl.SSLCertVerificationError):
        return f"TLS certificate not trusted ({reason.verify_message}); see --ca-file"
    if isinstance(reason, BaseException):
        text = str(reason) or reason.__class__.__name__
        return text[:200]
    return str(reason)[:200]
