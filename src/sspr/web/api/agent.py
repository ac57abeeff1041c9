"""The agent channel over HTTP (docs/agent-channel.md): what `sspr-agent` calls.

Every call but the enrolment is signed by the agent (see `sspr.hybrid.signing`); the handlers
only parse, call `sspr.hybrid` and answer.
"""

from __future__ import annotations

import io
import time
from typing import Any

from django.http import HttpRequest
from ninja import Field, Query, Router, Schema, Status

from sspr.errors import DomainError, Forbidden, InvalidValue
from sspr.hybrid import commands, enrollment, status, sync, wakeup
from sspr.hybrid import sync_state as sync_progress  # a handler below is called sync_state
from sspr.hybrid.models import Agent
from sspr.hybrid.signing import AgentUnauthenticated, service_public_key, verify_request
from sspr.web.api.schemas import Error, Text
from sspr_protocol import VERSION
from sspr_protocol.messages import Heartbeat, Outcome, Result, SyncBatch

SYNC_MAX_BODY = 16 * 1024 * 1024  # a sync page with large groups outgrows Django's 64 KiB
FALLBACK_SECONDS = 1.0  # a long poll's look at the queue without an announcement
MAX_WAIT = 30


class PayloadTooLarge(DomainError):
    status = 413
    code = "payload_too_large"


def _read_body(request: HttpRequest, limit: int | None) -> bytes:
    """The request body; up to `limit` bytes where Django's own limit is too small."""
    if limit is None or hasattr(request, "_body"):
        return request.body
    if int(request.META.get("CONTENT_LENGTH") or 0) > limit:
        raise PayloadTooLarge(f"The request body is larger than {limit} bytes.")
    data = request.read(limit + 1)
    if len(data) > limit:
        raise PayloadTooLarge(f"The request body is larger than {limit} bytes.")
    # Where Django's `body` keeps what it read, so that the JSON parser finds it.
    request._body = data
    request._stream = io.BytesIO(data)
    return data


class AgentSignature:
    """Authentication by the agent's signed headers; `request.auth` becomes the Agent.

    Deliberately not a ninja security scheme: the OpenAPI document would then present it as
    one more credential, while it is a signature over each request (docs/agent-channel.md).
    """

    def __init__(self, max_body: int | None = None) -> None:
        self.max_body = max_body

    def __call__(self, request: HttpRequest) -> Agent:
        query = request.META.get("QUERY_STRING", "")
        path = request.path + (f"?{query}" if query else "")
        return verify_request(
            request.method or "GET",
            path,
            request.headers,
            lambda: _read_body(request, self.max_body),
        )


signed = AgentSignature()
router = Router(tags=["agent channel"], auth=signed)


def agent_of(request: HttpRequest) -> Agent:
    agent = request.auth  # type: ignore[attr-defined]
    assert isinstance(agent, Agent)
    return agent


class EnrollmentIn(Schema):
    token: Text = Field(min_length=1, max_length=128)
    name: Text = Field(min_length=1, max_length=128)
    agent_version: Text = Field(default="", max_length=32)
    directory_kind: Text = Field(description="ad or openldap", max_length=16)
    sign_public_key: Text = Field(description="Base64 Ed25519 public key", max_length=64)
    box_public_key: Text = Field(description="Base64 X25519 public key", max_length=64)
    capabilities: list[Text] = Field(default_factory=list, max_length=16)


class EnrollmentOut(Schema):
    agent_id: str
    tenant: str
    service_sign_public_key: str


@router.post("/agent/enrollments", auth=None, response={201: EnrollmentOut, 401: Error, 422: Error})
def enroll_agent(request: HttpRequest, body: EnrollmentIn) -> Status[Any]:
    """Register an agent with a one-time token (no other authentication)."""
    agent = enrollment.enroll(
        body.token,
        name=body.name,
        agent_version=body.agent_version,
        directory_kind=body.directory_kind,
        sign_public_key=body.sign_public_key,
        box_public_key=body.box_public_key,
        capabilities=body.capabilities,
    )
    return Status(
        201,
        {
            "agent_id": agent.pk,
            "tenant": agent.tenant.slug,
            "service_sign_public_key": service_public_key(),
        },
    )


class SignedCommand(Schema):
    command: dict[str, Any]
    signature: str


class SyncRequested(Schema):
    sync: str = Field(description="The sync an administrator asked for: none, delta or full")
    sync_request: str = Field(description="The request's id; act once per id")


class CommandsOut(SyncRequested):
    commands: list[SignedCommand]


class PollQuery(Schema):
    wait: int = Field(default=0, ge=0, le=MAX_WAIT, description="Seconds to wait for work")
    sync_seen: str = Field(
        default="", max_length=64, description="The last sync request id this agent acted on"
    )


