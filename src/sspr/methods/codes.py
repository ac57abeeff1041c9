"""One-time codes: random digits, stored as keyed hashes, single use, short-lived, bound."""

from __future__ import annotations

import hmac
import secrets
from datetime import timedelta

from django.db import transaction
from django.utils import timezone

from sspr.crypto import keyed_digest
from sspr.methods.models import OneTimeCode

CODE_LIFETIME = timedelta(minutes=5)
CODE_DIGITS = 8


def _digest(binding: str, method: str, code: str) -> str:
    # The binding and method are inside the MAC: a code for one gate is worthless at another.
    return keyed_digest("one-time-code", f"{binding}\x00{method}\x00{code}").hex()


def issue(binding: str, method: str, digits: int = CODE_DIGITS) -> str:
    """A fresh code for (binding, method); any earlier unused code for it stops working."""
    code = "".join(secrets.choice("0123456789") for _ in range(digits))
    now = timezone.now()
    with transaction.atomic():
        OneTimeCode.objects.filter(binding=binding, method=method, used_at__isnull=True).update(
            used_at=now
        )
        OneTimeCode.objects.create(
            binding=binding,
            method=method,
            code_hash=_digest(binding, method, code),
            expires_at=now + CODE_LIFETIME,
        )
    return code


def redeem(binding: str, method: str, code: str) -> bool:
    """True once for the live code; a used, replaced or expired code is refused."""
    cleaned = "".join(code.split())
    if not cleaned.isdigit() or not 6 <= len(cleaned) <= 8:
        return False
    expected = _digest(binding, method, cleaned)
    now = timezone.now()
    with transaction.atomic():
        live = (
            OneTimeCode.objects.select_for_update()
            .filter(binding=binding, method=method, used_at__isnull=True, expires_at__gt=now)
            .first()
        )
        if live is None or not hmac.compare_digest(live.code_hash, expected):
            return False
        live.used_at = now
        live.save(update_fields=["used_at"])
    return True
