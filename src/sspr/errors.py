"""The one error type the domain raises for anything a person can cause.

Each subclass carries a stable `code` (what programs match on), an HTTP-ish `status` (what the
API answers) and a message a person understands. The web layer turns them into JSON or a page.
"""

from __future__ import annotations

from typing import Any


class DomainError(Exception):
    status = 400
    code = "bad_request"

    def __init__(self, message: str, **details: Any) -> None:
        super().__init__(message)
        self.message = message
        self.details = details

    def as_dict(self) -> dict[str, Any]:
        return {"code": self.code, "message": self.message, **self.details}


class NotFound(DomainError):
    status = 404
    code = "not_found"


class Forbidden(DomainError):
    status = 403
    code = "forbidden"


class Conflict(DomainError):
    status = 409
    code = "conflict"


class InvalidValue(DomainError):
    status = 422
    code = "invalid_value"
