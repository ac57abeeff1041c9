"""Sending a rollout email: one message per user, to their notification address, through the
configured email backend (SMTP in production, the outbox otherwise), audited as one event.

The audit event names the template, the group and the counts, never the addresses: a send can
reach thousands of people, and the trail is read by more people than the directory is.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from django.core.mail import get_connection

from sspr.audit.events import Activity, record
from sspr.audit.models import AuditEvent
from sspr.directory.groups import get_group
from sspr.directory.models import Tenant, User
from sspr.directory.roles import can_manage_policy
from sspr.errors import Forbidden, InvalidValue
from sspr.rollout import materials
from sspr.rollout.recipients import group_members, not_registered

log = logging.getLogger(__name__)

# The audit target of a reminder sent without a group.
EVERYONE_IN_SCOPE = "Users in scope"


@dataclass(frozen=True)
class SendResult:
    template: str
    group: str  # empty: a reminder to every user in scope
    recipients: int
    sent: int
    failed: int


def may_send(actor: User) -> bool:
    """Mail to many users in the organisation's name: the policy managers' decision."""
    return can_manage_policy(actor.roles)


def recipients(tenant: Tenant, kind: str, group_name: str) -> list[User]:
    materials.check_kind(kind)
    group = get_group(tenant, group_name) if group_name else None
    if kind == materials.REMINDER:
        return not_registered(tenant, group)
    if group is None:
        raise InvalidValue("Choose the group to send the announcement to.", field="group")
    return group_members(group)


def send(
    tenant: Tenant, kind: str, group_name: str, actor: User, *, language: str = "en"
) -> SendResult:
    """Send the `kind` email to the members of `group_name` (a reminder: to those of them who
    have not registered enough methods; with no group, to every such user in scope)."""
    if not may_send(actor):
        raise Forbidden(
            "Only Global Administrators and Authentication Policy Administrators can send "
            "rollout emails."
        )
    materials.check_language(language)
    users = recipients(tenant, kind, group_name.strip())
    info = materials.facts(tenant)
    sent = failed = 0
    connection = get_connection()
    try:
        connection.open()
    except Exception as error:  # noqa: BLE001 -- any transport failure fails the whole send
        log.warning("rollout_send_unavailable error=%s", type(error).__name__)
        failed = len(users)
        users = []
    try:
        for user in users:
            email = materials.render_email(kind, tenant, language=language, user=user, info=info)
            message = email.message([user.notification_address])
            message.connection = connection
            try:
                sent += message.send()
            except Exception as error:  # noqa: BLE001 -- one refused address stops no other
                log.warning("rollout_send_failed error=%s", type(error).__name__)
                failed += 1
    finally:
        connection.close()
    result = SendResult(kind, group_name.strip(), sent + failed, sent, failed)
    record(
        tenant,
        Activity.SEND_ROLLOUT,
        result=AuditEvent.Result.FAILURE if failed and not sent else AuditEvent.Result.SUCCESS,
        reason="The mail server refused every message." if failed and not sent else "",
        actor=actor,
        target=result.group or EVERYONE_IN_SCOPE,
        template=kind,
        group=result.group,
        language=language,
        recipients=result.recipients,
        sent=sent,
        failed=failed,
    )
    return result
