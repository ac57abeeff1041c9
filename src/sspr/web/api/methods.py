"""The signed-in user's verification methods: `/me/methods`."""

from __future__ import annotations

from typing import Any, Literal

from django.http import HttpRequest
from ninja import Field, Router, Schema, Status

from sspr.flows import registration
from sspr.methods.models import RegisteredMethod
from sspr.methods.registry import method_for
from sspr.policy.sspr_policy import get_policy
from sspr.web.api.auth import bearer_for_security_info, credential_of
from sspr.web.api.resets import Answer
from sspr.web.api.schemas import Error, Text

router = Router(tags=["my methods"], auth=bearer_for_security_info)


class MethodIn(Schema):
    method: Literal["email", "sms", "voice", "office_phone", "totp", "questions"]
    value: Text = Field(default="", max_length=320)
    answers: list[Answer] | None = Field(default=None, max_length=5)


class MethodOut(Schema):
    id: int
    method: str
    state: str
    hint: str
    registered_at: Any
    confirmed_at: Any = None
    sent_to: str | None = None
    otpauth_uri: str | None = None
    secret: str | None = None
    qr_svg: str | None = None


class MethodList(Schema):
    methods: list[MethodOut]
    interruption: str | None = Field(description='"register", "reconfirm" or null')


class CodeIn(Schema):
    code: Text = Field(min_length=1, max_length=16)


ERRORS = {
    400: Error,
    401: Error,
    403: Error,
    404: Error,
    409: Error,
    422: Error,
    429: Error,
    502: Error,
}


def _out(item: RegisteredMethod, extra: dict[str, Any] | None = None) -> dict[str, Any]:
    handler = method_for(item.method, get_policy(item.user.tenant))
    return {
        "id": item.pk,
        "method": item.method,
        "state": item.state,
        "hint": handler.hint(item) if item.value or not handler.channel else "",
        "registered_at": item.created_at,
        "confirmed_at": item.confirmed_at,
        **(extra or {}),
    }


@router.get("/me/methods", response={200: MethodList, **ERRORS})
def list_methods(request: HttpRequest) -> dict[str, Any]:
    """What you have registered, and whether sign-in would ask you to register or review."""
    user = credential_of(request).user
    return {
        "methods": [_out(m) for m in registration.registered(user)],
        "interruption": registration.interruption(user),
    }


@router.post("/me/methods", response={201: MethodOut, **ERRORS})
def add_method(request: HttpRequest, body: MethodIn) -> Status[Any]:
    """Register a method. A code goes to the new address or number; for the authenticator app
    the answer carries the `otpauth://` URI to scan."""
    payload = {"value": body.value, "answers": [a.dict() for a in body.answers or []]}
    credential = credential_of(request)
    item, info = registration.begin(credential.user, body.method, payload, session=credential)
    return Status(201, _out(item, info))


@router.post("/me/methods/{int:method_id}/verification", response={200: MethodOut, **ERRORS})
def verify_method(request: HttpRequest, method_id: int, body: CodeIn) -> dict[str, Any]:
    """Prove you hold the method with the code you received (or your app shows)."""
    credential = credential_of(request)
    item = registration.confirm(credential.user, method_id, {"code": body.code}, session=credential)
    return _out(item)


@router.delete("/me/methods/{int:method_id}", response={204: None, **ERRORS})
def remove_method(request: HttpRequest, method_id: int) -> Status[None]:
    """Remove a method. Needs a sign-in of the last ten minutes."""
    registration.remove(credential_of(request), method_id)
    return Status(204, None)


@router.post("/me/methods/review", response={200: MethodList, **ERRORS})
def review_methods(request: HttpRequest) -> dict[str, Any]:
    """Confirm that your registered methods are still right."""
    user = credential_of(request).user
    registration.review(user)
    return {
        "methods": [_out(m) for m in registration.registered(user)],
        "interruption": registration.interruption(user),
    }
