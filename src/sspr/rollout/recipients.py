"""Who a rollout send reaches. Disabled accounts never get mail; each user is counted once,
however many nested groups lead to them."""

from __future__ import annotations

from collections import defaultdict

from sspr.directory.groups import effective_members, nested_group_ids
from sspr.directory.models import Group, RoleAssignment, Tenant, User
from sspr.flows.eligibility import in_scope, requirements
from sspr.methods.models import RegisteredMethod
from sspr.policy.models import SsprPolicy
from sspr.policy.sspr_policy import get_policy


def group_members(group: Group) -> list[User]:
    """The enabled members of `group` and of every group nested in it, by user name."""
    return list(
        User.objects.filter(
            tenant_id=group.tenant_id, enabled=True, member_of__in=nested_group_ids([group])
        )
        .distinct()
        .order_by("upn")
    )


def not_registered(tenant: Tenant, group: Group | None = None) -> list[User]:
    """Enabled users self-service reset is on for who have not registered enough methods to
    reset, by the rules a reset applies (eligibility.requirements: administrators need two
    methods other than security questions); only members of `group` when one is given."""
    policy = get_policy(tenant)
    if policy.enabled_for == SsprPolicy.Scope.NONE:
        return []
    users = User.objects.filter(tenant=tenant, enabled=True)
    if group is not None:
        users = users.filter(member_of__in=nested_group_ids([group])).distinct()
    candidates = list(users.order_by("upn"))
    # Subqueries rather than lists of ids: a large organisation would pass SQLite's limit.
    ids = users.values("pk")
    roles: dict[int, list[str]] = defaultdict(list)
    for user_id, role in RoleAssignment.objects.filter(user_id__in=ids).values_list(
        "user_id", "role"
    ):
        roles[user_id].append(role)
    active: dict[int, set[str]] = defaultdict(set)
    for user_id, method in RegisteredMethod.objects.filter(
        user_id__in=ids, state=RegisteredMethod.State.ACTIVE
    ).values_list("user_id", "method"):
        active[user_id].add(method)
    scoped_ids = (
        effective_members(policy.enabled_groups.all())
        if policy.enabled_for == SsprPolicy.Scope.SELECTED
        else None
    )
    found = []
    for user in candidates:
        if not in_scope(user, policy, scoped_ids):
            continue
        needs = requirements(user, policy, roles[user.pk])
        if len(active[user.pk] & set(needs.methods_allowed)) < needs.methods_required:
            found.append(user)
    return found
