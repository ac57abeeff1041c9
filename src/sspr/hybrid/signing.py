"""Signatures both ways: the service signs commands, agents sign every request they make.

The service's Ed25519 key is created once, on first use, and kept in the database sealed with
the secret key (`sspr.crypto.seal`). An agent's request carries its id, a timestamp, a nonce and
an Ed25519 signature over `METHOD\\nPATH\\nTIMESTAMP\\nNONCE\\nSHA256_HEX(body)`; a timestamp
more than five minutes away or a nonce seen before is refused, so a captured request cannot be
played again.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import re
import time
from collections.abc import Callable, Mapping
from datetime import timedelta
from typing import Any

from django.core.cache import cache
from django.db import IntegrityError, transaction
from django.utils import timezone
from nacl.exceptions import BadSignatureError
from nacl.signing import SigningKey, VerifyKey

from sspr.crypto import seal, unseal
from sspr.errors import DomainError
from sspr.hybrid.models import Agent, ServiceKey
from sspr.redis_client import Outage
from sspr_protocol.messages import Command, canonical

TIMESTAMP_WINDOW = 300  # seconds either side of our clock
LAST_SEEN_PRECISION = timedelta(seconds=10)
# A nonce must be remembered for as long as its timestamp could still be accepted.
NONCE_TTL = 2 * TIMESTAMP_WINDOW + 60

HEADER_AGENT = "X-SSPR-Agent"
HEADER_TIMESTAMP = "X-SSPR-Timestamp"
HEADER_NONCE = "X-SSPR-Nonce"
HEADER_SIGNATURE = "X-SSPR-Signature"

_AGENT_ID = re.compile(r"^[0-9a-f]{32}$")
_NONCE = re.compile(r"^[0-9a-f]{32}$")
_TIMESTAMP = re.compile(r"^[0-9]{1,12}$")


class AgentUnauthenticated(DomainError):
    status = 401
    code = "agent_unauthenticated"


class ReplayCheckUnavailable(DomainError):
    """The nonces are kept in the cache (Redis, with several app processes). Without it a
    request cannot be told from a replay, so it is refused; the agent retries a 503."""

    status = 503
    code = "replay_check_unavailable"

    def __init__(self) -> None:
        super().__init__(
            "The service cannot check this request against replays right now, so it did not "
            "act on it. Try again in a moment."
        )


_nonce_store = Outage("agent-nonces")


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def unb64(value: str, size: int | None = None) -> bytes:
    """Standard base64 to bytes; ValueError when it is not, or not `size` bytes long."""
    try:
        data = base64.b64decode(value.encode(), validate=True)
    except (binascii.Error, UnicodeEncodeError):
        raise ValueError("not base64") from None
    if size is not None and len(data) != size:
        raise ValueError(f"expected {size} bytes, got {len(data)}")
    return data


def _service_row() -> ServiceKey:
    row = ServiceKey.objects.order_by("pk").first()
    if row is not None:
        return row
    key = SigningKey.generate()
    try:
        with transaction.atomic():
            return ServiceKey.objects.create(
                pk=1,
                sealed_private_key=seal(b64(bytes(key))),
                public_key=b64(bytes(key.verify_key)),
            )
    except IntegrityError:  # another process created it first: use theirs
        return ServiceKey.objects.get(pk=1)


_last_unsealed: tuple[str, SigningKey] | None = None  # unsealed once, not per command


def service_key() -> SigningKey:
    global _last_unsealed
    sealed = _service_row().sealed_private_key
    last = _last_unsealed
    if last is None or last[0] != sealed:
        last = _last_unsealed = (sealed, SigningKey(unb64(unseal(sealed), 32)))
    return last[1]


def service_public_key() -> str:
    """Base64 of the service's Ed25519 public key, which agents pin at enrolment."""
    return _service_row().public_key


def envelopes(commands: list[Command]) -> list[dict[str, Any]]:
    """`{"command": {...}, "signature": "<b64>"}` for each command: an Ed25519 signature over
    its canonical JSON, with the service key read once for all of them."""
    if not commands:
        return []
    key = service_key()
    signed = []
    for command in commands:
        unsigned = command.unsigned()
        signed.append(
            {"command": unsigned, "signature": b64(key.sign(canonical(unsigned)).signature)}
        )
    return signed


def request_message(method: str, path: str, timestamp: str, nonce: str, body: bytes) -> bytes:
    """The bytes an agent signs for one request (see docs/agent-channel.md)."""
    digest = hashlib.sha256(body).hexdigest()
    return f"{method.upper()}\n{path}\n{timestamp}\n{nonce}\n{digest}".encode()


def verify_request(
    method: str,
    path: str,
    headers: Mapping[str, str],
    read_body: Callable[[], bytes],
    *,
    now: float | None = None,
) -> Agent:
    """The live agent that signed this request, or AgentUnauthenticated.

    `path` is the path and query string as sent. The body is read only once the headers name a
    live agent and a fresh timestamp; the nonce is remembered only once the signature holds, so
    nobody without the agent's key can use up its nonces.
    """
    agent_id = headers.get(HEADER_AGENT, "")
    timestamp = headers.get(HEADER_TIMESTAMP, "")
    nonce = headers.get(HEADER_NONCE, "")
    signature_b64 = headers.get(HEADER_SIGNATURE, "")
    if not (
        _AGENT_ID.match(agent_id)
        and _TIMESTAMP.match(timestamp)
        and _NONCE.match(nonce)
        and signature_b64
    ):
        raise AgentUnauthenticated(
            "This call needs the signed agent headers X-SSPR-Agent, X-SSPR-Timestamp, "
            "X-SSPR-Nonce (32 hex digits) and X-SSPR-Signature."
        )
    clock = time.time() if now is None else now
    if abs(clock - int(timestamp)) > TIMESTAMP_WINDOW:
        raise AgentUnauthenticated(
            "The request's timestamp is more than five minutes away from the service's clock. "
            "Check the agent host's clock (NTP)."
        )
    agent = (
        Agent.objects.select_related("tenant").filter(pk=agent_id, revoked_at__isnull=True).first()
    )
    if agent is None:
        raise AgentUnauthenticated(
            "This agent is not enrolled, or it was revoked. Enrol it again with a new token."
        )
    try:
        signature = unb64(signature_b64, 64)
        VerifyKey(unb64(agent.sign_public_key, 32)).verify(
            request_message(method, path, timestamp, nonce, read_body()), signature
        )
    except (ValueError, BadSignatureError):
        raise AgentUnauthenticated("The request's signature does not verify.") from None
    try:
        fresh = cache.add(f"sspr:agent-nonce:{agent_id}:{nonce}", 1, timeout=NONCE_TTL)
    except Exception as error:  # noqa: BLE001 -- whatever failed, the nonce is not vouched for
        _nonce_store.begin(error, "refuse")
        raise ReplayCheckUnavailable() from None
    _nonce_store.over()
    if not fresh:
        raise AgentUnauthenticated("This request was already received once (nonce seen before).")
    seen = timezone.now()
    if agent.last_seen_at is None or seen - agent.last_seen_at > LAST_SEEN_PRECISION:
        # A write per request would put every call of a busy agent behind the database's
        # write lock (SQLite has one); the admin page shows minutes, not seconds.
        Agent.objects.filter(pk=agent.pk).update(last_seen_at=seen)
    return agent
