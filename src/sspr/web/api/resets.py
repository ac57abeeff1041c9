"""The reset flow over HTTP: the `password-resets` operations of the public interface."""

from __future__ import annotations

from typing import Any, Literal

from django.http import HttpRequest
from ninja import Field, Router, Schema, Status

from sspr.directory.tenants import get_tenant
from sspr.flows import reset
from sspr.web.api.schemas import Error, PasswordError, Text

router = Router(tags=["password resets"], auth=None)

MethodName = Literal["email", "sms", "voice", "office_phone", "totp", "questions"]


class ResetStartIn(Schema):
    # One scalar user name: a list here is refused by the schema, never "sent to each".
    username: Text = Field(min_length=1, max_length=256)
    captcha: Text | None = Field(default=None, max_length=4096)


class MethodHint(Schema):
    method: str
    hint: str


class ResetOut(Schema):
    id: str
    state: str
    gates_required: int
    gates_passed: int
    methods: list[MethodHint]
    expires_at: Any


class ChallengeIn(Schema):
    method: MethodName


class ChallengeOut(Schema):
    method: str
    sent_to: str | None = None
    questions: list[str] | None = None


class Answer(Schema):
    question: Text = Field(max_length=200)
    answer: Text = Field(max_length=200)


class VerificationIn(Schema):
    method: MethodName
    code: Text | None = Field(default=None, max_length=16)
    answers: list[Answer] | None = Field(default=None, max_length=5)


class CompletionIn(Schema):
    new_password: Text | None = Field(default=None, min_length=1, max_length=1024)
    action: Literal["unlock"] | None = None


class Completed(Schema):
    state: str
    message: str


ERRORS = {400: Error, 403: Error, 404: Error, 409: Error, 422: Error, 429: Error, 502: Error}


@router.post("/tenants/{tenant}/password-resets", response={201: ResetOut, **ERRORS})
def start_reset(request: HttpRequest, tenant: Text, body: ResetStartIn) -> Status[Any]:
    """Start a reset. Whoever the name belongs to, if anyone, the answer looks the same."""
    flow = reset.start(get_tenant(tenant), body.username, body.captcha)
    return Status(201, reset.describe(flow))


@router.post("/password-resets/{flow_id}/challenges", response={202: ChallengeOut, **ERRORS})
def challenge(request: HttpRequest, flow_id: Text, body: ChallengeIn) -> Status[Any]:
    """Send a code by the chosen method, or get the security questions to answer."""
    return Status(202, reset.challenge(flow_id, body.method))


@router.post("/password-resets/{flow_id}/verifications", response={200: ResetOut, **ERRORS})
def verify(request: HttpRequest, flow_id: Text, body: VerificationIn) -> dict[str, Any]:
    """Answer one gate: a code, or the answers to the questions drawn."""
    payload = {"code": body.code or "", "answers": [a.dict() for a in body.answers or []]}
    return reset.describe(reset.verify(flow_id, body.method, payload))


@router.post(
    "/password-resets/{flow_id}/completion",
    response={200: Completed, 422: PasswordError, **{k: v for k, v in ERRORS.items() if k != 422}},
)
def complete(request: HttpRequest, flow_id: Text, body: CompletionIn) -> dict[str, Any]:
    """Choose the new password (every session of the account ends; nobody is signed in), or,
    for an account of the on-premises directory when the policy allows it, `{"action":
    "unlock"}` to unlock it and keep the password."""
    flow = reset.complete(flow_id, body.new_password, body.action)
    message = (
        "Your account is unlocked. Sign in with your current password."
        if body.action == "unlock"
        else "Your password was reset. Sign in with your new password."
    )
    return {"state": flow.state, "message": message}
