"""Named locations, conditional access policies and the what-if tool of a tenant.

Any administrator may read; Global and Authentication Policy Administrators may change.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from django.http import HttpRequest
from ninja import Field, Query, Router, Schema, Status
from ninja.errors import ValidationError
from pydantic import ConfigDict, StrictBool
from pydantic import ValidationError as PydanticValidationError

from sspr.access import access_policies, locations
from sspr.access.access_policies import ACTIONS
from sspr.access.policies import DECISIONS, STATES, WHERE
from sspr.access.what_if import what_if
from sspr.directory.models import Tenant, User
from sspr.directory.roles import can_manage_policy
from sspr.errors import Forbidden
from sspr.web.api.auth import bearer
from sspr.web.api.schemas import Error, Text
from sspr.web.api.users import acting_admin

router = Router(tags=["conditional access"], auth=bearer)

READ = {401: Error, 403: Error, 404: Error}
WRITE = {401: Error, 403: Error, 404: Error, 409: Error, 422: Error}


def parsed_body(request: HttpRequest, schema: type[Schema]) -> dict[str, Any]:
    """The JSON body, checked against `schema`: read only once the caller is known to
    administer the tenant, so that an outsider learns nothing from validation errors."""
    try:
        data = json.loads(request.body or b"{}")
    except (ValueError, RecursionError):
        raise ValidationError(
            [{"loc": ("body",), "msg": "The body is not a JSON object."}]
        ) from None
    try:
        body = schema.model_validate(data)
    except PydanticValidationError as error:
        raise ValidationError(
            [dict(e) for e in error.errors(include_url=False, include_context=False)]
        ) from None
    return body.model_dump(exclude_unset=True)


def documented(schema: type[Schema]) -> dict[str, Any]:
    return {
        "requestBody": {
            "required": True,
            "content": {"application/json": {"schema": schema.model_json_schema()}},
        }
    }


def policy_manager(request: HttpRequest, slug: str) -> tuple[Tenant, User]:
    tenant, actor = acting_admin(request, slug)
    if not can_manage_policy(actor.roles):
        raise Forbidden(
            "Only Global Administrators and Authentication Policy Administrators may change "
            "conditional access."
        )
    return tenant, actor


def _setting(description: str | None = None, **limits: Any) -> Any:
    """A setting that may be left out but not sent as null (pydantic leaves defaults alone)."""
    return Field(default=None, description=description, **limits)


# -- named locations ---------------------------------------------------------------------------


class LocationIn(Schema):
    model_config = ConfigDict(extra="forbid")

    name: Text = Field(min_length=1, max_length=200)
    ranges: list[Text] = Field(
        max_length=2000, description="CIDR ranges, IPv4 or IPv6: 203.0.113.0/24, 2001:db8::/48"
    )
    trusted: StrictBool = False


class LocationPatch(Schema):
    model_config = ConfigDict(extra="forbid")

    name: Text = _setting(min_length=1, max_length=200)
    ranges: list[Text] = _setting(max_length=2000)
    trusted: StrictBool = _setting()


class LocationOut(Schema):
    id: int
    name: str
    ranges: list[str]
    trusted: bool
    created_at: datetime
    updated_at: datetime


class LocationList(Schema):
    items: list[LocationOut]


@router.get("/tenants/{tenant}/named-locations", response={**READ, 200: LocationList})
def list_locations(request: HttpRequest, tenant: Text) -> dict[str, Any]:
    """The organisation's named locations: IP ranges, marked trusted or not."""
    scope, _ = acting_admin(request, tenant)
    return {"items": [locations.as_dict(loc) for loc in locations.list_locations(scope)]}


@router.post(
    "/tenants/{tenant}/named-locations",
    response={201: LocationOut, **WRITE},
    openapi_extra=documented(LocationIn),
)
def create_location(request: HttpRequest, tenant: Text) -> Status[Any]:
    """Add a named location. A range is CIDR (an address alone is its own /32 or /128)."""
    scope, actor = policy_manager(request, tenant)
    body = parsed_body(request, LocationIn)
    created = locations.create_location(
        scope, body["name"], body["ranges"], body.get("trusted", False), actor=actor
    )
    return Status(201, locations.as_dict(created))


@router.get("/tenants/{tenant}/named-locations/{location}", response={**READ, 200: LocationOut})
def read_location(request: HttpRequest, tenant: Text, location: Text) -> dict[str, Any]:
    """One named location, by id or by name."""
    scope, _ = acting_admin(request, tenant)
    return locations.as_dict(locations.get_location(scope, location))


@router.patch(
    "/tenants/{tenant}/named-locations/{location}",
    response={200: LocationOut, **WRITE},
    openapi_extra=documented(LocationPatch),
)
def change_location(request: HttpRequest, tenant: Text, location: Text) -> dict[str, Any]:
    """Change a location's name, ranges or trust; what is left out stays."""
    scope, actor = policy_manager(request, tenant)
    changes = parsed_body(request, LocationPatch)
    return locations.as_dict(locations.update_location(scope, location, changes, actor=actor))


@router.delete("/tenants/{tenant}/named-locations/{location}", response={204: None, **WRITE})
def delete_location(request: HttpRequest, tenant: Text, location: Text) -> Status[None]:
    """Delete a location (refused while a policy names it among its selected locations)."""
    scope, actor = policy_manager(request, tenant)
    locations.delete_location(scope, location, actor=actor)
    return Status(204, None)


