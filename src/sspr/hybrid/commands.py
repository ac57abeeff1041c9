"""The command queue between the flows and the tenant's agents.

A flow calls `run()`: the secrets are sealed to each live agent's box key, a command row is
queued, and the call waits for the result. Agents `claim()` commands by long-polling, `start()`
one just before they touch the directory, and `finish()` it with a Result. Every change of state
is one conditional UPDATE, so two agents, or an agent and the waiting request, can never both
win: a claimed command whose agent stops heart-beating goes back to the queue, a started one is
never handed out again, and a result that comes after the command ended is refused.

Nobody polls the queue in a tight loop: the agents' long polls and the waiting request sleep
until `sspr.hybrid.wakeup` announces a change, looking at the database again then (and at a
fallback interval, for an announcement that could not reach them).
"""

from __future__ import annotations

import logging
import secrets as random
import time
from dataclasses import asdict
from datetime import datetime, timedelta
from typing import Any

from django.db import connection
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_noop
from nacl.public import PublicKey, SealedBox

from sspr.directory.models import Tenant
from sspr.errors import Conflict, DomainError
from sspr.hybrid import wakeup
from sspr.hybrid.models import Agent, Command, new_command_id
from sspr.hybrid.signing import b64, envelopes, unb64
from sspr_protocol import messages
from sspr_protocol.messages import CommandKind, Result, Target

log = logging.getLogger(__name__)

LIVE_SECONDS = 90  # an agent heard from (heartbeat) this recently is live
# A claim not started this long after it was made goes back to the queue, whoever made it:
# `start` is conditional on the claim, so the slow claimant can no longer act on it. (An agent
# that restarted under the same id, or died mid-poll, would otherwise strand its claims.)
STALE_CLAIM_SECONDS = 2
GRACE_SECONDS = 2.0  # the waiting request waits this long after a command's expiry
ORPHAN_SECONDS = 60  # past expiry, a command nobody waits for any more is swept up
FALLBACK_SECONDS = 0.5  # the waiting request's look without an announcement
NO_ANSWER = "no_answer"  # recorded when a started command never answered

# What an agent must offer to be given each kind of command.
CAPABILITY: dict[str, str | None] = {
    CommandKind.PING: None,
    CommandKind.RESET_PASSWORD: "writeback",
    CommandKind.CHANGE_PASSWORD: "writeback",
    CommandKind.CHECK_PASSWORD: "writeback",
    CommandKind.UNLOCK: "unlock",
    CommandKind.VERIFY_CREDENTIALS: "passthrough",
}


class AgentUnavailable(DomainError):
    status = 503
    code = "writeback_unavailable"

    def __init__(self) -> None:
        super().__init__(
            _(
                "Your organisation's on-premises password service is not connected right now, "
                "so your password cannot be changed here. Nothing was changed. Try again later "
                "or contact your helpdesk."
            )
        )


class WritebackTimeout(DomainError):
    status = 504
    code = "writeback_timeout"


NOT_STARTED = gettext_noop(
    "Your organisation's on-premises password service did not answer in time. Nothing was "
    "changed. Try again in a moment or contact your helpdesk."
)
STARTED_NO_ANSWER = gettext_noop(
    "Your organisation's on-premises directory did not confirm the change in time, so it is not "
    "known whether it was made there. Nothing was changed here. Try again in a moment or "
    "contact your helpdesk."
)


class CommandEnded(Conflict):
    code = "command_ended"


def live_agents(tenant: Tenant, capability: str | None = None) -> list[Agent]:
    """The tenant's agents that heart-beat in the last 90 s, did not say they stopped, and
    offer `capability`."""
    since = timezone.now() - timedelta(seconds=LIVE_SECONDS)
    agents = Agent.objects.filter(
        tenant=tenant, revoked_at__isnull=True, last_heartbeat_at__gte=since
    ).order_by("-last_heartbeat_at")
    return [
        a
        for a in agents
        if (capability is None or capability in a.capabilities)
        and a.last_heartbeat.get("state") != "stopped"
    ]


def _seal(agent: Agent, secrets: dict[str, str]) -> dict[str, str]:
    box = SealedBox(PublicKey(unb64(agent.box_public_key, 32)))
    return {name: b64(box.encrypt(value.encode())) for name, value in secrets.items()}


