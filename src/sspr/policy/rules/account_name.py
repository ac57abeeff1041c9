from __future__ import annotations

from sspr.policy.rules.base import PasswordContext, PasswordRule, Violation
from sspr.policy.rules.base import gettext as _


class AccountNameRule(PasswordRule):
    """Like Active Directory: the account name (3 characters or more) may not appear in it."""

    code = "account_name"

    def check(self, password: str, context: PasswordContext) -> list[Violation]:
        account = context.upn.split("@")[0].lower()
        if len(account) >= 3 and account in password.lower():
            return [
                Violation(
                    "password_contains_account_name",
                    _("Do not include your account name in your password."),
                )
            ]
        return []

    def describe(self) -> str:
        return _("Does not contain your account name.")
