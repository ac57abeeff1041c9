"""Bearer tokens for the API. A user who must change their password may only do that."""

from __future__ import annotations

from django.http import HttpRequest
from ninja.security import HttpBearer

from sspr.directory import credentials
from sspr.directory.models import Credential
from sspr.errors import DomainError


class PasswordChangeRequired(DomainError):
    status = 403
    code = "password_change_required"

    def __init__(self) -> None:
        super().__init__(
            "You must change your password before you continue: POST /api/v1/me/password."
        )


class Bearer(HttpBearer):
    def __init__(self, *, allow_must_change: bool = False) -> None:
        super().__init__()
        self.allow_must_change = allow_must_change

    def authenticate(self, request: HttpRequest, token: str) -> Credential | None:
        credential = credentials.resolve(token)
        if credential is None:
            return None
        if credential.user.must_change_password and not self.allow_must_change:
            raise PasswordChangeRequired()
        return credential


bearer = Bearer()
bearer_during_must_change = Bearer(allow_must_change=True)


def credential_of(request: HttpRequest) -> Credential:
    auth = request.auth  # type: ignore[attr-defined]
    assert isinstance(auth, Credential)
    return auth
