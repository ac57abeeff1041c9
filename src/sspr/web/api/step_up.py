"""Proving a registered method (or a Temporary Access Pass) before changing security info,
where conditional access requires it: `/me/step-up`."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.http import HttpRequest
from ninja import Field, Router, Schema, Status

from sspr.access import step_up
from sspr.access.enforcement import access
from sspr.errors import InvalidValue
from sspr.web.api.auth import bearer_for_security_info, credential_of
from sspr.web.api.schemas import Error, Text

router = Router(tags=["my methods"], auth=bearer_for_security_info)

ERRORS = {401: Error, 403: Error, 422: Error, 429: Error, 502: Error}


class StepUpMethod(Schema):
    method: str
    label: str
    hint: str
    sends_code: bool = Field(description="False for the authenticator app: type its code.")


class StepUpState(Schema):
    decision: str = Field(description="allow, require_method or block, for registering methods")
    proven_by: str | None = Field(description="What this session proved, while it lasts.")
    proven_until: datetime | None
    methods: list[StepUpMethod] = Field(description="Registered methods that can prove it.")
    helpdesk: str


class ChallengeIn(Schema):
    method: Text = Field(min_length=1, max_length=32)


class ChallengeOut(Schema):
    method: str
    sent_to: str = Field(description="Where the code went, masked; empty for the app.")


class ProofIn(Schema):
    method: Text | None = Field(default=None, max_length=32)
    code: Text | None = Field(default=None, min_length=1, max_length=16)
    temporary_access_pass: str | None = Field(default=None, min_length=1, max_length=64)


def _state(request: HttpRequest) -> dict[str, Any]:
    state = access(credential_of(request))
    return {
        "decision": state.decision,
        "proven_by": state.proven_by or None,
        "proven_until": state.proven_until,
        "methods": [o.__dict__ for o in state.options],
        "helpdesk": state.helpdesk,
    }


@router.get("/me/step-up", response={200: StepUpState, **ERRORS})
def step_up_state(request: HttpRequest) -> dict[str, Any]:
    """What conditional access decides for registering methods from here, and whether this
    session has proven a registered method (or a Temporary Access Pass) recently."""
    return _state(request)


@router.post("/me/step-up/challenges", response={202: ChallengeOut, **ERRORS})
def send_code(request: HttpRequest, body: ChallengeIn) -> Status[Any]:
    """Send a code to one of your registered methods (nothing is sent for the app)."""
    sent_to = step_up.send_code(credential_of(request), body.method)
    return Status(202, {"method": body.method, "sent_to": sent_to})


@router.post("/me/step-up/verifications", response={200: StepUpState, **ERRORS})
def prove(request: HttpRequest, body: ProofIn) -> dict[str, Any]:
    """Prove it is you for ten minutes: `method` and `code`, or `temporary_access_pass`."""
    credential = credential_of(request)
    if body.temporary_access_pass is not None:
        step_up.verify_pass(credential, body.temporary_access_pass)
    elif body.method and body.code:
        step_up.verify_code(credential, body.method, body.code)
    else:
        raise InvalidValue("Send method and code, or temporary_access_pass.", field="code")
    return _state(request)
