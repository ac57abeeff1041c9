"""Password hashing with Argon2id, and the keyed fingerprints smart lockout compares."""

from __future__ import annotations

from contextlib import suppress
from functools import cache

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from django.conf import settings

from sspr.crypto import keyed_digest


@cache
def _hasher(time_cost: int, memory_kib: int, parallelism: int) -> PasswordHasher:
    return PasswordHasher(time_cost=time_cost, memory_cost=memory_kib, parallelism=parallelism)


def hasher() -> PasswordHasher:
    return _hasher(
        settings.ARGON2_TIME_COST, settings.ARGON2_MEMORY_KIB, settings.ARGON2_PARALLELISM
    )


def hash_password(password: str) -> str:
    return hasher().hash(password)


def verify_password(encoded: str, password: str) -> bool:
    """True when `password` matches `encoded`; an empty or damaged hash never matches."""
    if not encoded:
        # Spend the same time as a real check so that timing does not tell accounts apart.
        burn_time(password)
        return False
    try:
        return hasher().verify(encoded, password)
    except (VerificationError, InvalidHashError):
        return False


def needs_rehash(encoded: str) -> bool:
    return hasher().check_needs_rehash(encoded)


@cache
def _dummy_hash(time_cost: int, memory_kib: int, parallelism: int) -> str:
    return _hasher(time_cost, memory_kib, parallelism).hash("not a password of anyone")


def burn_time(password: str) -> None:
    """Do the work of one verification against a hash nobody holds."""
    encoded = _dummy_hash(
        settings.ARGON2_TIME_COST, settings.ARGON2_MEMORY_KIB, settings.ARGON2_PARALLELISM
    )
    with suppress(VerificationError):
        hasher().verify(encoded, password)


def fingerprint(password: str, purpose: str) -> str:
    """A keyed, truncated digest: enough to recognise a repeat, useless to guess from."""
    return keyed_digest(purpose, password).hex()[:24]
