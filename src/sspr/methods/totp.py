"""Authenticator app codes (TOTP, RFC 6238): 30-second steps, one step of drift, no replays."""

from __future__ import annotations

import hmac
import time
from typing import Any

import pyotp
import segno
from django.db.models import Q
from django.utils.translation import gettext_noop

from sspr.crypto import seal, unseal
from sspr.methods.base import Method
from sspr.methods.models import RegisteredMethod

STEP_SECONDS = 30
DRIFT_STEPS = 1


def _matching_step(secret: str, code: str, now: float) -> int | None:
    totp = pyotp.TOTP(secret, interval=STEP_SECONDS)
    current = int(now // STEP_SECONDS)
    for step in range(current - DRIFT_STEPS, current + DRIFT_STEPS + 1):
        if hmac.compare_digest(totp.generate_otp(step), code):
            return step
    return None


def accept(registration: RegisteredMethod, code: str, now: float | None = None) -> bool:
    """Accept `code` once: the step it belongs to, and every earlier one, is then spent."""
    cleaned = "".join(code.split())
    if len(cleaned) != 6 or not cleaned.isdigit() or not registration.secret:
        return False
    step = _matching_step(unseal(registration.secret), cleaned, time.time() if now is None else now)
    if step is None:
        return False
    # A conditional update: of two requests racing with the same code, only one wins.
    won = (
        RegisteredMethod.objects.filter(pk=registration.pk)
        .filter(Q(data__last_step__lt=step) | Q(data__last_step__isnull=True))
        .update(data={**registration.data, "last_step": step})
    )
    if won:
        registration.data = {**registration.data, "last_step": step}
    return bool(won)


class TotpMethod(Method):
    name = "totp"
    label = gettext_noop("Authenticator app code")

    def start_enrollment(
        self, registration: RegisteredMethod, payload: dict[str, Any]
    ) -> dict[str, Any]:
        secret = pyotp.random_base32()
        registration.secret = seal(secret)
        registration.save(update_fields=["secret"])
        user = registration.user
        uri = pyotp.TOTP(secret).provisioning_uri(name=user.upn, issuer_name=user.tenant.name)
        qr = segno.make(uri, error="m").svg_data_uri(scale=4)
        return {"otpauth_uri": uri, "secret": secret, "qr_svg": qr}

    def finish_enrollment(self, registration: RegisteredMethod, payload: dict[str, Any]) -> bool:
        return accept(registration, str(payload.get("code", "")))

    def challenge(
        self, registration: RegisteredMethod, binding: str, scratch: dict[str, Any]
    ) -> dict[str, Any]:
        return {}

    def verify(
        self,
        registration: RegisteredMethod,
        binding: str,
        payload: dict[str, Any],
        scratch: dict[str, Any],
    ) -> bool:
        return accept(registration, str(payload.get("code", "")))

    def hint(self, registration: RegisteredMethod) -> str:
        return "Authenticator app"

    def decoy_hint(self, digest: bytes, username: str) -> str:
        return "Authenticator app"
