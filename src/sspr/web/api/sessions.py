from __future__ import annotations

from typing import Any

from django.http import HttpRequest
from ninja import Router, Status

from sspr.access.temporary_pass import sign_in_with_pass
from sspr.directory.models import Credential
from sspr.directory.signin import sign_in
from sspr.directory.tenants import get_tenant
from sspr.web.api.schemas import Error, SessionIn, SessionOut, Text, UserOut

router = Router(tags=["sessions"])


@router.post(
    "/tenants/{tenant}/sessions",
    response={201: SessionOut, 401: Error, 403: Error, 404: Error, 422: Error, 429: Error},
    auth=None,
)
def create_session(request: HttpRequest, tenant: Text, body: SessionIn) -> Status[Any]:
    """Sign in with a user name and password; the answer carries a bearer token.

    With `temporary_access_pass` instead of `password`, the token may only register methods
    (`/me/methods`); it never changes a password nor reaches the administration."""
    scope = get_tenant(tenant)
    if body.temporary_access_pass is not None:
        signed_in = sign_in_with_pass(
            scope, body.username, body.temporary_access_pass, Credential.Kind.API
        )
    else:
        assert body.password is not None
        signed_in = sign_in(scope, body.username, body.password, Credential.Kind.API)
    return Status(
        201,
        {
            "token": signed_in.token,
            "token_type": "Bearer",
            "expires_at": signed_in.credential.expires_at,
            "must_change_password": signed_in.must_change_password,
            "tenant": signed_in.user.tenant.slug,
            "user": UserOut.of(signed_in.user),
        },
    )
