"""ALTCHA proof of work: a challenge the browser solves in about a second, checked once.

The challenge is ALTCHA's v1 format (SHA-256, challenge, maxnumber, salt, signature); the salt
carries its expiry and the signature is an HMAC with a key derived from SECRET_KEY, so nothing
is stored until a solution is accepted. Then its signature is remembered in the cache until it
expires, so each solved challenge opens one door only.
"""

from __future__ import annotations

import base64
import binascii
import json
import logging
import time
from datetime import UTC, datetime, timedelta
from typing import Any

from altcha.v1 import (
    SHA256,
    AlgoType,
    ChallengeOptions,
    Payload,
    create_challenge,
    solve_challenge,
    verify_solution,
)
from django.conf import settings
from django.core.cache import cache

from sspr.crypto import keyed_digest
from sspr.errors import DomainError

ALGORITHM: AlgoType = SHA256
LIFETIME = timedelta(minutes=10)
DEFAULT_MAX_NUMBER = 50_000
_MAX_PAYLOAD = 4096
_USED_PREFIX = "sspr:captcha:used:"

log = logging.getLogger(__name__)


class CaptchaRequired(DomainError):
    status = 400
    code = "captcha_required"


def _hmac_key() -> str:
    return keyed_digest("altcha", "hmac-key").hex()


def new_challenge(*, lifetime: timedelta = LIFETIME) -> dict[str, Any]:
    """A fresh challenge, as the ALTCHA widget (and captcha.js) expects it."""
    challenge = create_challenge(
        ChallengeOptions(
            algorithm=ALGORITHM,
            max_number=int(getattr(settings, "CAPTCHA_MAX_NUMBER", DEFAULT_MAX_NUMBER)),
            hmac_key=_hmac_key(),
            expires=datetime.now(UTC) + lifetime,
        )
    )
    return {
        "algorithm": challenge.algorithm,
        "challenge": challenge.challenge,
        "maxnumber": challenge.max_number,
        "salt": challenge.salt,
        "signature": challenge.signature,
    }


def solve(challenge: dict[str, Any]) -> str:
    """The payload a browser would submit for `challenge` (for tests and API clients)."""
    solution = solve_challenge(
        str(challenge["challenge"]),
        str(challenge["salt"]),
        ALGORITHM,
        int(challenge["maxnumber"]),
    )
    if solution is None:
        raise ValueError("the challenge has no solution up to its maxnumber")
    return Payload(
        ALGORITHM,
        str(challenge["challenge"]),
        solution.number,
        str(challenge["salt"]),
        str(challenge["signature"]),
    ).to_base64()


def _parse(payload: str) -> Payload | None:
    """The submitted solution if it has exactly the shape of one, else None."""
    if not isinstance(payload, str) or not payload or len(payload) > _MAX_PAYLOAD:
        return None
    try:
        data = json.loads(base64.b64decode(payload.strip(), validate=True))
    except (binascii.Error, ValueError, UnicodeDecodeError):
        return None
    if not isinstance(data, dict) or data.get("algorithm") != ALGORITHM:
        return None
    challenge, salt, signature = data.get("challenge"), data.get("salt"), data.get("signature")
    number = data.get("number")
    if not (isinstance(challenge, str) and isinstance(salt, str) and isinstance(signature, str)):
        return None
    if type(number) is not int or not 0 <= number <= 10**12:
        return None
    return Payload(ALGORITHM, challenge, number, salt, signature)


def _expires(solution: Payload) -> int | None:
    """The expiry the salt carries: exactly one, a plain Unix time, or None."""
    values = solution.parse_salt()[2].get("expires") or []
    if len(values) != 1 or not values[0].isdigit():
        return None
    return int(values[0])


def verify(payload: str) -> bool:
    """True once for a correct, unexpired solution; False for anything else. Never raises."""
    try:
        solution = _parse(payload)
        if solution is None:
            return False
        expires = _expires(solution)
        remaining = (expires or 0) - int(time.time())
        if expires is None or remaining <= 0:
            return False
        ok, _error = verify_solution(solution, _hmac_key(), check_expires=True)
        if not ok:
            return False
        # Single use: the first verifier to add the signature wins, in any process sharing
        # the cache. Kept a little past expiry so a clock step cannot reopen it.
        return bool(cache.add(_USED_PREFIX + solution.signature, 1, timeout=remaining + 60))
    except Exception as error:  # noqa: BLE001 -- a CAPTCHA check answers no, it does not fail
        log.warning("captcha_verify_error error=%s", type(error).__name__)
        return False


def require(payload: str | None) -> None:
    """Raise CaptchaRequired unless `payload` is a fresh solution (missing, wrong or reused)."""
    if not payload:
        raise CaptchaRequired(
            "Complete the check that you are not a robot. It needs JavaScript; if it is "
            "switched off, switch it on and try again."
        )
    if not verify(payload):
        raise CaptchaRequired(
            "The check that you are not a robot did not pass or has expired. Try again."
        )