def enqueue(
    tenant: Tenant,
    kind: CommandKind,
    target: Target,
    secrets: dict[str, str],
    options: dict[str, Any],
    timeout: float,
    command_id: str,
) -> Command:
    """Queue a command for the tenant's live agents; AgentUnavailable when there is none.

    The secrets are sealed separately to each agent that may carry it out, so that another one
    can take over if the first dies before it starts.
    """
    agents = live_agents(tenant, CAPABILITY[CommandKind(kind)])
    if not agents:
        raise AgentUnavailable()
    if connection.in_atomic_block:
        # The agents could not see an uncommitted row (and on SQLite the open transaction
        # would hold the write lock they need to claim it).
        raise RuntimeError("commands are queued outside transactions")
    now = timezone.now()
    command = Command.objects.create(
        id=command_id,
        tenant=tenant,
        kind=CommandKind(kind).value,
        idempotency_key=random.token_hex(16),
        target=asdict(target),
        sealed={agent.pk: _seal(agent, secrets) for agent in agents},
        options=options,
        issued_at=now,
        expires_at=now + timedelta(seconds=timeout),
    )
    wakeup.announce(wakeup.agents_topic(tenant.pk))
    return command


def _answered(command_id: str) -> Result | None:
    row = Command.objects.filter(pk=command_id).values_list("state", "result").first()
    if row is None:
        return None
    state, result = row
    ended = state in (Command.State.DONE, Command.State.FAILED)
    if ended and result and result.get("outcome") != NO_ANSWER:
        return Result.load(result)
    return None


def run(
    tenant: Tenant,
    kind: CommandKind,
    target: Target,
    secrets: dict[str, str],
    options: dict[str, Any],
    timeout: float = 8.0,
) -> Result:
    """Have an agent carry out `kind` on `target` and return its Result (any outcome).

    Raises AgentUnavailable when no live agent can, WritebackTimeout when none answered by
    the command's expiry plus two seconds. Call it outside any transaction.
    """
    started = time.monotonic()
    deadline = started + timeout + GRACE_SECONDS
    command_id = new_command_id()
    # Listening before the command exists: an answer however quick cannot be missed, and
    # nothing needs to be read before the first announcement.
    with wakeup.listening(wakeup.command_topic(command_id)) as ended:
        command = enqueue(tenant, kind, target, secrets, options, timeout, command_id)
        log.debug(
            "agent_command_queued tenant=%s command=%s kind=%s",
            tenant.slug,
            command.pk,
            command.kind,
        )
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                result = _give_up(command)
                break
            ended.wait(min(left, FALLBACK_SECONDS))
            answered = _answered(command.pk)
            if answered is not None:
                result = answered
                break
    log.info(
        "agent_command_answered tenant=%s command=%s kind=%s outcome=%s ms=%d",
        tenant.slug,
        command.pk,
        command.kind,
        result.outcome,
        (time.monotonic() - started) * 1000,
    )
    return result


def _give_up(command: Command) -> Result:
    """End a command nobody answered in time, atomically, unless its answer just came."""
    now = timezone.now()
    unstarted = Command.objects.filter(
        pk=command.pk, state__in=[Command.State.QUEUED, Command.State.CLAIMED]
    )
    if unstarted.update(state=Command.State.EXPIRED, sealed={}, finished_at=now):
        log.warning("agent_command_expired command=%s kind=%s", command.pk, command.kind)
        raise WritebackTimeout(_(NOT_STARTED))
    silent = Command.objects.filter(pk=command.pk, state=Command.State.STARTED)
    if silent.update(
        state=Command.State.FAILED,
        sealed={},
        finished_at=now,
        result=_no_answer(command.pk),
    ):
        log.warning("agent_command_unanswered command=%s kind=%s", command.pk, command.kind)
        raise WritebackTimeout(_(STARTED_NO_ANSWER))
    result = _answered(command.pk)
    if result is not None:
        return result
    raise WritebackTimeout(_(NOT_STARTED))


def _no_answer(command_id: str) -> dict[str, Any]:
    return asdict(
        Result(
            command_id=command_id,
            outcome=NO_ANSWER,
            message="The agent started the command and never answered.",
        )
    )


def _timestamp(value: datetime) -> float:
    return value.timestamp()


def _message(command: Command, agent: Agent) -> messages.Command:
    return messages.Command(
        id=command.pk,
        kind=command.kind,
        idempotency_key=command.idempotency_key,
        issued_at=_timestamp(command.issued_at),
        expires_at=_timestamp(command.expires_at),
        target=dict(command.target),
        sealed=dict(command.sealed.get(agent.pk, {})),
        options=dict(command.options),
    )


