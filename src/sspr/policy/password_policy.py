"""The cloud password rules of a tenant: presets, reading them, changing them checked."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from django.db import transaction

from sspr.audit.events import Activity, record
from sspr.directory.models import Tenant, User
from sspr.errors import InvalidValue
from sspr.policy.models import PasswordPolicy
from sspr.policy.sspr_policy import get_policy
from sspr.policy.values import boolean, int_between

Preset = PasswordPolicy.Preset

PRESETS: dict[str, dict[str, Any]] = {
    # Entra ID's cloud password policy: 8-256 characters, 3 of 4 classes.
    Preset.ENTRA: {"min_length": 8, "max_length": 256, "min_character_classes": 3},
    # NIST SP 800-63B-4: 15 or more characters when the password is the only factor, at least 64
    # allowed, no composition rules; blocklists of breached, common and context words.
    Preset.NIST: {
        "min_length": 15,
        "max_length": 256,
        "min_character_classes": 0,
        "check_banned": True,
        "check_breached": True,
        "forbid_account_name": True,
    },
}

_NUMBERS = {"min_length": (4, 256), "max_length": (64, 1024), "min_character_classes": (0, 4)}
_SWITCHES = (
    "forbid_account_name",
    "check_banned",
    "check_breached",
    "breached_online",
    "breached_fail_closed",
)
# Kept with the SSPR policy (PRODUCT.md section 8) and shown here too.
_SHARED = ("banned_passwords", "password_protection")
KEYS = ("preset", *_NUMBERS, *_SWITCHES, *_SHARED)


def password_policy(tenant: Tenant) -> PasswordPolicy:
    policy, _ = PasswordPolicy.objects.get_or_create(tenant=tenant)
    return policy


def as_dict(policy: PasswordPolicy) -> dict[str, Any]:
    shared = get_policy(policy.tenant)
    return {
        "preset": policy.preset,
        **{key: getattr(policy, key) for key in (*_NUMBERS, *_SWITCHES)},
        "banned_passwords": list(shared.banned_passwords),
        "password_protection": shared.password_protection,
    }


def _parse(changes: Mapping[str, Any]) -> dict[str, Any]:
    unknown = [k for k in changes if k not in KEYS]
    if unknown:
        raise InvalidValue(
            f"Unknown password policy setting {', '.join(unknown)}; the settings "
            f"are {', '.join(KEYS)}.",
            field=unknown[0],
        )
    parsed: dict[str, Any] = {}
    if "preset" in changes:
        preset = str(changes["preset"]).strip().lower()
        if preset not in PRESETS:
            raise InvalidValue("preset is one of entra, nist.", field="preset")
        parsed.update(PRESETS[preset], preset=preset)
    for key, (low, high) in _NUMBERS.items():
        if key in changes:
            parsed[key] = int_between(low, high)(key, changes[key])
    for key in _SWITCHES:
        if key in changes:
            parsed[key] = boolean(key, changes[key])
    if parsed.get("min_length", 0) > parsed.get("max_length", 1024):
        raise InvalidValue("min_length cannot be more than max_length.", field="min_length")
    explicit = set(changes) - {"preset", *_SHARED}
    if explicit and "preset" not in changes:
        parsed["preset"] = Preset.CUSTOM
    return parsed


@transaction.atomic
def update_password_policy(
    tenant: Tenant, changes: Mapping[str, Any], actor: User | str | None
) -> PasswordPolicy:
    """Apply `changes` together or not at all; audited with old and new values."""
    from sspr.policy.sspr_policy import update_policy

    policy = PasswordPolicy.objects.select_for_update().get(pk=password_policy(tenant).pk)
    before = as_dict(policy)
    parsed = _parse(changes)
    merged = {**before, **parsed}
    if merged["min_length"] > merged["max_length"]:
        raise InvalidValue("min_length cannot be more than max_length.", field="min_length")
    shared = {k: changes[k] for k in _SHARED if k in changes}
    if shared:
        update_policy(tenant, shared, actor)
    for key, value in parsed.items():
        setattr(policy, key, value)
    policy.save()
    after = as_dict(policy)
    changed = {k: {"old": before[k], "new": after[k]} for k in after if before[k] != after[k]}
    record(
        tenant,
        Activity.UPDATE_PASSWORD_POLICY,
        actor=actor,
        target="Password policy",
        changes=changed,
    )
    return policy
