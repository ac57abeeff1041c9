from __future__ import annotations

from typing import Any

from django.http import HttpRequest
from ninja import Router, Status

from sspr.directory.signin import sign_out
from sspr.flows.change import change_password
from sspr.web.api.auth import Bearer, bearer_during_must_change, credential_of
from sspr.web.api.schemas import Error, Message, PasswordChangeIn, PasswordError, UserOut

router = Router(tags=["me"], auth=bearer_during_must_change)
# Who am I and signing out: for every session, one signed in with a Temporary Access Pass too.
any_session = Bearer(allow_must_change=True, allow_pass_session=True)


@router.get("/me", response={200: UserOut, 401: Error}, auth=any_session)
def me(request: HttpRequest) -> dict[str, Any]:
    """The signed-in user."""
    return UserOut.of(credential_of(request).user)


@router.delete("/me/session", response={204: None, 401: Error}, auth=any_session)
def end_session(request: HttpRequest) -> Status[Any]:
    """Sign out: the token stops working at once."""
    sign_out(credential_of(request))
    return Status(204, None)


@router.post(
    "/me/password",
    response={200: Message, 401: Error, 403: Error, 409: Error, 422: PasswordError, 429: Error},
)
def change_my_password(request: HttpRequest, body: PasswordChangeIn) -> dict[str, str]:
    """Change your password. Every other session and token of yours is signed out."""
    change_password(credential_of(request), body.current_password, body.new_password)
    return {"message": "Your password was changed. Other sessions have been signed out."}