# -- policies ----------------------------------------------------------------------------------


class PolicySettings(Schema):
    model_config = ConfigDict(extra="forbid")

    name: Text = _setting(min_length=1, max_length=200)
    action: Text = _setting(" or ".join(ACTIONS))
    state: Text = _setting(", ".join(STATES) + "; a new policy starts report_only")
    include_all: StrictBool = _setting("The policy is for every user (exclusions still apply).")
    include_groups: list[Text] = _setting("Group names (nested groups count).")
    include_roles: list[Text] = _setting("Roles, e.g. global-administrator.")
    include_users: list[Text] = _setting("User names (UPN).")
    exclude_groups: list[Text] = _setting("Excluded groups win over every inclusion.")
    exclude_roles: list[Text] = _setting("Excluded roles.")
    exclude_users: list[Text] = _setting("Excluded users (UPN), e.g. break-glass accounts.")
    where: Text = _setting(", ".join(WHERE) + " (untrusted: all but trusted locations)")
    locations: list[Text] = _setting("Named locations, for where=selected.")
    decision: Text = _setting(", ".join(DECISIONS))


class NewPolicy(PolicySettings):
    name: Text = Field(min_length=1, max_length=200)


class PolicyOut(Schema):
    id: int
    name: str
    action: str
    state: str
    include_all: bool
    include_groups: list[str]
    include_roles: list[str]
    include_users: list[str]
    exclude_groups: list[str]
    exclude_roles: list[str]
    exclude_users: list[str]
    where: str
    locations: list[str]
    decision: str


class PolicyList(Schema):
    items: list[PolicyOut]


@router.get("/tenants/{tenant}/conditional-access/policies", response={**READ, 200: PolicyList})
def list_policies(request: HttpRequest, tenant: Text) -> dict[str, Any]:
    """Conditional access policies, by name."""
    scope, _ = acting_admin(request, tenant)
    return {"items": [access_policies.as_dict(p) for p in access_policies.list_policies(scope)]}


@router.post(
    "/tenants/{tenant}/conditional-access/policies",
    response={201: PolicyOut, **WRITE},
    openapi_extra=documented(NewPolicy),
)
def create_policy(request: HttpRequest, tenant: Text) -> Status[Any]:
    """Add a policy. Left out: action register_security_info, state report_only, where any,
    decision require_method."""
    scope, actor = policy_manager(request, tenant)
    created = access_policies.create_access_policy(
        scope, parsed_body(request, NewPolicy), actor=actor
    )
    return Status(201, access_policies.as_dict(created))


@router.get(
    "/tenants/{tenant}/conditional-access/policies/{policy}",
    response={**READ, 200: PolicyOut},
)
def read_policy(request: HttpRequest, tenant: Text, policy: Text) -> dict[str, Any]:
    """One policy, by id or by name."""
    scope, _ = acting_admin(request, tenant)
    return access_policies.as_dict(access_policies.get_access_policy(scope, policy))


@router.patch(
    "/tenants/{tenant}/conditional-access/policies/{policy}",
    response={200: PolicyOut, **WRITE},
    openapi_extra=documented(PolicySettings),
)
def change_policy(request: HttpRequest, tenant: Text, policy: Text) -> dict[str, Any]:
    """Change some settings of a policy, all together or none."""
    scope, actor = policy_manager(request, tenant)
    changed = access_policies.update_access_policy(
        scope, policy, parsed_body(request, PolicySettings), actor=actor
    )
    return access_policies.as_dict(changed)


@router.delete(
    "/tenants/{tenant}/conditional-access/policies/{policy}", response={204: None, **WRITE}
)
def delete_policy(request: HttpRequest, tenant: Text, policy: Text) -> Status[None]:
    scope, actor = policy_manager(request, tenant)
    access_policies.delete_access_policy(scope, policy, actor=actor)
    return Status(204, None)


# -- what-if -----------------------------------------------------------------------------------


class WhatIfQuery(Schema):
    user: Text = Field(default="", max_length=256, description="The user's UPN.")
    address: Text = Field(default="", max_length=64, description="An IPv4 or IPv6 address.")
    action: Text = Field(default=ACTIONS[0], max_length=32, description=" or ".join(ACTIONS))


class PolicyResultOut(Schema):
    id: int
    name: str
    state: str
    applies: bool
    result: str = Field(description="The policy's decision where it applies, else not_applied.")
    report_only: bool
    reason: str = Field(description="Why it applies, or why not.")


class WhatIfOut(Schema):
    user: str
    address: str
    action: str
    decision: str
    report_only_decision: str = Field(
        description="The decision had the report-only policies been on."
    )
    locations: list[str]
    trusted_location: bool
    policies: list[PolicyResultOut]


@router.get(
    "/tenants/{tenant}/conditional-access/what-if",
    response={**READ, 200: WhatIfOut, 422: Error},
)
def what_if_answer(
    request: HttpRequest, tenant: Text, question: Query[WhatIfQuery]
) -> dict[str, Any]:
    """Which policies would apply to this user from this address for this action, what each
    would decide, why the others would not, and the decision. Nothing is recorded."""
    scope, _ = acting_admin(request, tenant)
    return what_if(scope, question.user, question.address, question.action).as_dict()
