"""Directory roles and Entra's rules of who may act on whom.

Password resets follow Entra's table "Who can reset passwords": a role may reset the password of
a user whose roles are all within what that role covers. A user with no role is covered by every
role that resets passwords.
"""

from __future__ import annotations

from collections.abc import Iterable
from enum import StrEnum


class Role(StrEnum):
    GLOBAL_ADMINISTRATOR = "global-administrator"
    AUTHENTICATION_POLICY_ADMINISTRATOR = "authentication-policy-administrator"
    PASSWORD_ADMINISTRATOR = "password-administrator"
    HELPDESK_ADMINISTRATOR = "helpdesk-administrator"

    @property
    def label(self) -> str:
        return self.value.replace("-", " ").title()


ADMIN_ROLES = frozenset(Role)

# For each role that may reset passwords: the roles a target may hold and still be reset by it.
_RESETTABLE: dict[Role, frozenset[Role]] = {
    Role.GLOBAL_ADMINISTRATOR: frozenset(Role),
    Role.PASSWORD_ADMINISTRATOR: frozenset({Role.PASSWORD_ADMINISTRATOR}),
    Role.HELPDESK_ADMINISTRATOR: frozenset(
        {Role.PASSWORD_ADMINISTRATOR, Role.HELPDESK_ADMINISTRATOR}
    ),
}

_POLICY_MANAGERS = frozenset({Role.GLOBAL_ADMINISTRATOR, Role.AUTHENTICATION_POLICY_ADMINISTRATOR})
_USER_MANAGERS = frozenset({Role.GLOBAL_ADMINISTRATOR})


def can_reset_password(actor: Iterable[Role | str], target: Iterable[Role | str]) -> bool:
    target_roles = {Role(r) for r in target}
    return any(
        Role(role) in _RESETTABLE and target_roles <= _RESETTABLE[Role(role)] for role in actor
    )


def roles_beyond_reach(actor: Iterable[Role | str], target: Iterable[Role | str]) -> list[Role]:
    """The target's roles that none of the actor's roles may reset: why a reset is refused."""
    reach: set[Role] = set()
    for role in actor:
        reach |= _RESETTABLE.get(Role(role), frozenset())
    return [Role(r) for r in target if Role(r) not in reach]


def resets_passwords(actor: Iterable[Role | str]) -> bool:
    return any(Role(r) in _RESETTABLE for r in actor)


def can_manage_policy(actor: Iterable[Role | str]) -> bool:
    return any(Role(r) in _POLICY_MANAGERS for r in actor)


def can_manage_users(actor: Iterable[Role | str]) -> bool:
    return any(Role(r) in _USER_MANAGERS for r in actor)


def is_admin(roles: Iterable[Role | str]) -> bool:
    return any(Role(r) in ADMIN_ROLES for r in roles)
