"""The self-service password reset policy: reading it, and changing it one checked key at a time."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from django.db import transaction

from sspr.audit.events import Activity, record
from sspr.directory.models import Group, Tenant, User
from sspr.errors import InvalidValue
from sspr.policy.models import SsprPolicy

METHODS = ("email", "sms", "voice", "office_phone", "totp", "questions", "passkey")


def get_policy(tenant: Tenant) -> SsprPolicy:
    policy, _ = SsprPolicy.objects.get_or_create(tenant=tenant)
    return policy


def as_dict(policy: SsprPolicy) -> dict[str, Any]:
    return {
        "enabled_for": policy.enabled_for,
        "enabled_groups": sorted(g.name for g in policy.enabled_groups.all()),
        "methods_required": policy.methods_required,
        "methods_enabled": list(policy.methods_enabled),
        "captcha_enabled": policy.captcha_enabled,
        "registration_required": policy.registration_required,
        "reconfirm_days": policy.reconfirm_days,
        "notify_users": policy.notify_users,
        "notify_admins": policy.notify_admins,
        "helpdesk_url": policy.helpdesk_url,
        "writeback_enabled": policy.writeback_enabled,
        "unlock_enabled": policy.unlock_enabled,
        "banned_passwords": list(policy.banned_passwords),
        "password_protection": policy.password_protection,
    }


def _bool(key: str, value: Any) -> bool:
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in {"true", "yes", "on", "1"}:
        return True
    if text in {"false", "no", "off", "0"}:
        return False
    raise InvalidValue(f"{key} is true or false, not '{value}'.", field=key)


def _list(value: Any) -> list[str]:
    items = value if isinstance(value, list) else str(value).split(",")
    return [str(item).strip() for item in items if str(item).strip()]


def _choice(*choices: str) -> Callable[[str, Any], str]:
    def parse(key: str, value: Any) -> str:
        text = str(value).strip().lower()
        if text not in choices:
            raise InvalidValue(f"{key} is one of {', '.join(choices)}; not '{value}'.", field=key)
        return text

    return parse


def _int_between(low: int, high: int) -> Callable[[str, Any], int]:
    def parse(key: str, value: Any) -> int:
        try:
            number = int(str(value).strip())
        except ValueError:
            raise InvalidValue(
                f"{key} is a whole number from {low} to {high}.", field=key
            ) from None
        if not low <= number <= high or isinstance(value, bool):
            raise InvalidValue(f"{key} is a whole number from {low} to {high}.", field=key)
        return number

    return parse


def _methods(key: str, value: Any) -> list[str]:
    chosen = _list(value)
    unknown = [m for m in chosen if m not in METHODS]
    if unknown:
        raise InvalidValue(
            f"Unknown method {', '.join(unknown)}; the methods are {', '.join(METHODS)}.", field=key
        )
    return list(dict.fromkeys(chosen))


def _helpdesk(key: str, value: Any) -> str:
    text = str(value).strip()
    if text and not (text.startswith(("https://", "http://", "mailto:")) or "@" in text):
        raise InvalidValue(
            "helpdesk_url is a web address (https://...) or an email address.", field=key
        )
    if len(text) > 512:
        raise InvalidValue("helpdesk_url is at most 512 characters.", field=key)
    return text


def _terms(key: str, value: Any) -> list[str]:
    terms = list(dict.fromkeys(t.lower() for t in _list(value)))
    if len(terms) > 1000:
        raise InvalidValue("The custom banned list holds at most 1,000 terms.", field=key)
    bad = [t for t in terms if not 4 <= len(t) <= 16]
    if bad:
        raise InvalidValue(
            f"Banned terms are 4 to 16 characters long: {', '.join(bad[:5])}.", field=key
        )
    return terms


_PARSERS: dict[str, Callable[[str, Any], Any]] = {
    "enabled_for": _choice("none", "selected", "all"),
    "methods_required": _int_between(1, 2),
    "methods_enabled": _methods,
    "captcha_enabled": _bool,
    "registration_required": _bool,
    "reconfirm_days": _int_between(0, 730),
    "notify_users": _bool,
    "notify_admins": _bool,
    "helpdesk_url": _helpdesk,
    "writeback_enabled": _bool,
    "unlock_enabled": _bool,
    "banned_passwords": _terms,
    "password_protection": _choice("enforce", "audit"),
}
KEYS = (*_PARSERS, "enabled_groups")


def _groups(tenant: Tenant, value: Any) -> list[Group]:
    names = _list(value)
    found = {g.name: g for g in Group.objects.filter(tenant=tenant, name__in=names)}
    missing = [n for n in names if n not in found]
    if missing:
        raise InvalidValue(
            f"No group called {', '.join(missing)} in this organisation.", field="enabled_groups"
        )
    return [found[n] for n in names]


def _check_combination(after: Mapping[str, Any]) -> None:
    if after["enabled_for"] == "selected" and not after["enabled_groups"]:
        raise InvalidValue(
            "Choose at least one group when password reset is enabled for selected users.",
            field="enabled_groups",
        )
    if len(after["methods_enabled"]) < after["methods_required"]:
        raise InvalidValue(
            f"{after['methods_required']} methods are required to reset, but "
            f"only {len(after['methods_enabled'])} are offered.",
            field="methods_enabled",
        )


@transaction.atomic
def update_policy(
    tenant: Tenant, changes: Mapping[str, Any], actor: User | str | None
) -> SsprPolicy:
    """Apply `changes` all together or not at all; the audit event holds old and new values."""
    unknown = [k for k in changes if k not in KEYS]
    if unknown:
        raise InvalidValue(
            f"Unknown policy setting {', '.join(unknown)}; the settings are {', '.join(KEYS)}.",
            field=unknown[0],
        )
    policy = SsprPolicy.objects.select_for_update().get(pk=get_policy(tenant).pk)
    before = as_dict(policy)
    parsed = {k: _PARSERS[k](k, v) for k, v in changes.items() if k != "enabled_groups"}
    groups = _groups(tenant, changes["enabled_groups"]) if "enabled_groups" in changes else None
    after = {**before, **parsed}
    if groups is not None:
        after["enabled_groups"] = sorted(g.name for g in groups)
    _check_combination(after)
    for key, value in parsed.items():
        setattr(policy, key, value)
    policy.save()
    if groups is not None:
        policy.enabled_groups.set(groups)
    changed = {k: {"old": before[k], "new": after[k]} for k in after if before[k] != after[k]}
    record(
        tenant,
        Activity.UPDATE_SSPR_POLICY,
        actor=actor,
        target="Password reset policy",
        changes=changed,
    )
    return policy
