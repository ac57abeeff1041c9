from __future__ import annotations

from sspr.policy.rules.base import PasswordContext, PasswordRule, Violation
from sspr.policy.rules.base import gettext as _


class NotCurrentPasswordRule(PasswordRule):
    code = "not_current"

    def check(self, password: str, context: PasswordContext) -> list[Violation]:
        # Imported here: the DC's password filter uses these rules without Django.
        from sspr.directory.passwords import verify_password

        if context.current_password_hash and verify_password(
            context.current_password_hash, password
        ):
            return [
                Violation(
                    "password_reused", _("Choose a password different from your current one.")
                )
            ]
        return []

    def describe(self) -> str:
        return _("Not your current password.")