@router.get("/agent/commands", response={200: CommandsOut, 401: Error, 422: Error})
def poll_commands(request: HttpRequest, query: Query[PollQuery]) -> dict[str, Any]:
    """Long poll: answers as soon as commands are queued for this agent (they are then claimed
    by it) or a sync it has not seen is asked for, or with neither after `wait` seconds."""
    agent = agent_of(request)
    deadline = time.monotonic() + query.wait
    with wakeup.listening(wakeup.agents_topic(agent.tenant_id)) as changed:
        announced = False
        while True:
            # The sweep is for claims grown stale with time: not worth a query on the way to a
            # command just announced.
            claimed = commands.claim(agent, sweep_first=not announced)
            asked = sync_progress.requested(agent.tenant)
            news = asked["sync_request"] not in ("", query.sync_seen)
            left = deadline - time.monotonic()
            if claimed or news or left <= 0 or changed.closing:
                return {"commands": claimed, **asked}
            announced = changed.wait(min(left, FALLBACK_SECONDS))
            if not Agent.objects.filter(pk=agent.pk, revoked_at__isnull=True).exists():
                raise AgentUnauthenticated("This agent was revoked.")


class StartOut(Schema):
    command_id: str
    state: str


@router.post("/agent/commands/{command_id}/start", response={200: StartOut, 401: Error, 409: Error})
def start_command(request: HttpRequest, command_id: Text) -> dict[str, str]:
    """The agent is about to touch the directory; the command is never given to another."""
    commands.start(agent_of(request), command_id[:64])
    return {"command_id": command_id, "state": "started"}


class ResultIn(Schema):
    command_id: Text = Field(min_length=1, max_length=64)
    outcome: Text = Field(max_length=64)
    message: Text = Field(default="", max_length=1024)
    details: dict[str, Any] = Field(default_factory=dict)
    version: int = VERSION


class ResultOut(Schema):
    command_id: str
    state: str


def _message(load: Any, data: dict[str, Any]) -> Any:
    try:
        return load(data)
    except ValueError as error:
        raise InvalidValue(f"{error}; this service speaks version {VERSION}.") from None


@router.post("/agent/results", response={200: ResultOut, 401: Error, 409: Error, 422: Error})
def post_result(request: HttpRequest, body: ResultIn) -> dict[str, str]:
    """A command's Result; 409 if the command already ended (it expired or was answered)."""
    if body.outcome not in {o.value for o in Outcome}:
        raise InvalidValue(f"Unknown outcome '{body.outcome}'.", field="outcome")
    result = _message(Result.load, body.dict())
    state = commands.finish(agent_of(request), result)
    return {"command_id": result.command_id, "state": state}


class HeartbeatIn(Schema):
    agent_version: Text = Field(max_length=32)
    capabilities: list[Text] = Field(default_factory=list, max_length=16)
    state: Text = Field(
        description="idle, syncing, error, or stopped (the last one, on a clean stop)",
        max_length=16,
    )
    detail: dict[str, Any] = Field(default_factory=dict)
    version: int = VERSION


@router.post("/agent/heartbeats", response={200: SyncRequested, 401: Error, 422: Error})
def heartbeat(request: HttpRequest, body: HeartbeatIn) -> dict[str, str]:
    agent = agent_of(request)
    status.record_heartbeat(agent, _message(Heartbeat.load, body.dict()))
    return sync_progress.requested(agent.tenant)


class SyncStateOut(Schema):
    mode: str
    cursor: str
    sync_id: str = Field(description="An unfinished full sync to resume, else empty")


@router.get("/agent/sync/state", response={200: SyncStateOut, 401: Error})
def sync_state(request: HttpRequest) -> dict[str, str]:
    return sync_progress.sync_state(agent_of(request).tenant)


class SyncBatchIn(Schema):
    sync_id: Text = Field(min_length=1, max_length=64)
    mode: Text = Field(description="full or delta", max_length=8)
    users: list[dict[str, Any]] = Field(default_factory=list)
    groups: list[dict[str, Any]] = Field(default_factory=list)
    deleted_anchors: list[Text] = Field(default_factory=list)
    cursor: Text = Field(default="", max_length=256)
    final: bool = False
    version: int = VERSION


class SyncError(Schema):
    anchor: str
    dn: str
    code: str
    message: str


class SyncReportOut(Schema):
    created: int
    updated: int
    deleted: int
    unchanged: int
    errors: list[SyncError]


@router.post(
    "/agent/sync",
    auth=AgentSignature(max_body=SYNC_MAX_BODY),
    response={200: SyncReportOut, 401: Error, 403: Error, 413: Error, 422: Error},
)
def post_sync(request: HttpRequest, body: SyncBatchIn) -> dict[str, Any]:
    """One page of a sync; answers counts and the records that could not be taken."""
    agent = agent_of(request)
    if "sync" not in agent.capabilities:
        raise Forbidden("This agent did not enrol with the 'sync' capability.")
    batch: SyncBatch = _message(SyncBatch.load, body.dict())
    return sync.apply_batch(agent.tenant, batch).as_dict()
