"""Who hears about a reset: the user on every address they have, admins when an admin resets."""

from __future__ import annotations

import logging

from django.db import DatabaseError

from sspr.directory.models import User
from sspr.directory.roles import Role, is_admin
from sspr.messaging.notify import notify_admins_of_reset, notify_password_reset
from sspr.methods.models import RegisteredMethod
from sspr.policy.sspr_policy import get_policy

log = logging.getLogger(__name__)


def user_addresses(user: User) -> list[str]:
    registered = RegisteredMethod.objects.filter(
        user=user, method="email", state=RegisteredMethod.State.ACTIVE
    ).values_list("value", flat=True)
    return list(dict.fromkeys([user.notification_address, *registered]))


def admins_to_tell(user: User) -> list[str]:
    """Entra's order: Password Administrators, else Global Administrators."""
    others = User.objects.filter(tenant=user.tenant, enabled=True).exclude(pk=user.pk)
    for role in (Role.PASSWORD_ADMINISTRATOR, Role.GLOBAL_ADMINISTRATOR):
        found = [u.notification_address for u in others.filter(role_assignments__role=role)]
        if found:
            return found
    return []


def notify_reset(user: User) -> None:
    """Runs once the reset is committed: a database failure here must not turn it into an
    error for the user, whose password is already changed."""
    try:
        _notify_reset(user)
    except DatabaseError as error:
        log.warning("reset_notification_failed error=%s", type(error).__name__)


def _notify_reset(user: User) -> None:
    policy = get_policy(user.tenant)
    if policy.notify_users:
        for address in user_addresses(user):
            notify_password_reset(user, address)
    if policy.notify_admins and is_admin(user.roles):
        for address in admins_to_tell(user):
            notify_admins_of_reset(user, address)
