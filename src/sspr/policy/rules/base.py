"""The shape every password rule has."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


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
