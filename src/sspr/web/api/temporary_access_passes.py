"""Temporary Access Passes of a user: issue (the passcode is in that answer only), list, revoke.

Global Administrators for anyone; Authentication Policy Administrators for users without a role
above theirs; Password and Helpdesk Administrators for the users whose passwords they may reset.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.http import HttpRequest
from ninja import Field, Router, Schema, Status
from pydantic import ConfigDict, StrictInt

from sspr.access import temporary_pass
from sspr.directory.lookups import get_user
from sspr.web.api.auth import bearer
from sspr.web.api.conditional_access import documented, parsed_body
from sspr.web.api.schemas import Error, Text
from sspr.web.api.users import acting_admin

router = Router(tags=["temporary access passes"], auth=bearer)

ERRORS = {401: Error, 403: Error, 404: Error, 422: Error}


class PassIn(Schema):
    model_config = ConfigDict(extra="forbid")

    lifetime: Text = Field(
        default="1h", max_length=16, description="10m to 30d: minutes (m), hours (h), days (d)."
    )
    max_uses: StrictInt = Field(default=1, description="1 (one-time) to 100 uses.")
    starts_at: datetime | None = Field(default=None, description="Now when left out.")


class PassInfo(Schema):
    id: int
    state: str = Field(description="active, not_yet_valid, used_up, expired or revoked")
    created_by: str
    created_at: datetime
    starts_at: datetime
    expires_at: datetime
    max_uses: int
    uses: int
    last_used_at: datetime | None
    revoked_at: datetime | None


class IssuedOut(PassInfo):
    upn: str
    temporary_access_pass: str = Field(description="Shown in this answer only.")


class PassList(Schema):
    items: list[PassInfo]


class RevokedOut(Schema):
    revoked: int


@router.post(
    "/tenants/{tenant}/users/{upn}/temporary-access-passes",
    response={201: IssuedOut, **ERRORS},
    openapi_extra=documented(PassIn),
)
def issue_pass(request: HttpRequest, tenant: Text, upn: Text) -> Status[Any]:
    """Issue a pass for the user (an earlier one stops working). The passcode is in this answer
    only: give it to the user, who signs in with it to register methods."""
    scope, actor = acting_admin(request, tenant)
    target = get_user(scope, upn)
    body = parsed_body(request, PassIn)
    issued = temporary_pass.issue(
        actor,
        target,
        lifetime=body.get("lifetime", temporary_pass.DEFAULT_LIFETIME),
        max_uses=body.get("max_uses", 1),
        starts_at=body.get("starts_at"),
    )
    return Status(
        201,
        {
            **temporary_pass.as_dict(issued.access_pass),
            "upn": target.upn,
            "temporary_access_pass": issued.passcode,
        },
    )


@router.get(
    "/tenants/{tenant}/users/{upn}/temporary-access-passes", response={200: PassList, **ERRORS}
)
def list_passes(request: HttpRequest, tenant: Text, upn: Text) -> dict[str, Any]:
    """The user's passes, newest first, with their state; never the passcodes."""
    scope, actor = acting_admin(request, tenant)
    target = get_user(scope, upn)
    return {"items": [temporary_pass.as_dict(p) for p in temporary_pass.list_passes(actor, target)]}


@router.delete(
    "/tenants/{tenant}/users/{upn}/temporary-access-passes/{pass_id}",
    response={204: None, **ERRORS},
)
def revoke_pass(request: HttpRequest, tenant: Text, upn: Text, pass_id: Text) -> Status[None]:
    """Revoke a pass: it stops working at once."""
    scope, actor = acting_admin(request, tenant)
    target = get_user(scope, upn)
    temporary_pass.revoke(actor, target, pass_id)
    return Status(204, None)
