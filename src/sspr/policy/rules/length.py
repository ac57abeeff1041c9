from __future__ import annotations

from sspr.policy.rules.base import PasswordContext, PasswordRule, Violation


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
                    f"Use at least {self.minimum} characters.",
                    {"minimum": self.minimum},
                )
            ]
        if len(password) > self.maximum:
            return [
                Violation(
                    "password_too_long",
                    f"Use at most {self.maximum} characters.",
                    {"maximum": self.maximum},
                )
            ]
        return []

    def describe(self) -> str:
        return f"Between {self.minimum} and {self.maximum} characters."
