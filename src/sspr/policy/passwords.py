"""The password engine: every rule that applies, every violation collected in one answer."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from sspr.errors import DomainError
from sspr.policy.models import PasswordPolicy
from sspr.policy.rules import (
    AccountNameRule,
    CharacterClassesRule,
    LengthRule,
    NotCurrentPasswordRule,
    PasswordContext,
    PasswordRule,
    Violation,
)

if TYPE_CHECKING:
    from sspr.directory.models import Tenant, User


class PasswordRejected(DomainError):
    status = 422
    code = "password_rejected"

    def __init__(self, violations: list[Violation]) -> None:
        super().__init__(
            "The new password does not meet the password rules: "
            + " ".join(v.message for v in violations)
        )
        self.violations = violations

    def as_dict(self) -> dict[str, Any]:
        return {**super().as_dict(), "rules": [v.as_dict() for v in self.violations]}


def password_policy(tenant: Tenant) -> PasswordPolicy:
    policy, _ = PasswordPolicy.objects.get_or_create(tenant=tenant)
    return policy


def rules_for(tenant: Tenant) -> list[PasswordRule]:
    policy = password_policy(tenant)
    return [
        LengthRule(policy.min_length, policy.max_length),
        CharacterClassesRule(policy.min_character_classes),
        AccountNameRule(),
        NotCurrentPasswordRule(),
    ]


def context_for(user: User, *, forbid_current: bool = False) -> PasswordContext:
    return PasswordContext(
        upn=user.upn,
        given_name=user.given_name,
        family_name=user.family_name,
        display_name=user.display_name,
        tenant_name=user.tenant.name,
        current_password_hash=user.password_hash if forbid_current else "",
    )


def violations(
    password: str, rules: list[PasswordRule], context: PasswordContext
) -> list[Violation]:
    found: list[Violation] = []
    for rule in rules:
        found.extend(rule.check(password, context))
    return found


def check_new_password(
    tenant: Tenant, user: User, password: str, *, forbid_current: bool = False
) -> None:
    """Raise PasswordRejected naming every rule the password breaks."""
    found = violations(
        password, rules_for(tenant), context_for(user, forbid_current=forbid_current)
    )
    if found:
        raise PasswordRejected(found)
