from __future__ import annotations

from sspr.policy.rules.base import PasswordContext, PasswordRule, Violation
from sspr.policy.rules.base import gettext as _


class LengthRule(PasswordRule):
    code = "length"

    def __init__(self, minimum: int = 8, maximum: int = 256) -> None:
        self.minimum = minimum
        self.maximum = maximum

    def check(self, password: str, context: PasswordContext) -> list[Violation]:
        if len(password) < self.minimum:
            return [
                Violation(
                    "password_too_short",
                    _("Use at least %(minimum)d characters.") % {"minimum": self.minimum},
                    {"minimum": self.minimum},
                )
            ]
        if len(password) > self.maximum:
            return [
                Violation(
                    "password_too_long",
                    _("Use at most %(maximum)d characters.") % {"maximum": self.maximum},
                    {"maximum": self.maximum},
                )
            ]
        return []

    def describe(self) -> str:
        return _("Between %(minimum)d and %(maximum)d characters.") % {
            "minimum": self.minimum,
            "maximum": self.maximum,
        }
