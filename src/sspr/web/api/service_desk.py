"""The service desk's API: why a user cannot reset, and checking a caller before a phone reset."""

from __future__ import annotations

from dataclasses import asdict
from datetime import datetime
from typing import Any

from django.http import HttpRequest
from ninja import Field as F
from ninja import Router, Schema, Status

from sspr.directory.lookups import get_user
from sspr.flows import caller_verification, service_desk
from sspr.web.api.auth import bearer
from sspr.web.api.schemas import Error, Text
from sspr.web.api.users import acting_admin

router = Router(tags=["service desk"], auth=bearer)


class CheckOut(Schema):
    name: str = F(description="Stable name of the check: plan, account_enabled, in_scope, ...")
    ok: bool = F(description="False when this check stops the reset right now.")
    detail: str


class EligibilityOut(Schema):
    upn: str
    eligible: bool
    summary: str
    reasons: list[str]
    checks: list[CheckOut]
    plan: str
    enabled_for: str
    scope_groups: list[str]
    member_of_scope_groups: list[str]
    admin_policy: bool
    methods_required: int
    methods_allowed: list[str]
    methods_registered: list[str]
    methods_usable: list[str]
    blocked_until: datetime | None
    enabled: bool
    locked_until: datetime | None
    locked_on_premises: bool | None
    source: str
    writeback_needed: bool
    writeback_enabled: bool
    agent_ready: bool | None
    agent_status: str


@router.get(
    "/tenants/{tenant}/users/{upn}/eligibility",
    response={200: EligibilityOut, 401: Error, 403: Error, 404: Error},
)
def eligibility(request: HttpRequest, tenant: Text, upn: Text) -> dict[str, Any]:
    """Can this user reset their password right now, and if not, why: every check in words.
    Any administrator may ask."""
    scope, _ = acting_admin(request, tenant)
    user = get_user(scope, upn)
    return {"upn": user.upn, **asdict(service_desk.explain(user))}


class CallerVerificationIn(Schema):
    method: Text = F(min_length=1, max_length=32, description="email, sms, voice or office_phone")


class CallerVerificationOut(Schema):
    id: str
    method: str
    hint: str = F(description="Where the code went, masked.")
    state: str
    expires_at: datetime


class CallerCodeIn(Schema):
    code: Text = F(min_length=1, max_length=32)


class CallerVerifiedOut(Schema):
    verified: bool
    method: str
    verified_at: datetime | None


@router.post(
    "/tenants/{tenant}/users/{upn}/caller-verifications",
    response={
        201: CallerVerificationOut,
        401: Error,
        403: Error,
        404: Error,
        422: Error,
        429: Error,
        502: Error,
    },
)
def start_caller_verification(
    request: HttpRequest, tenant: Text, upn: Text, body: CallerVerificationIn
) -> Status[Any]:
    """Send a one-time code to one of the user's registered methods; the caller reads it back.
    For administrators who may reset this user's password."""
    scope, actor = acting_admin(request, tenant)
    target = get_user(scope, upn)
    started = caller_verification.start(actor, target, body.method)
    return Status(
        201,
        {
            "id": started.pk,
            "method": started.method,
            "hint": started.hint,
            "state": started.state,
            "expires_at": started.expires_at,
        },
    )


@router.post(
    "/tenants/{tenant}/users/{upn}/caller-verifications/{verification}",
    response={200: CallerVerifiedOut, 401: Error, 403: Error, 404: Error, 409: Error, 422: Error},
)
def check_caller_code(
    request: HttpRequest, tenant: Text, upn: Text, verification: Text, body: CallerCodeIn
) -> dict[str, Any]:
    """Check the code the caller read out: 200 when it is right, 422 with the reason when not."""
    scope, actor = acting_admin(request, tenant)
    target = get_user(scope, upn)
    done = caller_verification.check(actor, target, verification, body.code)
    return {"verified": True, "method": done.method, "verified_at": done.verified_at}
