"""Finding users by sign-in name within one tenant."""

from __future__ import annotations

from sspr.directory.identifiers import normalise_upn
from sspr.directory.models import Tenant, User
from sspr.errors import NotFound


def find_user(tenant: Tenant, upn: str) -> User | None:
    user = User.objects.filter(tenant=tenant, upn=normalise_upn(upn)).first()
    if user is not None:
        user.tenant = tenant  # the caller's, rather than a second query for the same row
    return user


def get_user(tenant: Tenant, upn: str) -> User:
    user = find_user(tenant, upn)
    if user is None:
        raise NotFound("There is no such user in this organisation.")
    return user
