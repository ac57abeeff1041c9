"""Bearer tokens for the API. A user who must change their password may only do that; a token
signed in with a Temporary Access Pass may only register methods."""

from __future__ import annotations

from django.http import HttpRequest
from ninja.security import HttpBearer

from sspr.access.temporary_pass import is_pass_session
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


class PassSessionLimited(DomainError):
    status = 403
    code = "temporary_access_pass_session"

    def __init__(self) -> None:
        super().__init__(
            "A sign-in with a Temporary Access Pass may only register methods "
            "(/api/v1/me/methods). Sign in with your password for anything else."
        )


class Bearer(HttpBearer):
    def __init__(
        self, *, allow_must_change: bool = False, allow_pass_session: bool = False
    ) -> None:
        super().__init__()
        self.allow_must_change = allow_must_change
        self.allow_pass_session = allow_pass_session

    def authenticate(self, request: HttpRequest, token: str) -> Credential | None:
        credential = credentials.resolve(token)
        if credential is None:
            return None
        if is_pass_session(credential):
            if not self.allow_pass_session:
                raise PassSessionLimited()
            # It cannot change the password anyway: it may register methods meanwhile.
            return credential
        if credential.user.must_change_password and not self.allow_must_change:
            raise PasswordChangeRequired()
        return credential


bearer = Bearer()
bearer_during_must_change = Bearer(allow_must_change=True)
# Registering methods, and proving a registered method first: also for pass sessions.
bearer_for_security_info = Bearer(allow_pass_session=True)


def credential_of(request: HttpRequest) -> Credential:
    auth = request.auth  # type: ignore[attr-defined]
    assert isinstance(auth, Credential)
    return auth
