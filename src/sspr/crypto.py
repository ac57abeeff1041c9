"""Secrets at rest (authenticator app keys), sealed with a key derived from SECRET_KEY."""

from __future__ import annotations

import base64
import hashlib
import hmac

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from django.conf import settings


def _fernet(secret: str) -> Fernet:
    key = hmac.new(secret.encode(), b"sspr sealed secrets v1", hashlib.sha256).digest()
    return Fernet(base64.urlsafe_b64encode(key))


def _keys() -> MultiFernet:
    fallbacks = getattr(settings, "SECRET_KEY_FALLBACKS", [])
    return MultiFernet([_fernet(settings.SECRET_KEY), *(_fernet(k) for k in fallbacks)])


def seal(plaintext: str) -> str:
    return _keys().encrypt(plaintext.encode()).decode()


def unseal(token: str) -> str:
    try:
        return _keys().decrypt(token.encode()).decode()
    except InvalidToken:
        raise ValueError("sealed value cannot be opened with the current keys") from None


def keyed_digest(purpose: str, value: str) -> bytes:
    """A stable HMAC of `value` for `purpose`: for hashing codes and making decoys."""
    key = hashlib.sha256(f"{purpose}:{settings.SECRET_KEY}".encode()).digest()
    return hmac.new(key, value.encode(), hashlib.sha256).digest()
