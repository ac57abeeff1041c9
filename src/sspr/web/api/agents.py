"""Administrators and the tenant's on-premises agents: status, enrolment tokens, revocation."""

from __future__ import annotations

from dataclasses import asdict
from datetime import datetime
from typing import Any

from django.http import HttpRequest
from ninja import Field, Router, Schema, Status

from sspr.directory.models import Tenant, User
from sspr.directory.roles import Role
from sspr.errors import Forbidden, NotFound
from sspr.hybrid import enrollment, status, sync_state
from sspr.hybrid.models import Agent
from sspr.web.api.auth import bearer
from sspr.web.api.schemas import Error, Text
from sspr.web.api.users import acting_admin

router = Router(tags=["agents"], auth=bearer)


def _global_admin(request: HttpRequest, slug: str) -> tuple[Tenant, User]:
    tenant, actor = acting_admin(request, slug)
    if Role.GLOBAL_ADMINISTRATOR not in actor.roles:
        raise Forbidden("Only Global Administrators may enrol or revoke on-premises agents.")
    return tenant, actor


class AgentOut(Schema):
    id: str
    name: str
    directory_kind: str
    agent_version: str
    capabilities: list[str]
    state: str = Field(description="online, error, offline, never connected or revoked")
    activity: str = Field(description="What the agent last said it was doing")
    created_at: datetime
    last_seen_at: datetime | None
    last_heartbeat_at: datetime | None
    last_error: str
    last_error_at: datetime | None
    revoked_at: datetime | None


class SyncStatsOut(Schema):
    cursor: str
    requested: str
    last_full: dict[str, Any]
    last_delta: dict[str, Any]


class AgentsOut(Schema):
    healthy: bool
    status: str = Field(description="The status line, as the admin portal shows it")
    since: datetime | None
    agents: list[AgentOut]
    sync: SyncStatsOut


@router.get(
    "/tenants/{tenant}/agents", response={200: AgentsOut, 401: Error, 403: Error, 404: Error}
)
def list_agents(request: HttpRequest, tenant: Text) -> dict[str, Any]:
    """The status line, each agent and the directory sync's progress (any administrator)."""
    scope, _ = acting_admin(request, tenant)
    line = status.status(scope)
    return {
        "healthy": line.healthy,
        "status": line.message,
        "since": line.since,
        "agents": [asdict(a) for a in status.agents(scope)],
        "sync": sync_state.stats(scope),
    }


class TokenOut(Schema):
    token: str = Field(description="Shown this once; valid one hour, usable once")
    expires_at: datetime
    tenant: str
    enroll_command: str


@router.post(
    "/tenants/{tenant}/agents", response={201: TokenOut, 401: Error, 403: Error, 404: Error}
)
def create_enrollment_token(request: HttpRequest, tenant: Text) -> Status[Any]:
    """A new one-time enrolment token for an agent (Global Administrators)."""
    scope, actor = _global_admin(request, tenant)
    token, row = enrollment.create_token(scope, actor)
    return Status(
        201,
        {
            "token": token,
            "expires_at": row.expires_at,
            "tenant": scope.slug,
            "enroll_command": enrollment.enroll_command(token),
        },
    )


@router.post(
    "/tenants/{tenant}/agents/{agent_id}/revocation",
    response={200: AgentOut, 401: Error, 403: Error, 404: Error},
)
def revoke_agent(request: HttpRequest, tenant: Text, agent_id: Text) -> dict[str, Any]:
    """Revoke an agent: its every further request is refused (Global Administrators)."""
    scope, actor = _global_admin(request, tenant)
    agent = Agent.objects.filter(tenant=scope, pk=agent_id[:64]).first()
    if agent is None:
        raise NotFound("This organisation has no agent with that id.")
    enrollment.revoke(agent, actor)
    return next(asdict(a) for a in status.agents(scope) if a.id == agent.pk)


class SyncRequestIn(Schema):
    mode: Text = Field(default="full", description="full (the default) or delta", max_length=8)


class SyncRequestOut(Schema):
    requested: str


@router.post(
    "/tenants/{tenant}/sync-requests",
    response={202: SyncRequestOut, 401: Error, 403: Error, 404: Error, 422: Error},
)
def request_sync(request: HttpRequest, tenant: Text, body: SyncRequestIn) -> Status[Any]:
    """Ask the agents for a full or delta sync; their long polls tell them at once."""
    scope, actor = _global_admin(request, tenant)
    sync_state.request_sync(scope, body.mode, actor)
    return Status(202, {"requested": sync_state.requested(scope)["sync"]})
