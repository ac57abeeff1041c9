from __future__ import annotations

from typing import Any

from django.db.models import Q
from django.http import HttpRequest
from ninja import Field as F
from ninja import Query, Router, Schema, Status

from sspr.directory.lookups import get_user
from sspr.directory.models import Tenant, User
from sspr.directory.roles import can_manage_users, is_admin
from sspr.directory.tenants import get_tenant
from sspr.directory.users import create_user
from sspr.errors import Forbidden
from sspr.flows.admin_reset import reset_by_admin
from sspr.web.api.admin_gate import admin_api_gate
from sspr.web.api.auth import bearer, credential_of
from sspr.web.api.schemas import Error, Text, UserCreateIn, UserList, UserOut

router = Router(tags=["users"], auth=bearer)


def acting_admin(request: HttpRequest, slug: str) -> tuple[Tenant, User]:
    """The tenant in the path, provided the caller is one of its administrators and the
    tenant's "sign in to the admin portal" policies let them in from where they are."""
    credential = credential_of(request)
    user = credential.user
    tenant = get_tenant(slug)
    if tenant.pk != user.tenant_id:
        raise Forbidden("Your sign-in belongs to another organisation.")
    if not is_admin(user.roles):
        raise Forbidden("Only administrators may do this.")
    admin_api_gate(credential)
    return tenant, user


class UserFilter(Schema):
    search: Text = F(default="", max_length=256)
    limit: int = F(default=50, ge=1, le=500)
    offset: int = F(default=0, ge=0, le=10_000_000)


@router.get("/tenants/{tenant}/users", response={200: UserList, 401: Error, 403: Error, 404: Error})
def list_users(request: HttpRequest, tenant: Text, filters: Query[UserFilter]) -> dict[str, Any]:
    """Users of the organisation, by UPN; `search` matches UPN, name and mail."""
    scope, _ = acting_admin(request, tenant)
    users = User.objects.filter(tenant=scope).prefetch_related("role_assignments")
    if filters.search:
        term = filters.search
        users = users.filter(
            Q(upn__icontains=term) | Q(display_name__icontains=term) | Q(mail__icontains=term)
        )
    page = users.order_by("upn")[filters.offset : filters.offset + filters.limit]
    return {"count": users.count(), "items": [UserOut.of(u) for u in page]}


@router.post(
    "/tenants/{tenant}/users",
    response={201: UserOut, 401: Error, 403: Error, 404: Error, 409: Error, 422: Error},
)
def add_user(request: HttpRequest, tenant: Text, body: UserCreateIn) -> Status[Any]:
    """Create a cloud user. A password given here is temporary unless told otherwise."""
    scope, actor = acting_admin(request, tenant)
    if not can_manage_users(actor.roles):
        raise Forbidden("Only Global Administrators may create users.")
    user = create_user(scope, body.upn, actor=actor, **body.dict(exclude={"upn"}))
    return Status(201, UserOut.of(user))


class AdminResetIn(Schema):
    password: Text | None = F(default=None, min_length=1, max_length=1024)


class AdminResetOut(Schema):
    upn: str
    temporary_password: str
    must_change_password: bool


@router.post(
    "/tenants/{tenant}/users/{upn}/password-reset",
    response={200: AdminResetOut, 401: Error, 403: Error, 404: Error, 409: Error, 422: Error},
)
def reset_password(
    request: HttpRequest, tenant: Text, upn: Text, body: AdminResetIn | None = None
) -> dict[str, Any]:
    """Reset a user's password (Global, Password and Helpdesk Administrators, within Entra's
    rules of who may reset whom). The temporary password is in this answer only; the user
    chooses their own at the next sign-in."""
    scope, actor = acting_admin(request, tenant)
    target = get_user(scope, upn)
    password = reset_by_admin(actor, target, body.password if body else None)
    return {"upn": target.upn, "temporary_password": password, "must_change_password": True}
