"""Enrolling agents with one-time tokens, and revoking them.

A token is random, shown once, kept only as a SHA-256, valid one hour and usable once: the
enrolment consumes it in the same transaction that creates the agent.
"""

from __future__ import annotations

import hashlib
import logging
import secrets
from collections.abc import Iterable
from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone
from nacl.exceptions import CryptoError
from nacl.public import PublicKey
from nacl.signing import VerifyKey

from sspr.audit.events import record
from sspr.directory.models import Tenant, User
from sspr.errors import DomainError, InvalidValue
from sspr.hybrid import wakeup
from sspr.hybrid.models import Agent, Command, EnrollmentToken
from sspr.hybrid.signing import unb64

log = logging.getLogger(__name__)

TOKEN_LIFETIME = timedelta(hours=1)
DIRECTORY_KINDS = ("ad", "openldap")
CAPABILITIES = ("sync", "writeback", "unlock", "passthrough")

# Audit activity names (Entra has none for this; these follow its style).
CREATE_TOKEN = "Create on-premises agent enrolment token"
REGISTER_AGENT = "Register on-premises agent"
REVOKE_AGENT = "Revoke on-premises agent"


class EnrollmentRefused(DomainError):
    status = 401
    code = "enrollment_token_invalid"


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


@transaction.atomic
def create_token(tenant: Tenant, actor: User | str | None = None) -> tuple[str, EnrollmentToken]:
    """A new enrolment token for `tenant`. The token itself exists only in this answer."""
    # The prefix names it (and secret scanners can find it); a bare URL-safe token starts with
    # "-" one time in 64, and `sspr-agent enroll --token -x...` would take it for an option.
    token = f"ssprenroll_{secrets.token_urlsafe(32)}"
    row = EnrollmentToken.objects.create(
        tenant=tenant,
        token_hash=_digest(token),
        created_by=actor.upn if isinstance(actor, User) else (actor or ""),
        expires_at=timezone.now() + TOKEN_LIFETIME,
    )
    record(tenant, CREATE_TOKEN, actor=actor, expires_at=row.expires_at.isoformat())
    return token, row


def enroll_command(token: str) -> str:
    """The command line an administrator runs on the agent host, with the token in it."""
    return (
        f"sspr-agent enroll --url {settings.BASE_URL} --token {token} "
        "--config /etc/sspr-agent/config.json --kind ad|openldap --ldap-url LDAP_URL "
        "--bind-dn BIND_DN --bind-password-file FILE --base-dn BASE_DN"
    )


def known_capabilities(values: Iterable[str]) -> list[str]:
    """The capabilities this service knows of; a newer agent's others are left out."""
    offered = {v for v in values if isinstance(v, str)}
    return [c for c in CAPABILITIES if c in offered]


def _check_key(value: str, field: str, make: type[VerifyKey] | type[PublicKey]) -> str:
    try:
        make(unb64(value, 32))
    except (ValueError, CryptoError):
        raise InvalidValue(f"'{field}' must be a base64 32-byte public key.", field=field) from None
    return value


def enroll(
    token: str,
    *,
    name: str,
    agent_version: str,
    directory_kind: str,
    sign_public_key: str,
    box_public_key: str,
    capabilities: Iterable[str],
) -> Agent:
    """Register an agent with the token an administrator gave it. Everything else is checked
    first, so that a typing mistake does not use the token up."""
    name = name.strip()
    if not 1 <= len(name) <= 128:
        raise InvalidValue("An agent's name has 1 to 128 characters.", field="name")
    if directory_kind not in DIRECTORY_KINDS:
        raise InvalidValue(
            "The directory kind is 'ad' (Active Directory) or 'openldap'.", field="directory_kind"
        )
    if len(agent_version) > 32:
        raise InvalidValue("The agent version has at most 32 characters.", field="agent_version")
    caps = known_capabilities(capabilities)
    _check_key(sign_public_key, "sign_public_key", VerifyKey)
    _check_key(box_public_key, "box_public_key", PublicKey)
    if not token or len(token) > 128:
        raise _refused()
    with transaction.atomic():
        row = (
            EnrollmentToken.objects.select_for_update()
            .select_related("tenant")
            .filter(token_hash=_digest(token))
            .first()
        )
        now = timezone.now()
        if row is None or row.used_at is not None or row.expires_at <= now:
            raise _refused()
        agent = Agent.objects.create(
            tenant=row.tenant,
            name=name,
            directory_kind=directory_kind,
            agent_version=agent_version,
            capabilities=caps,
            sign_public_key=sign_public_key,
            box_public_key=box_public_key,
            created_at=now,
        )
        # Conditional, so that two enrolments racing with one token cannot both win.
        if not EnrollmentToken.objects.filter(pk=row.pk, used_at__isnull=True).update(
            used_at=now, agent=agent
        ):
            raise _refused()
        record(
            row.tenant,
            REGISTER_AGENT,
            actor="sspr-agent",
            target=name,
            agent_id=agent.pk,
            directory_kind=directory_kind,
            capabilities=caps,
        )
    log.info("agent_enrolled tenant=%s agent=%s name=%s", row.tenant.slug, agent.pk, name)
    return agent


def _refused() -> EnrollmentRefused:
    return EnrollmentRefused(
        "This enrolment token is not valid: it may have expired (tokens last one hour), been "
        "used already, or been mistyped. Create a new one with `sspr agent-token TENANT` or on "
        "the Agents page of the admin portal."
    )


@transaction.atomic
def revoke(agent: Agent, actor: User | str | None = None) -> Agent:
    """Refuse every further request of `agent`; commands it claimed but did not start go back
    to the queue for the tenant's other agents at once."""
    now = timezone.now()
    if Agent.objects.filter(pk=agent.pk, revoked_at__isnull=True).update(revoked_at=now):
        Command.objects.filter(claimed_by=agent, state=Command.State.CLAIMED).update(
            state=Command.State.QUEUED, claimed_by=None, claimed_at=None
        )
        wakeup.announce(wakeup.agents_topic(agent.tenant_id))
        record(agent.tenant, REVOKE_AGENT, actor=actor, target=agent.name, agent_id=agent.pk)
        log.info("agent_revoked tenant=%s agent=%s", agent.tenant.slug, agent.pk)
    agent.refresh_from_db()
    return agent
