"""Conditional access for the admin API: the "sign in to the admin portal" policies apply to a
bearer token acting as an administrator as they apply to the admin pages.

While the tenant has no such policy (or only ones that are off) a token is let in at the cost of
one query, and nothing is recorded: the token's own sign-in is already in the audit log. Once
there is one, the first request of a token from an address is evaluated and recorded ("Sign-in
to the admin portal", `channel: api`, with the evaluation); the outcome is kept for that token
and address until the policies or the named locations change. A refusal is the domain's:
403 `access_blocked` with the helpdesk link, or 403 `step_up_required` until the token proves a
registered method at `/api/v1/me/step-up`; refusals are recorded each time and never kept.
"""

from __future__ import annotations

import logging

from django.core.cache import cache
from django.db import transaction
from django.db.models import Count, Max
from django.utils import timezone

from sspr.access.enforcement import ADMIN_SIGN_IN, enforce
from sspr.access.models import AccessPolicy, NamedLocation
from sspr.audit import context
from sspr.audit.events import Activity, record
from sspr.directory.models import Credential, Tenant

log = logging.getLogger(__name__)

PREFIX = "sspr:admin-api-access:"


def _policies_version(tenant: Tenant) -> str:
    """Changes whenever a policy that could decide changes; empty when there is none."""
    policies = (
        AccessPolicy.objects.filter(tenant=tenant, action=ADMIN_SIGN_IN)
        .exclude(state=AccessPolicy.State.OFF)
        .aggregate(count=Count("pk"), changed=Max("updated_at"))
    )
    if not policies["count"]:
        return ""
    places = NamedLocation.objects.filter(tenant=tenant).aggregate(
        count=Count("pk"), changed=Max("updated_at")
    )
    return ":".join(
        f"{found['count']}-{found['changed'].timestamp() if found['changed'] else 0:.6f}"
        for found in (policies, places)
    )


def _key(credential: Credential, address: str, version: str) -> str:
    # created_at as well as the id: a row id may be used again after a deletion.
    made = f"{credential.created_at.timestamp():.6f}"
    return f"{PREFIX}{credential.pk}:{made}:{address}:{version}"


def _admitted(key: str) -> bool:
    try:
        return bool(cache.get(key))
    except Exception as error:  # noqa: BLE001 -- without the cache, evaluate every request
        log.warning("admin_access_cache_unavailable error=%s", type(error).__name__)
        return False


def _remember(key: str, credential: Credential) -> None:
    lasts = int((credential.expires_at - timezone.now()).total_seconds())
    try:
        cache.set(key, True, timeout=max(lasts, 1))
    except Exception as error:  # noqa: BLE001 -- the decision stands without being kept
        log.warning("admin_access_cache_unavailable error=%s", type(error).__name__)


def admin_api_gate(credential: Credential) -> None:
    """Let the token act as an administrator, or raise the policies' refusal (recorded)."""
    user = credential.user
    version = _policies_version(user.tenant)
    if not version:
        return
    key = _key(credential, context.current().ip, version)
    if _admitted(key):
        return
    details = enforce(credential, ADMIN_SIGN_IN, Activity.ADMIN_PORTAL_SIGN_IN)
    with transaction.atomic():
        record(
            user.tenant,
            Activity.ADMIN_PORTAL_SIGN_IN,
            actor=user,
            target=user,
            channel="api",
            conditional_access=details,
        )
    _remember(key, credential)