def sweep(tenant_id: int) -> None:
    """Take back claims not started in time; end commands nobody waits for any more.

    One read, and writes only when there is something to change: agents call this with every
    poll, and on SQLite every write takes the database's one write lock.
    """
    now = timezone.now()
    stale = now - timedelta(seconds=STALE_CLAIM_SECONDS)
    orphaned = now - timedelta(seconds=ORPHAN_SECONDS)
    live = [Command.State.QUEUED, Command.State.CLAIMED, Command.State.STARTED]
    due = Command.objects.filter(tenant_id=tenant_id).filter(
        Q(state=Command.State.CLAIMED, claimed_at__lt=stale)
        | Q(state__in=live, expires_at__lt=orphaned)
    )
    for pk, state, agent_id, expires_at in due.values_list(
        "pk", "state", "claimed_by_id", "expires_at"
    ):
        if expires_at < orphaned:
            # Normally the waiting request ends its command; these were left by one that died.
            if state == Command.State.STARTED:
                Command.objects.filter(pk=pk, state=state).update(
                    state=Command.State.FAILED, sealed={}, finished_at=now, result=_no_answer(pk)
                )
            else:
                Command.objects.filter(pk=pk, state=state).update(
                    state=Command.State.EXPIRED, sealed={}, finished_at=now
                )
        # Only if still claimed by the same silent agent: it may have started meanwhile.
        elif Command.objects.filter(
            pk=pk, state=Command.State.CLAIMED, claimed_by_id=agent_id
        ).update(state=Command.State.QUEUED, claimed_by=None, claimed_at=None):
            log.info("agent_command_requeued command=%s from_agent=%s", pk, agent_id)
            wakeup.announce(wakeup.agents_topic(tenant_id))


def claim(agent: Agent, limit: int = 10, sweep_first: bool = True) -> list[dict[str, Any]]:
    """Claim up to `limit` queued, unexpired commands this agent can carry out.

    Answers `[{"command": {...}, "signature": "<b64>"}]`, each command holding only the secrets
    sealed to this agent's key, signed by the service. `sweep_first`: look for stale claims
    first (a long poll woken by an announcement does not; it looks when it starts and when it
    wakes without one, at least once a second).
    """
    if sweep_first:
        sweep(agent.tenant_id)
    now = timezone.now()
    queued = Command.objects.filter(
        tenant_id=agent.tenant_id, state=Command.State.QUEUED, expires_at__gt=now
    ).order_by("issued_at")[: max(limit * 5, 50)]
    claimed: list[messages.Command] = []
    for command in queued:
        if len(claimed) >= limit:
            break
        needs = CAPABILITY.get(command.kind)
        able = needs is None or needs in agent.capabilities
        if agent.pk not in command.sealed or not able:
            continue
        if Command.objects.filter(pk=command.pk, state=Command.State.QUEUED).update(
            state=Command.State.CLAIMED, claimed_by=agent, claimed_at=now
        ):
            claimed.append(_message(command, agent))
            log.debug("agent_command_claimed command=%s agent=%s", command.pk, agent.pk)
    return envelopes(claimed)


def start(agent: Agent, command_id: str) -> None:
    """The agent is about to touch the directory: from now on the command is its alone."""
    now = timezone.now()
    mine = Command.objects.filter(pk=command_id, tenant_id=agent.tenant_id, claimed_by=agent)
    if mine.filter(state=Command.State.CLAIMED, expires_at__gt=now).update(
        state=Command.State.STARTED, started_at=now
    ):
        return
    if mine.filter(state=Command.State.STARTED).exists():
        return  # the agent asked twice (a retry): still its own
    raise CommandEnded(
        "This command has ended, expired or was given to another agent: do not carry it out."
    )


def finish(agent: Agent, result: Result) -> Command.State:
    """Record the agent's answer; CommandEnded (409) if the command is no longer its to answer."""
    state = Command.State.DONE if result.ok else Command.State.FAILED
    answered = Command.objects.filter(
        pk=result.command_id,
        tenant_id=agent.tenant_id,
        claimed_by=agent,
        state__in=[Command.State.CLAIMED, Command.State.STARTED],
    ).update(state=state, result=asdict(result), sealed={}, finished_at=timezone.now())
    if not answered:
        raise CommandEnded(
            "This command has already ended (it expired or was answered) or is not this "
            "agent's; the result was not recorded."
        )
    wakeup.announce(wakeup.command_topic(result.command_id))
    log.debug(
        "agent_command_finished command=%s agent=%s outcome=%s",
        result.command_id,
        agent.pk,
        result.outcome,
    )
    return state
