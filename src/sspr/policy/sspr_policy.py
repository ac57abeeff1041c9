"""The self-service password reset policy: reading it, checking a change, seeing what the change
would do to the organisation's users, and applying it all at once (or not at all)."""

from __future__ import annotations

import unicodedata
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import transaction

from sspr.audit.events import Activity, record
from sspr.directory.models import Group, Tenant, User
from sspr.errors import InvalidValue
from sspr.methods.question_list import PREDEFINED_QUESTIONS
from sspr.policy.impact import impact_of
from sspr.policy.models import SsprPolicy
from sspr.policy.values import boolean as _bool
from sspr.policy.values import choice as _choice
from sspr.policy.values import int_between as _int_between
from sspr.policy.values import listing as _list

# One name per module of sspr.methods; a method is offered only once it exists there.
METHODS = ("email", "sms", "voice", "office_phone", "totp", "questions")
MAX_CUSTOM_QUESTIONS = 20
MAX_QUESTION_LENGTH = 200


def get_policy(tenant: Tenant) -> SsprPolicy:
    policy, _ = SsprPolicy.objects.get_or_create(tenant=tenant)
    return policy


def as_dict(policy: SsprPolicy) -> dict[str, Any]:
    return {
        "enabled_for": policy.enabled_for,
        "enabled_groups": sorted(g.name for g in policy.enabled_groups.all()),
        "methods_required": policy.methods_required,
        "methods_enabled": list(policy.methods_enabled),
        "questions_to_register": policy.questions_to_register,
        "questions_to_reset": policy.questions_to_reset,
        "custom_questions": list(policy.custom_questions),
        "sms_daily_limit": policy.sms_daily_limit,
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


def _methods(key: str, value: Any) -> list[str]:
    chosen = _list(value)
    unknown = [m[:32] for m in chosen if m not in METHODS]
    if unknown:
        raise InvalidValue(
            f"Unknown method {', '.join(unknown)}; the methods are {', '.join(METHODS)}.", field=key
        )
    return list(dict.fromkeys(chosen))


def _questions(key: str, value: Any) -> list[str]:
    """A list of questions, or text with one question per line (blank lines are skipped)."""
    if isinstance(value, str):
        questions = [line.strip() for line in value.splitlines() if line.strip()]
    elif isinstance(value, list | tuple):
        if not all(isinstance(q, str) for q in value):
            raise InvalidValue("Each custom question is a piece of text.", field=key)
        questions = [q.strip() for q in value]
        if not all(questions):
            raise InvalidValue("A custom question cannot be empty.", field=key)
    else:
        raise InvalidValue("custom_questions is a list of questions.", field=key)
    if len(questions) > MAX_CUSTOM_QUESTIONS:
        raise InvalidValue(
            f"At most {MAX_CUSTOM_QUESTIONS} custom questions; {len(questions)} were given.",
            field=key,
        )
    seen = {q.casefold() for q in PREDEFINED_QUESTIONS}
    for question in questions:
        shown = question if len(question) <= 60 else f"{question[:60]}…"
        if len(question) > MAX_QUESTION_LENGTH:
            raise InvalidValue(
                f"A custom question has at most {MAX_QUESTION_LENGTH} characters; "
                f"'{shown}' has {len(question)}.",
                field=key,
            )
        if any(unicodedata.category(c) == "Cc" for c in question):
            raise InvalidValue(
                "A custom question is plain text on one line, without control characters.",
                field=key,
            )
        if question.casefold() in seen:
            raise InvalidValue(
                f"The question '{shown}' is asked twice (perhaps in other letter case, or as "
                "one of the predefined questions); each question must be different.",
                field=key,
            )
        seen.add(question.casefold())
    return questions


def _is_email(text: str) -> bool:
    try:
        validate_email(text)
    except ValidationError:
        return False
    return True


def _helpdesk(key: str, value: Any) -> str:
    text = str(value).strip()
    # Shown as a link on the reset pages: only a web or mail address may become one (a
    # "javascript://x@y" would otherwise pass for an address).
    if text and not (text.startswith(("https://", "http://", "mailto:")) or _is_email(text)):
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
    bad = [t[:20] for t in terms if not 4 <= len(t) <= 16]
    if bad:
        raise InvalidValue(
            f"Banned terms are 4 to 16 characters long: {', '.join(bad[:5])}.", field=key
        )
    return terms


_PARSERS: dict[str, Callable[[str, Any], Any]] = {
    "enabled_for": _choice("none", "selected", "all"),
    "methods_required": _int_between(1, 2),
    "methods_enabled": _methods,
    "questions_to_register": _int_between(3, 5),
    "questions_to_reset": _int_between(3, 5),
    "custom_questions": _questions,
    "sms_daily_limit": _int_between(0, 1_000_000),
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
    names = list(dict.fromkeys(_list(value)))
    found = {g.name: g for g in Group.objects.filter(tenant=tenant, name__in=names)}
    missing = [n[:64] for n in names if n not in found]
    if missing:
        raise InvalidValue(
            f"No group called {', '.join(missing[:5])} in this organisation.",
            field="enabled_groups",
        )
    return [found[n] for n in names]


def _count(number: int, one: str, many: str) -> str:
    return f"{number} {one if number == 1 else many}"


def _check_combination(after: Mapping[str, Any]) -> None:
    """Refuse the combinations Entra refuses; the first one found is reported."""
    if after["enabled_for"] == "selected" and not after["enabled_groups"]:
        raise InvalidValue(
            "Choose at least one group when password reset is enabled for selected users.",
            field="enabled_groups",
        )
    required, methods = after["methods_required"], after["methods_enabled"]
    if len(methods) < required:
        offered = f"only {_count(len(methods), 'is', 'are')}" if methods else "no method is"
        raise InvalidValue(
            f"{_count(required, 'method is', 'methods are')} required to reset a password, but "
            f"{offered} offered: offer more methods or require fewer.",
            field="methods_enabled",
        )
    if "totp" in methods and len(methods) - 1 < required:
        needed = "at least one other method" if required == 1 else "at least two other methods"
        raise InvalidValue(
            "The authenticator app cannot be the only method: with "
            f"{_count(required, 'method', 'methods')} required to reset, offer {needed} "
            "besides the app.",
            field="methods_enabled",
        )
    if after["questions_to_reset"] > after["questions_to_register"]:
        raise InvalidValue(
            f"Users register {after['questions_to_register']} security questions, so they "
            f"cannot be asked {after['questions_to_reset']} at reset: the number of questions "
            "to reset cannot exceed the number to register.",
            field="questions_to_reset",
        )
    # Custom questions without the "questions" method are kept for when it is switched on.


@dataclass(frozen=True)
class _Change:
    """A checked change: the settings before and after, and what to store."""

    before: dict[str, Any]
    after: dict[str, Any]
    parsed: dict[str, Any]
    groups: list[Group] | None
    groups_before: list[Group]

    @property
    def changed(self) -> dict[str, dict[str, Any]]:
        return {
            k: {"old": self.before[k], "new": self.after[k]}
            for k in self.after
            if self.before[k] != self.after[k]
        }


def _check(tenant: Tenant, policy: SsprPolicy, changes: Mapping[str, Any]) -> _Change:
    """Parse and check every key of `changes` against `policy`; raise InvalidValue on the first
    problem. Nothing is stored."""
    if not isinstance(changes, Mapping):
        raise InvalidValue("A policy change is a set of settings and their new values.")
    unknown = [str(k)[:40] for k in changes if k not in KEYS]
    if unknown:
        raise InvalidValue(
            f"Unknown policy setting {', '.join(unknown[:5])}; the settings are {', '.join(KEYS)}.",
            field=unknown[0],
        )
    groups_before = list(policy.enabled_groups.all())
    before = as_dict(policy)
    parsed = {k: _PARSERS[k](k, v) for k, v in changes.items() if k != "enabled_groups"}
    groups = _groups(tenant, changes["enabled_groups"]) if "enabled_groups" in changes else None
    after = {**before, **parsed}
    if groups is not None:
        after["enabled_groups"] = sorted(g.name for g in groups)
    _check_combination(after)
    return _Change(before, after, parsed, groups, groups_before)


def preview_impact(tenant: Tenant, changes: Mapping[str, Any]) -> dict[str, Any]:
    """What `changes` would do, checked exactly as update_policy checks them; nothing is saved.

    The answer counts users in scope and users able to reset before and after, how many would
    lose self-service reset, and up to five of them by user name.
    """
    policy = get_policy(tenant)
    change = _check(tenant, policy, changes)
    return impact_of(tenant, policy, change.after, change.groups_before, change.groups)


@dataclass(frozen=True)
class PolicyUpdate:
    policy: SsprPolicy
    # The same shape as preview_impact's answer, measured just before the change was saved.
    impact: dict[str, Any]


@transaction.atomic
def update_policy_with_impact(
    tenant: Tenant, changes: Mapping[str, Any], actor: User | str | None
) -> PolicyUpdate:
    """Apply `changes` all together or not at all; the audit event holds old and new values."""
    policy = SsprPolicy.objects.select_for_update().get(pk=get_policy(tenant).pk)
    change = _check(tenant, policy, changes)
    impact = impact_of(tenant, policy, change.after, change.groups_before, change.groups)
    for key, value in change.parsed.items():
        setattr(policy, key, value)
    policy.save()
    if change.groups is not None:
        policy.enabled_groups.set(change.groups)
    record(
        tenant,
        Activity.UPDATE_SSPR_POLICY,
        actor=actor,
        target="Password reset policy",
        changes=change.changed,
        users_losing_reset=impact["users_losing_reset"],
    )
    return PolicyUpdate(policy, impact)


def update_policy(
    tenant: Tenant, changes: Mapping[str, Any], actor: User | str | None
) -> SsprPolicy:
    """Apply `changes` all together or not at all (see update_policy_with_impact)."""
    return update_policy_with_impact(tenant, changes, actor).policy
