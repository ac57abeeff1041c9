"""The impact of a change to the password reset policy: who is in scope and who could reset
before and after it, and which users would lose self-service reset. Nothing is saved here."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Hashable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from sspr.directory.groups import effective_members
from sspr.directory.models import Group, RoleAssignment, Tenant, User
from sspr.flows.eligibility import assess, in_scope
from sspr.methods.models import RegisteredMethod
from sspr.policy.models import SsprPolicy

# How many of the users who would lose self-service reset the impact names.
IMPACT_EXAMPLES = 5


@dataclass(frozen=True)
class _Census:
    in_scope: int
    able: frozenset[int]


@dataclass(frozen=True)
class _Directory:
    """What eligibility reads of each user, loaded in three queries for the whole tenant."""

    tenant: Tenant
    users: list[User]
    roles: dict[int, tuple[str, ...]]
    methods: dict[int, frozenset[str]]

    @classmethod
    def load(cls, tenant: Tenant) -> _Directory:
        users = list(
            User.objects.filter(tenant=tenant)
            .only("pk", "tenant_id", "upn", "source", "enabled")
            .order_by("upn")
        )
        roles: dict[int, list[str]] = defaultdict(list)
        for user_id, role in RoleAssignment.objects.filter(user__tenant=tenant).values_list(
            "user_id", "role"
        ):
            roles[user_id].append(role)
        methods: dict[int, set[str]] = defaultdict(set)
        for user_id, method in RegisteredMethod.objects.filter(
            user__tenant=tenant, state=RegisteredMethod.State.ACTIVE
        ).values_list("user_id", "method"):
            methods[user_id].add(method)
        return cls(
            tenant,
            users,
            {k: tuple(sorted(v)) for k, v in roles.items()},
            {k: frozenset(v) for k, v in methods.items()},
        )


def _scope(policy: SsprPolicy, groups: Iterable[Group]) -> set[int]:
    if policy.enabled_for != SsprPolicy.Scope.SELECTED:
        return set()
    return effective_members(groups)


def _census(directory: _Directory, policy: SsprPolicy, groups: Iterable[Group]) -> _Census:
    """Who is in scope and who could reset under `policy`.

    The answer for each user is `eligibility.assess` itself. Users alike in everything assess
    reads of them (source, enabled, roles, scope, active methods) share one answer, so assess runs
    once per kind of user rather than once per user (each run queries the user's methods).
    """
    scoped_ids = _scope(policy, groups)
    answers: dict[Hashable, bool] = {}
    in_scope_count = 0
    able = set()
    for user in directory.users:
        roles = directory.roles.get(user.pk, ())
        scoped = in_scope(user, policy, scoped_ids)
        in_scope_count += scoped
        kind = (
            user.source,
            user.enabled,
            roles,
            scoped,
            directory.methods.get(user.pk, frozenset()),
        )
        if kind not in answers:
            user.tenant = directory.tenant  # what assess reads of the tenant, without a query
            answers[kind] = assess(user, policy, scoped_ids=scoped_ids, roles=list(roles)).eligible
        if answers[kind]:
            able.add(user.pk)
    return _Census(in_scope_count, frozenset(able))


def impact_of(
    tenant: Tenant,
    policy: SsprPolicy,
    settings: Mapping[str, Any],
    groups_before: list[Group],
    groups: list[Group] | None,
) -> dict[str, Any]:
    """Who could reset under `policy` and its groups `groups_before`, and who could under the
    `settings` (a whole policy, as sspr_policy.as_dict gives it) and `groups` (None: unchanged)."""
    directory = _Directory.load(tenant)
    before = _census(directory, policy, groups_before)
    # An unsaved copy holding the new settings; the new groups are passed alongside.
    candidate = SsprPolicy(
        tenant=tenant, **{k: v for k, v in settings.items() if k != "enabled_groups"}
    )
    after = _census(directory, candidate, groups if groups is not None else groups_before)
    losing = before.able - after.able
    return {
        "users_in_scope_before": before.in_scope,
        "users_in_scope_after": after.in_scope,
        "users_able_before": len(before.able),
        "users_able_after": len(after.able),
        "users_losing_reset": len(losing),
        "examples": [u.upn for u in directory.users if u.pk in losing][:IMPACT_EXAMPLES],
    }
