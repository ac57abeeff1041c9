"""Finding users by sign-in name within one tenant."""

from __future__ import annotations

from sspr.directory.identifiers import normalise_upn
from sspr.directory.models import Tenant, User
from sspr.errors import NotFound


def find_user(tenant: Tenant, upn: str) -> User | None:
    return User.objects.filter(tenant=tenant, upn=normalise_upn(upn)).first()


def get_user(tenant: Tenant, upn: str) -> User:
    user = find_user(tenant, upn)
    if user is None:
        raise NotFound("There is no such user in this organisation.")
    return user
