"""Conditional access policies of a tenant: read, create, change, delete; each change audited.

Settings are the same words everywhere (API, `sspr access-policy`, the admin page):
`action`, `state`, `include_all`, `include_groups`, `include_roles`, `include_users`,
`exclude_groups`, `exclude_roles`, `exclude_users`, `where`, `locations`, `decision`, and
`name`. Groups and locations are named, users by UPN, roles as in `sspr user create`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from django.db import IntegrityError, transaction
from django.utils import timezone

from sspr.access.locations import get_location
from sspr.access.models import AccessPolicy, Action, NamedLocation
from sspr.access.policies import DECISIONS, STATES, WHERE, Rule
from sspr.audit.events import Activity, record
from sspr.directory.identifiers import normalise_upn
from sspr.directory.models import Group, Tenant, User
from sspr.directory.roles import Role
from sspr.errors import Conflict, InvalidValue, NotFound
from sspr.policy.values import boolean, choice, listing

MAX_POLICIES = 195
MAX_NAME = 200
MAX_MEMBERS = 1000
ACTIONS = tuple(a.value for a in Action)
SETTINGS = (
    "name",
    "action",
    "state",
    "include_all",
    "include_groups",
    "include_roles",
    "include_users",
    "exclude_groups",
    "exclude_roles",
    "exclude_users",
    "where",
    "locations",
    "decision",
)


class UnknownGroup(InvalidValue):
    code = "unknown_group"


class UnknownRole(InvalidValue):
    code = "unknown_role"


class UnknownUser(InvalidValue):
    code = "unknown_user"


class UnknownLocationSetting(InvalidValue):
    code = "unknown_location"


class NobodyIncluded(InvalidValue):
    code = "no_users_included"


class PolicyNameTaken(Conflict):
    code = "policy_name_taken"


class UnknownPolicy(NotFound):
    code = "unknown_policy"


def list_policies(tenant: Tenant, action: str | None = None) -> list[AccessPolicy]:
    found = AccessPolicy.objects.filter(tenant=tenant).prefetch_related(
        "include_groups", "include_users", "exclude_groups", "exclude_users", "locations"
    )
    if action:
        found = found.filter(action=action)
    return list(found.order_by("name"))


def get_access_policy(tenant: Tenant, key: str | int) -> AccessPolicy:
    """By id or by name, within the tenant."""
    text = str(key).strip()[:MAX_NAME]
    found = AccessPolicy.objects.filter(tenant=tenant, name=text).first()
    if found is None and text.isdigit() and len(text) < 19:
        found = AccessPolicy.objects.filter(tenant=tenant, pk=int(text)).first()
    if found is None:
        raise UnknownPolicy(f"There is no conditional access policy '{text}' here.")
    return found


def as_dict(policy: AccessPolicy) -> dict[str, Any]:
    return {
        "id": policy.pk,
        "name": policy.name,
        "action": policy.action,
        "state": policy.state,
        "include_all": policy.include_all,
        "include_groups": sorted(g.name for g in policy.include_groups.all()),
        "include_roles": sorted(policy.include_roles),
        "include_users": sorted(u.upn for u in policy.include_users.all()),
        "exclude_groups": sorted(g.name for g in policy.exclude_groups.all()),
        "exclude_roles": sorted(policy.exclude_roles),
        "exclude_users": sorted(u.upn for u in policy.exclude_users.all()),
        "where": policy.where,
        "locations": sorted(loc.name for loc in policy.locations.all()),
        "decision": policy.decision,
    }


def _name(value: Any) -> str:
    name = str(value).strip()
    if not 1 <= len(name) <= MAX_NAME:
        raise InvalidValue(f"A name has 1 to {MAX_NAME} characters.", field="name")
    return name


def _names(key: str, value: Any) -> list[str]:
    names = listing(value)
    if len(names) > MAX_MEMBERS:
        raise InvalidValue(f"{key} names at most {MAX_MEMBERS:,}.", field=key)
    return names


def _groups(tenant: Tenant, key: str, value: Any) -> list[Group]:
    names = _names(key, value)
    found = {g.name: g for g in Group.objects.filter(tenant=tenant, name__in=names)}
    for name in names:
        if name not in found:
            raise UnknownGroup(
                f"{key}: there is no group called '{name[:256]}' in this organisation.", field=key
            )
    return list(found.values())


def _roles(key: str, value: Any) -> list[str]:
    roles = _names(key, value)
    for role in roles:
        if role not in {r.value for r in Role}:
            raise UnknownRole(
                f"{key}: '{role[:64]}' is not a role; the roles are "
                f"{', '.join(r.value for r in Role)}.",
                field=key,
            )
    return sorted(set(roles))


def _users(tenant: Tenant, key: str, value: Any) -> list[User]:
    upns = [normalise_upn(u)[:113] for u in _names(key, value)]
    found = {u.upn: u for u in User.objects.filter(tenant=tenant, upn__in=upns)}
    for upn in upns:
        if upn not in found:
            raise UnknownUser(f"{key}: there is no user '{upn}' in this organisation.", field=key)
    return list(found.values())


def _locations(tenant: Tenant, value: Any) -> list[NamedLocation]:
    found = []
    for name in _names("locations", value):
        try:
            found.append(get_location(tenant, name))
        except NotFound as missing:
            raise UnknownLocationSetting(missing.message, field="locations") from None
    return found


def _parse(tenant: Tenant, changes: Mapping[str, Any]) -> dict[str, Any]:
    unknown = sorted(set(changes) - set(SETTINGS))
    if unknown:
        raise InvalidValue(
            f"Unknown setting '{unknown[0][:40]}'; the settings are {', '.join(SETTINGS)}.",
            field=unknown[0][:40],
        )
    parsers: dict[str, Any] = {
        "name": _name,
        "action": lambda v: choice(*ACTIONS)("action", v),
        "state": lambda v: choice(*STATES)("state", v),
        "include_all": lambda v: boolean("include_all", v),
        "include_groups": lambda v: _groups(tenant, "include_groups", v),
        "exclude_groups": lambda v: _groups(tenant, "exclude_groups", v),
        "include_roles": lambda v: _roles("include_roles", v),
        "exclude_roles": lambda v: _roles("exclude_roles", v),
        "include_users": lambda v: _users(tenant, "include_users", v),
        "exclude_users": lambda v: _users(tenant, "exclude_users", v),
        "where": lambda v: choice(*WHERE)("where", v),
        "locations": lambda v: _locations(tenant, v),
        "decision": lambda v: choice(*DECISIONS)("decision", v),
    }
    return {key: parsers[key](value) for key, value in changes.items()}


_RELATIONS = ("include_groups", "include_users", "exclude_groups", "exclude_users", "locations")


def _apply(policy: AccessPolicy, parsed: dict[str, Any]) -> None:
    for key, value in parsed.items():
        if key not in _RELATIONS:
            setattr(policy, key, value)
    policy.updated_at = timezone.now()
    try:
        with transaction.atomic():
            policy.save()
    except IntegrityError:
        raise PolicyNameTaken(f"A policy called '{policy.name}' already exists.") from None
    for key in _RELATIONS:
        if key in parsed:
            getattr(policy, key).set(parsed[key])
    if policy.where != AccessPolicy.Where.SELECTED:
        policy.locations.clear()
    _check(policy)


def _check(policy: AccessPolicy) -> None:
    if not (
        policy.include_all
        or policy.include_roles
        or policy.include_groups.exists()
        or policy.include_users.exists()
    ):
        raise NobodyIncluded(
            "The policy includes nobody: set include_all, or name groups, roles or users.",
            field="include_all",
        )
    if policy.where == AccessPolicy.Where.SELECTED and not policy.locations.exists():
        raise InvalidValue(
            "where=selected needs at least one named location in locations.", field="locations"
        )


@transaction.atomic
def create_access_policy(
    tenant: Tenant, settings: Mapping[str, Any], actor: User | str = ""
) -> AccessPolicy:
    """A new policy. Left out: action register_security_info, state report_only (see what it
    would do before it does it), any location, decision require_method."""
    if "name" not in settings:
        raise InvalidValue("A policy needs a name.", field="name")
    if AccessPolicy.objects.filter(tenant=tenant).count() >= MAX_POLICIES:
        raise InvalidValue(f"An organisation has at most {MAX_POLICIES} policies.")
    parsed = _parse(tenant, settings)
    policy = AccessPolicy(tenant=tenant, action=Action.REGISTER_SECURITY_INFO)
    _apply(policy, parsed)
    record(
        tenant,
        Activity.ADD_CONDITIONAL_ACCESS_POLICY,
        actor=actor,
        target=policy.name,
        policy=as_dict(policy),
    )
    return policy


@transaction.atomic
def update_access_policy(
    tenant: Tenant, key: str | int, changes: Mapping[str, Any], actor: User | str = ""
) -> AccessPolicy:
    policy = get_access_policy(tenant, key)
    before = as_dict(policy)
    _apply(policy, _parse(tenant, changes))
    after = as_dict(policy)
    record(
        tenant,
        Activity.UPDATE_CONDITIONAL_ACCESS_POLICY,
        actor=actor,
        target=policy.name,
        changed={k: {"from": before[k], "to": after[k]} for k in after if before[k] != after[k]},
    )
    return policy


@transaction.atomic
def delete_access_policy(tenant: Tenant, key: str | int, actor: User | str = "") -> None:
    policy = get_access_policy(tenant, key)
    record(
        tenant,
        Activity.DELETE_CONDITIONAL_ACCESS_POLICY,
        actor=actor,
        target=policy.name,
        policy=as_dict(policy),
    )
    policy.delete()


def rule_of(policy: AccessPolicy) -> Rule:
    return Rule(
        id=policy.pk,
        name=policy.name,
        action=policy.action,
        state=policy.state,
        decision=policy.decision,
        include_all=policy.include_all,
        include_groups=frozenset(g.pk for g in policy.include_groups.all()),
        include_roles=frozenset(policy.include_roles),
        include_users=frozenset(u.pk for u in policy.include_users.all()),
        exclude_groups=frozenset(g.pk for g in policy.exclude_groups.all()),
        exclude_roles=frozenset(policy.exclude_roles),
        exclude_users=frozenset(u.pk for u in policy.exclude_users.all()),
        where=policy.where,
        locations=frozenset(loc.pk for loc in policy.locations.all()),
    )
