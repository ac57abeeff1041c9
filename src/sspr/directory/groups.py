"""Groups and their members, nested groups included."""

from __future__ import annotations

from collections.abc import Iterable

from django.db import IntegrityError, transaction

from sspr.directory.lookups import get_user
from sspr.directory.models import Group, Tenant, User
from sspr.errors import Conflict, InvalidValue, NotFound


def get_group(tenant: Tenant, name: str) -> Group:
    group = Group.objects.filter(tenant=tenant, name=name).first()
    if group is None:
        raise NotFound(f"There is no group called '{name[:256]}' in this organisation.")
    return group


@transaction.atomic
def create_group(
    tenant: Tenant, name: str, members: Iterable[str] = (), subgroups: Iterable[str] = ()
) -> Group:
    name = name.strip()
    if not 1 <= len(name) <= 256:
        raise InvalidValue("A group name has 1 to 256 characters.", field="name")
    users = [get_user(tenant, upn) for upn in members]
    nested = [get_group(tenant, sub) for sub in subgroups]
    try:
        with transaction.atomic():
            group = Group.objects.create(tenant=tenant, name=name)
    except IntegrityError:
        raise Conflict(f"A group called '{name}' already exists.") from None
    group.members.set(users)
    group.member_groups.set(nested)
    return group


def effective_members(groups: Iterable[Group]) -> set[int]:
    """Ids of the users in `groups` or in any group nested inside them (cycles are harmless)."""
    seen = nested_group_ids(groups)
    return set(User.objects.filter(member_of__in=seen).values_list("pk", flat=True).distinct())


def nested_group_ids(groups: Iterable[Group]) -> set[int]:
    """Ids of `groups` and of every group nested inside them, at any depth."""
    return _closure({g.pk for g in groups}, inward=True)


def groups_of(user: User) -> set[int]:
    """Ids of every group `user` is in: directly, or through a group nested in it."""
    return _closure(set(user.member_of.values_list("pk", flat=True)), inward=False)


def _closure(start: set[int], inward: bool) -> set[int]:
    """`start` and the groups nested in them (inward) or those they are nested in."""
    here, there = ("from_group_id", "to_group_id") if inward else ("to_group_id", "from_group_id")
    nesting = Group.member_groups.through.objects
    seen: set[int] = set()
    frontier = start
    while frontier:
        seen |= frontier
        frontier = (
            set(nesting.filter(**{f"{here}__in": frontier}).values_list(there, flat=True)) - seen
        )
    return seen
