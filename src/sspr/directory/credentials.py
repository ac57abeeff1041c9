"""Signed-in sessions and API tokens: random secrets of which only a SHA-256 is kept."""

from __future__ import annotations

import hashlib
import secrets
from datetime import timedelta

from django.conf import settings
from django.utils import timezone

from sspr.directory.models import Credential, User


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def issue(user: User, kind: str) -> tuple[str, Credential]:
    token = secrets.token_urlsafe(32)
    credential = Credential.objects.create(
        user=user,
        kind=kind,
        token_hash=_digest(token),
        expires_at=timezone.now() + timedelta(hours=settings.API_TOKEN_HOURS),
    )
    return token, credential


def resolve(token: str) -> Credential | None:
    """The live credential for `token`, or None. The lookup is by hash, so no timing leaks."""
    if not token or len(token) > 128:
        return None
    credential = (
        Credential.objects.select_related("user", "user__tenant")
        .filter(token_hash=_digest(token), revoked_at__isnull=True, expires_at__gt=timezone.now())
        .first()
    )
    if credential is None or not credential.user.enabled:
        return None
    return credential


def revoke(credential: Credential) -> None:
    Credential.objects.filter(pk=credential.pk, revoked_at__isnull=True).update(
        revoked_at=timezone.now()
    )


def revoke_all_except(user: User, keep: Credential | None) -> int:
    others = Credential.objects.filter(user=user, revoked_at__isnull=True)
    if keep is not None:
        others = others.exclude(pk=keep.pk)
    return others.update(revoked_at=timezone.now())
