"""The tenant's password rules, and live feedback on a password being typed."""

from __future__ import annotations

import json
from typing import Any

from django.http import HttpRequest
from ninja import Field, Router, Schema

from sspr.audit import context
from sspr.directory.roles import can_manage_policy
from sspr.directory.tenants import get_tenant
from sspr.errors import Forbidden, InvalidValue
from sspr.flows.blocking import take_all
from sspr.policy.password_policy import KEYS, as_dict, password_policy, update_password_policy
from sspr.policy.passwords import context_for_name, evaluate
from sspr.throttling import limits
from sspr.web.api.auth import bearer
from sspr.web.api.schemas import Error, Text
from sspr.web.api.users import acting_admin

router = Router(tags=["password policy"], auth=bearer)
public = Router(tags=["password policy"], auth=None)

ERRORS = {400: Error, 401: Error, 403: Error, 404: Error, 422: Error, 429: Error}


class PasswordPolicyOut(Schema):
    preset: str
    min_length: int
    max_length: int
    min_character_classes: int
    forbid_account_name: bool
    check_banned: bool
    check_breached: bool
    breached_online: bool
    breached_fail_closed: bool
    banned_passwords: list[str]
    password_protection: str


class CheckIn(Schema):
    password: Text = Field(max_length=1024)
    username: Text = Field(default="", max_length=256)


class RuleResult(Schema):
    code: str
    description: str
    met: bool


class CheckOut(Schema):
    ok: bool
    rules: list[RuleResult]


def _body(request: HttpRequest) -> dict[str, Any]:
    try:
        body = json.loads(request.body or b"{}")
    except ValueError:
        raise InvalidValue("The request body is not valid JSON.") from None
    if not isinstance(body, dict):
        raise InvalidValue("The request body is a JSON object of settings.")
    unknown = [k for k in body if k not in KEYS]
    if unknown:
        raise InvalidValue(
            f"Unknown setting {', '.join(map(str, unknown))[:200]}.", field=str(unknown[0])[:64]
        )
    return body


@router.get("/tenants/{tenant}/password-policy", response={200: PasswordPolicyOut, **ERRORS})
def show(request: HttpRequest, tenant: Text) -> dict[str, Any]:
    """The password rules of the organisation (any administrator)."""
    scope, _ = acting_admin(request, tenant)
    return as_dict(password_policy(scope))


@router.patch(
    "/tenants/{tenant}/password-policy",
    response={200: PasswordPolicyOut, **ERRORS},
    openapi_extra={
        "requestBody": {
            "content": {
                "application/json": {
                    "schema": {
                        "type": "object",
                        "additionalProperties": False,
                        "properties": {k: {} for k in KEYS},
                    }
                }
            }
        }
    },
)
def change(request: HttpRequest, tenant: Text) -> dict[str, Any]:
    """Change the password rules: `preset` (entra, nist) fills in the rest; every key optional.
    Global and Authentication Policy Administrators only."""
    scope, actor = acting_admin(request, tenant)
    if not can_manage_policy(actor.roles):
        raise Forbidden(
            "Only Global and Authentication Policy Administrators may change the password rules."
        )
    return as_dict(update_password_policy(scope, _body(request), actor))


@public.post("/tenants/{tenant}/password-checks", response={200: CheckOut, **ERRORS})
def check(request: HttpRequest, tenant: Text, body: CheckIn) -> dict[str, Any]:
    """Which password rules a password meets, for feedback while it is typed. Nothing is
    stored or logged; the answer is the same whether or not the user name exists."""
    scope = get_tenant(tenant)
    take_all(
        scope,
        "password-check",
        [(limits.PASSWORD_CHECKS_PER_ADDRESS, context.current().ip or "unknown")],
    )
    results = evaluate(scope, body.password, context_for_name(scope, body.username))
    return {"ok": all(r["met"] for r in results), "rules": results}
