"""Who a rollout send reaches. Disabled accounts never get mail; each user is counted once,
however many nested groups lead to them."""

from __future__ import annotations

from django.db.models import QuerySet

from sspr.directory.groups import nested_group_ids
from sspr.directory.models import Group, Tenant, User
from sspr.insights.coverage import unregistered
from sspr.policy.sspr_policy import get_policy


def group_member_ids(group: Group) -> QuerySet[User, int]:
    return User.objects.filter(
        tenant_id=group.tenant_id, enabled=True, member_of__in=nested_group_ids([group])
    ).values_list("pk", flat=True)


def group_members(group: Group) -> list[User]:
    """The enabled members of `group` and of every group nested in it, by user name."""
    return list(User.objects.filter(pk__in=group_member_ids(group)).order_by("upn"))


def not_registered(tenant: Tenant, group: Group | None = None) -> list[User]:
    """Enabled users self-service reset is on for who have not registered enough methods to
    reset (administrators need two methods other than security questions), by user name; only
    members of `group` when one is given. One query, the rules of insights' coverage."""
    users = unregistered(tenant, get_policy(tenant))
    if group is not None:
        users = users.filter(pk__in=group_member_ids(group))
    return list(users.order_by("upn"))


def count_not_registered(tenant: Tenant) -> int:
    return unregistered(tenant, get_policy(tenant)).count()
