"""Fixtures shared by the whole suite: tenants, users and signed-in clients."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Any

import pytest
from django.test import Client

from sspr.directory.models import Tenant, User
from sspr.directory.tenants import create_tenant
from sspr.directory.users import create_user

pytest_plugins = ["tests.redis_server"]  # the `redis_url` fixture

PASSWORD = "Correct-Horse-42"
# Every administrator role, each of which may read the admin pages and reports.
ADMIN_ROLES = (
    "global-administrator",
    "authentication-policy-administrator",
    "password-administrator",
    "helpdesk-administrator",
)


@pytest.fixture
def tenant(db: Any) -> Tenant:
    return create_tenant("contoso", "Contoso", "p1", ["contoso.com"])


@pytest.fixture
def other_tenant(db: Any) -> Tenant:
    return create_tenant("fabrikam", "Fabrikam", "p1", ["fabrikam.com"])


@pytest.fixture
def make_user(db: Any) -> Callable[..., User]:
    def make(tenant: Tenant, upn: str, password: str = PASSWORD, **kwargs: Any) -> User:
        kwargs.setdefault("mail", upn)
        return create_user(tenant, upn, password=password, **kwargs)

    return make


@pytest.fixture
def alice(tenant: Tenant, make_user: Callable[..., User]) -> User:
    return make_user(tenant, "alice@contoso.com", given_name="Alice", family_name="Anderson")


class Api:
    """A JSON client for the API, holding a bearer token once signed in."""

    def __init__(self) -> None:
        self.client = Client()
        self.token = ""

    def call(self, method: str, path: str, body: Any = None, **headers: str) -> Any:
        if self.token:
            headers.setdefault("HTTP_AUTHORIZATION", f"Bearer {self.token}")
        if method in ("GET", "DELETE"):
            return getattr(self.client, method.lower())(f"/api/v1{path}", **headers)
        data = json.dumps(body) if body is not None else None
        return getattr(self.client, method.lower())(
            f"/api/v1{path}", data=data, content_type="application/json", **headers
        )

    def sign_in(self, tenant: str, username: str, password: str = PASSWORD) -> Any:
        response = self.call(
            "POST", f"/tenants/{tenant}/sessions", {"username": username, "password": password}
        )
        if response.status_code == 201:
            self.token = response.json()["token"]
        return response


@pytest.fixture
def api(db: Any) -> Api:
    return Api()


@pytest.fixture
def make_api(db: Any) -> Callable[[], Api]:
    return Api


@pytest.fixture
def as_role(tenant: Tenant, make_user: Any, make_api: Callable[[], Api]) -> Callable[..., Api]:
    """An API client signed in as a new user of contoso holding `role` (None: a plain user)."""

    def sign_in(role: str | None, upn: str = "") -> Api:
        upn = upn or f"{role or 'user'}@contoso.com"
        make_user(tenant, upn, roles=[role] if role else [])
        client = make_api()
        assert client.sign_in("contoso", upn).status_code == 201
        return client

    return sign_in


def csrf_token(html: str) -> str:
    found = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', html)
    assert found, "the page carries no CSRF token"
    return found.group(1)


def browser(upn: str, tenant: str = "contoso") -> Client:
    """A browser that enforces CSRF as a real one meets it, signed in through the sign-in page."""
    client = Client(enforce_csrf_checks=True)
    token = csrf_token(client.get(f"/t/{tenant}/sign-in").content.decode())
    response = client.post(
        f"/t/{tenant}/sign-in",
        {"username": upn, "password": PASSWORD, "csrfmiddlewaretoken": token},
    )
    assert response.status_code == 302, response.content
    return client
