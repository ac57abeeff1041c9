"""The password engine: every rule that applies, every violation collected in one answer.

One code path for every place a password is set: sign-up of a temporary password, change,
self-service reset, admin reset and the pre-check before a hybrid writeback.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from django.utils.translation import gettext as _

from sspr.audit.events import Activity, record
from sspr.directory.identifiers import normalise_upn
from sspr.errors import DomainError
from sspr.policy.password_policy import password_policy
from sspr.policy.rules import (
    AccountNameRule,
    CharacterClassesRule,
    LengthRule,
    NotCurrentPasswordRule,
    PasswordContext,
    PasswordRule,
    Violation,
)
from sspr.policy.rules.banned import BannedPasswordRule
from sspr.policy.rules.breached import BreachedPasswordRule
from sspr.policy.sspr_policy import get_policy

if TYPE_CHECKING:
    from sspr.directory.models import Tenant, User

log = logging.getLogger(__name__)

# Rules that audit mode reports instead of enforcing (Entra Password Protection's audit mode).
AUDITABLE = frozenset({BannedPasswordRule.code})


class PasswordRejected(DomainError):
    status = 422
    code = "password_rejected"

    def __init__(self, violations: list[Violation]) -> None:
        super().__init__(
            _("The new password does not meet the password rules: %(rules)s")
            % {"rules": " ".join(v.message for v in violations)}
        )
        self.violations = violations

    def as_dict(self) -> dict[str, Any]:
        return {**super().as_dict(), "rules": [v.as_dict() for v in self.violations]}


def rules_for(tenant: Tenant) -> list[PasswordRule]:
    policy = password_policy(tenant)
    rules: list[PasswordRule] = [LengthRule(policy.min_length, policy.max_length)]
    if policy.min_character_classes:
        rules.append(CharacterClassesRule(policy.min_character_classes))
    if policy.forbid_account_name:
        rules.append(AccountNameRule())
    rules.append(NotCurrentPasswordRule())
    if policy.check_banned:
        rules.append(BannedPasswordRule(get_policy(tenant).banned_passwords))
    if policy.check_breached:
        rules.append(
            BreachedPasswordRule(
                online=policy.breached_online, fail_closed=policy.breached_fail_closed
            )
        )
    return rules


def context_for(user: User, *, forbid_current: bool = False) -> PasswordContext:
    return PasswordContext(
        upn=user.upn,
        given_name=user.given_name,
        family_name=user.family_name,
        display_name=user.display_name,
        tenant_name=user.tenant.name,
        current_password_hash=user.password_hash if forbid_current else "",
    )


def context_for_name(tenant: Tenant, username: str) -> PasswordContext:
    """What feedback may know from a typed name alone: never anything looked up about it."""
    return PasswordContext(upn=normalise_upn(username)[:256], tenant_name=tenant.name)


def violations(
    password: str, rules: list[PasswordRule], context: PasswordContext
) -> list[Violation]:
    found: list[Violation] = []
    for rule in rules:
        found.extend(rule.check(password, context))
    return found


def evaluate(tenant: Tenant, password: str, context: PasswordContext) -> list[dict[str, Any]]:
    """Each rule with whether `password` meets it: the live feedback beside a password field."""
    return [
        {
            "code": rule.code,
            "description": rule.describe(),
            "met": not rule.check(password, context),
        }
        for rule in rules_for(tenant)
        if not isinstance(rule, NotCurrentPasswordRule)
    ]


def check_new_password(
    tenant: Tenant,
    user: User,
    password: str,
    *,
    forbid_current: bool = False,
    entry: str = "change",
) -> None:
    """Raise PasswordRejected naming every rule the password breaks.

    In audit mode the banned-password rule only reports: the event "Password would have been
    rejected (audit mode)" names the rules, and the password is accepted.
    """
    context = context_for(user, forbid_current=forbid_current)
    audit_mode = get_policy(tenant).password_protection == "audit"
    enforced: list[Violation] = []
    reported: list[Violation] = []
    for rule in rules_for(tenant):
        found = rule.check(password, context)
        (reported if audit_mode and rule.code in AUDITABLE else enforced).extend(found)
    if reported:
        codes = [v.code for v in reported]
        log.info("password_would_be_rejected entry=%s rules=%s", entry, ",".join(codes))
        record(
            tenant, Activity.PASSWORD_WOULD_BE_REJECTED, target=user.upn, rules=codes, entry=entry
        )
    if enforced:
        raise PasswordRejected(enforced)
