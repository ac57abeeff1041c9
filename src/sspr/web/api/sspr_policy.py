"""The self-service password reset policy of a tenant: read it, preview a change, change it."""

from __future__ import annotations

import json
from typing import Any

from django.http import HttpRequest
from ninja import Field, Router, Schema
from ninja.errors import ValidationError
from pydantic import ConfigDict, StrictBool, StrictInt
from pydantic import ValidationError as PydanticValidationError

from sspr.directory.models import Tenant, User
from sspr.directory.roles import can_manage_policy
from sspr.errors import Forbidden
from sspr.policy.sspr_policy import (
    METHODS,
    as_dict,
    get_policy,
    preview_impact,
    update_policy_with_impact,
)
from sspr.web.api.auth import bearer
from sspr.web.api.schemas import Error, Text
from sspr.web.api.users import acting_admin

router = Router(tags=["sspr-policy"], auth=bearer)


def _optional(description: str | None = None) -> Any:
    """A setting that may be left out but not sent as null (pydantic leaves defaults alone)."""
    return Field(default=None, description=description)


class SsprPolicyIn(Schema):
    """Any subset of the policy's settings; the ones left out keep their values.

    Ranges and combinations are checked by the policy itself, so the API, the command line and
    the admin page refuse the same things with the same messages.
    """

    model_config = ConfigDict(extra="forbid")

    enabled_for: Text = _optional("none, selected or all")
    enabled_groups: list[Text] = _optional("Group names (nested count).")
    methods_required: StrictInt = _optional("1 or 2")
    methods_enabled: list[Text] = _optional(", ".join(METHODS))
    questions_to_register: StrictInt = _optional("3 to 5")
    questions_to_reset: StrictInt = _optional("3 to 5, at most register")
    custom_questions: list[Text] = _optional("Up to 20, 1-200 characters")
    sms_daily_limit: StrictInt = _optional("0 to 1,000,000")
    captcha_enabled: StrictBool = _optional()
    registration_required: StrictBool = _optional()
    reconfirm_days: StrictInt = _optional("0 to 730; 0 = never")
    notify_users: StrictBool = _optional()
    notify_admins: StrictBool = _optional()
    helpdesk_url: Text = _optional("https://... or an email address")
    writeback_enabled: StrictBool = _optional()
    unlock_enabled: StrictBool = _optional()
    banned_passwords: list[Text] = _optional("Up to 1,000 terms")
    password_protection: Text = _optional("enforce or audit")


class SsprPolicyOut(Schema):
    enabled_for: str
    enabled_groups: list[str]
    methods_required: int
    methods_enabled: list[str]
    questions_to_register: int
    questions_to_reset: int
    custom_questions: list[str]
    sms_daily_limit: int
    captcha_enabled: bool
    registration_required: bool
    reconfirm_days: int
    notify_users: bool
    notify_admins: bool
    helpdesk_url: str
    writeback_enabled: bool
    unlock_enabled: bool
    banned_passwords: list[str]
    password_protection: str


class ImpactOut(Schema):
    users_in_scope_before: int
    users_in_scope_after: int
    users_able_before: int
    users_able_after: int
    users_losing_reset: int = Field(description="Users who could reset before and not after.")
    examples: list[str] = Field(description="Up to five of those users, by user name.")


class PolicyUpdateOut(Schema):
    policy: SsprPolicyOut
    impact: ImpactOut


class PreviewOut(Schema):
    impact: ImpactOut


# The body is read after the caller is known to administer the tenant, so that an outsider
# learns nothing from validation errors; the document still describes it.
_BODY = {
    "requestBody": {
        "required": True,
        "content": {"application/json": {"schema": SsprPolicyIn.model_json_schema()}},
    }
}


def _changes(request: HttpRequest) -> dict[str, Any]:
    try:
        data = json.loads(request.body)
    except (ValueError, RecursionError):
        raise ValidationError(
            [{"loc": ("body",), "msg": "The body is not a JSON object of policy settings."}]
        ) from None
    try:
        body = SsprPolicyIn.model_validate(data)
    except PydanticValidationError as error:
        raise ValidationError(
            [dict(e) for e in error.errors(include_url=False, include_context=False)]
        ) from None
    return body.model_dump(exclude_unset=True)


def _policy_manager(request: HttpRequest, slug: str) -> tuple[Tenant, User]:
    tenant, actor = acting_admin(request, slug)
    if not can_manage_policy(actor.roles):
        raise Forbidden(
            "Only Global Administrators and Authentication Policy Administrators may change "
            "the password reset policy."
        )
    return tenant, actor


@router.get(
    "/tenants/{tenant}/sspr-policy",
    response={200: SsprPolicyOut, 401: Error, 403: Error, 404: Error},
)
def read_policy(request: HttpRequest, tenant: Text) -> dict[str, Any]:
    """The password reset policy. Any administrator of the organisation may read it."""
    scope, _ = acting_admin(request, tenant)
    return as_dict(get_policy(scope))


@router.patch(
    "/tenants/{tenant}/sspr-policy",
    response={200: PolicyUpdateOut, 401: Error, 403: Error, 404: Error, 422: Error},
    openapi_extra=_BODY,
)
def change_policy(request: HttpRequest, tenant: Text) -> dict[str, Any]:
    """Change some settings, all together or none; `impact` says who could no longer reset.

    Only Global Administrators and Authentication Policy Administrators may do this.
    """
    scope, actor = _policy_manager(request, tenant)
    update = update_policy_with_impact(scope, _changes(request), actor)
    return {"policy": as_dict(update.policy), "impact": update.impact}


@router.post(
    "/tenants/{tenant}/sspr-policy/preview",
    response={200: PreviewOut, 401: Error, 403: Error, 404: Error, 422: Error},
    openapi_extra=_BODY,
)
def preview_policy(request: HttpRequest, tenant: Text) -> dict[str, Any]:
    """What a change would do, checked like PATCH, without saving anything."""
    scope, _ = _policy_manager(request, tenant)
    return {"impact": preview_impact(scope, _changes(request))}
