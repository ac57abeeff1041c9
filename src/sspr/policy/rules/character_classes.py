from __future__ import annotations

from sspr.policy.rules.base import PasswordContext, PasswordRule, Violation
from sspr.policy.rules.base import gettext as _

CLASSES = ("lower-case letters", "upper-case letters", "digits", "symbols")


def classes_used(password: str) -> set[str]:
    found = set()
    for char in password:
        if char.islower():
            found.add(CLASSES[0])
        elif char.isupper():
            found.add(CLASSES[1])
        elif char.isdigit():
            found.add(CLASSES[2])
        elif not char.isspace() or char == " ":
            # Entra counts a space as a symbol; other white space counts as nothing.
            found.add(CLASSES[3])
    return found


class CharacterClassesRule(PasswordRule):
    code = "character_classes"

    def __init__(self, minimum: int = 3) -> None:
        self.minimum = minimum

    def check(self, password: str, context: PasswordContext) -> list[Violation]:
        used = classes_used(password)
        if len(used) >= self.minimum:
            return []
        missing = [c for c in CLASSES if c not in used]
        return [
            Violation(
                "password_too_simple",
                _(
                    "Mix at least %(minimum)d of: lower-case letters, upper-case letters, "
                    "digits and symbols (this one has %(used)d)."
                )
                % {"minimum": self.minimum, "used": len(used)},
                {"minimum": self.minimum, "missing": missing},
            )
        ]

    def describe(self) -> str:
        return _("At least %(minimum)d of lower-case, upper-case, digits and symbols.") % {
            "minimum": self.minimum
        }
