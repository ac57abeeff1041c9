"""Password rules: one rule a module, each an object that reports every violation it finds."""

from sspr.policy.rules.account_name import AccountNameRule
from sspr.policy.rules.base import PasswordContext, PasswordRule, Violation
from sspr.policy.rules.character_classes import CharacterClassesRule
from sspr.policy.rules.length import LengthRule
from sspr.policy.rules.not_current import NotCurrentPasswordRule

__all__ = [
    "AccountNameRule",
    "CharacterClassesRule",
    "LengthRule",
    "NotCurrentPasswordRule",
    "PasswordContext",
    "PasswordRule",
    "Violation",
]
