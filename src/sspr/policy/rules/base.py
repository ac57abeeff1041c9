"""The shape every password rule has."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

# The DC's password filter runs these rules without Django and must start fast, so they cannot
# import Django's translation; it reads their English. The service installs Django's gettext at
# start-up (PolicyConfig.ready), and people read the rules in the language of their request.
_translate: Callable[[str], str] = str


def use_translation(translate: Callable[[str], str]) -> None:
    global _translate
    _translate = translate


def gettext(message: str) -> str:
    return _translate(message)


@dataclass(frozen=True)
class PasswordContext:
    """What a rule may know about the person choosing the password. Never the old password."""

    upn: str = ""
    given_name: str = ""
    family_name: str = ""
    display_name: str = ""
    tenant_name: str = ""
    # The hash of the password being replaced, when the rules forbid keeping it.
    current_password_hash: str = ""


@dataclass(frozen=True)
class Violation:
    code: str
    message: str
    params: dict[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return {"code": self.code, "message": self.message, **self.params}


class PasswordRule:
    """Override `check`; return every violation found (an empty list when the password passes).

    `describe` is the sentence shown beside the password field before anything is typed.
    """

    code: str = ""

    def check(self, password: str, context: PasswordContext) -> list[Violation]:
        raise NotImplementedError

    def describe(self) -> str:
        raise NotImplementedError
