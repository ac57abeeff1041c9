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
    seen: set[int] = set()
    frontier = {g.pk for g in groups}
    while frontier:
        seen |= frontier
        frontier = (
            set(
                Group.member_groups.through.objects.filter(from_group_id__in=frontier).values_list(
                    "to_group_id", flat=True
                )
            )
            - seen
        )
    return seen
