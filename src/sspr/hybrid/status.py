"""Agent health: heartbeats in, and the tenant's status line out.

The status line is what the "On-premises integration" settings show, in Entra's words when all
is well ("Your on-premises writeback client is up and running") and otherwise what is wrong and
since when.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from django.utils import timezone

from sspr.directory.models import Tenant
from sspr.hybrid.commands import LIVE_SECONDS
from sspr.hybrid.enrollment import known_capabilities
from sspr.hybrid.models import Agent
from sspr_protocol.messages import Heartbeat

UP_AND_RUNNING = "Your on-premises writeback client is up and running."
NONE_CONNECTED = "No on-premises writeback client is connected."


def record_heartbeat(agent: Agent, heartbeat: Heartbeat) -> None:
    """Remember what the agent says about itself; an `error` state becomes its last error."""
    now = timezone.now()
    changes: dict[str, Any] = {
        "agent_version": heartbeat.agent_version[:32],
        "capabilities": known_capabilities(heartbeat.capabilities),
        "last_heartbeat": asdict(heartbeat),
        "last_heartbeat_at": now,
        "last_seen_at": now,
    }
    if heartbeat.state == "error":
        error = str(heartbeat.detail.get("error") or "The agent reports an error.")[:1024]
        if error != agent.last_error or agent.last_error_at is None:
            changes.update(last_error=error, last_error_at=now)
    Agent.objects.filter(pk=agent.pk).update(**changes)


def _stopped(agent: Agent) -> bool:
    """The agent said goodbye (a clean stop): not live, whatever its last heartbeat's age."""
    return agent.last_heartbeat.get("state") == "stopped"


def _live(agent: Agent, now: datetime) -> bool:
    return (
        agent.last_heartbeat_at is not None
        and agent.last_heartbeat_at >= now - timedelta(seconds=LIVE_SECONDS)
        and not _stopped(agent)
    )


def _reports_error(agent: Agent) -> bool:
    return agent.last_heartbeat.get("state") == "error"


def when(moment: datetime, now: datetime | None = None) -> str:
    """'21:05 UTC (12 minutes ago)', with the date when it was not today."""
    now = now or timezone.now()
    utc = moment.astimezone(UTC)
    clock = utc.strftime("%H:%M UTC")
    if utc.date() != now.astimezone(UTC).date():
        clock = f"{utc.day} {utc.strftime('%b %Y')} {clock}"
    return f"{clock} ({ago(now - moment)})"


def ago(delta: timedelta) -> str:
    seconds = max(int(delta.total_seconds()), 0)
    for size, unit in ((86400, "day"), (3600, "hour"), (60, "minute")):
        if seconds >= size:
            count = seconds // size
            return f"{count} {unit}{'s' if count != 1 else ''} ago"
    return "just now" if seconds < 5 else f"{seconds} seconds ago"


@dataclass(frozen=True)
class Status:
    healthy: bool
    message: str
    since: datetime | None = None  # when it went wrong, as far as we know


def status(tenant: Tenant) -> Status:
    """The tenant's status line: up and running, or what is wrong and since when."""
    now = timezone.now()
    agents = list(Agent.objects.filter(tenant=tenant, revoked_at__isnull=True))
    if not agents:
        return Status(False, NONE_CONNECTED)
    live = [a for a in agents if _live(a, now)]
    healthy = [a for a in live if not _reports_error(a)]
    if any("writeback" in a.capabilities for a in healthy):
        return Status(True, UP_AND_RUNNING)
    if healthy:
        return Status(
            False,
            "Your on-premises client is connected but does not offer password writeback "
            f"(it offers: {', '.join(healthy[0].capabilities) or 'nothing'}).",
        )
    if live:
        agent = live[0]
        since = agent.last_error_at or agent.last_heartbeat_at
        return Status(
            False,
            f"Your on-premises writeback client is connected but reports a problem since "
            f"{when(since, now) if since else 'now'}: {agent.last_error or 'no detail given'}",
            since,
        )
    heard = [a for a in agents if a.last_heartbeat_at is not None]
    if not heard:
        first = min(a.created_at for a in agents)
        return Status(
            False,
            "Your on-premises writeback client was enrolled at "
            f"{when(first, now)} but has never connected since.",
            first,
        )
    latest = max(heard, key=lambda a: a.last_heartbeat_at or now)
    assert latest.last_heartbeat_at is not None
    message = (
        f"Your on-premises writeback client was stopped at {when(latest.last_heartbeat_at, now)}."
        if _stopped(latest)
        else "Your on-premises writeback client has not been heard from since "
        f"{when(latest.last_heartbeat_at, now)}."
    )
    if len(agents) > 1:
        message = (
            f"None of your {len(agents)} on-premises writeback clients has been heard from "
            f"since {when(latest.last_heartbeat_at, now)}."
        )
    if latest.last_error and latest.last_error_at:
        message += f" Its last error ({when(latest.last_error_at, now)}): {latest.last_error}"
    return Status(False, message, latest.last_heartbeat_at)


def status_line(tenant: Tenant) -> str:
    return status(tenant).message


def writeback_ready(tenant: Tenant, capability: str = "writeback") -> bool:
    """Whether a live agent offers `capability` now (what eligibility asks for hybrid users)."""
    now = timezone.now()
    return any(
        _live(a, now) and capability in a.capabilities and not _reports_error(a)
        for a in Agent.objects.filter(tenant=tenant, revoked_at__isnull=True)
    )


@dataclass(frozen=True)
class AgentSummary:
    id: str
    name: str
    directory_kind: str
    agent_version: str
    capabilities: list[str]
    state: str  # "online", "error", "offline", "stopped", "never connected", "revoked"
    activity: str  # what the agent last said it was doing: "idle", "syncing", "error"
    created_at: datetime
    last_seen_at: datetime | None
    last_heartbeat_at: datetime | None
    last_error: str
    last_error_at: datetime | None
    revoked_at: datetime | None


def _state(agent: Agent, now: datetime) -> str:
    if agent.revoked_at is not None:
        return "revoked"
    if agent.last_heartbeat_at is None:
        return "never connected"
    if not _live(agent, now):
        return "stopped" if _stopped(agent) else "offline"
    return "error" if _reports_error(agent) else "online"


def agents(tenant: Tenant, *, include_revoked: bool = True) -> list[AgentSummary]:
    now = timezone.now()
    rows = Agent.objects.filter(tenant=tenant).order_by("revoked_at", "name", "created_at")
    if not include_revoked:
        rows = rows.filter(revoked_at__isnull=True)
    return [
        AgentSummary(
            id=a.pk,
            name=a.name,
            directory_kind=a.directory_kind,
            agent_version=a.agent_version,
            capabilities=list(a.capabilities),
            state=_state(a, now),
            activity=str(a.last_heartbeat.get("state", "")),
            created_at=a.created_at,
            last_seen_at=a.last_seen_at,
            last_heartbeat_at=a.last_heartbeat_at,
            last_error=a.last_error,
            last_error_at=a.last_error_at,
            revoked_at=a.revoked_at,
        )
        for a in rows
    ]
