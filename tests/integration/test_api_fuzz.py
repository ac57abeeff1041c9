"""Fuzz every operation of the OpenAPI document with Schemathesis.

Whatever a client sends, the API answers without a server error (no 5xx), and every error is
JSON with a `code` and a `message`. Each operation is fuzzed twice: with a valid bearer token of
a Global Administrator, so that the fuzzer gets past authentication, and without one.

Some operations destroy the token they are called with (DELETE /me/session signs out, POST
/me/password ends other sessions and counts wrong current passwords toward lockout), so every
authenticated case runs as a fresh administrator who signs in through the API just before it.
Most cases are then aimed at real data (see `_aim`), some with NUL characters added, which the
generator seldom produces and PostgreSQL refuses: run this file under scripts/with-postgres too.
"""

from __future__ import annotations

import itertools
import json
import zlib
from collections.abc import Callable
from typing import Any

import pytest
import schemathesis
from django.core.wsgi import get_wsgi_application
from django.test import Client
from hypothesis import HealthCheck, settings

from sspr.directory.models import Tenant
from sspr.directory.tenants import create_tenant
from sspr.directory.users import create_user
from tests.conftest import PASSWORD

OPENAPI = "/api/v1/openapi.json"
MAX_EXAMPLES = 30
# Every operation in the document is fuzzed, a new one automatically; this list makes sure that
# none of these silently drops out of the document, and so out of the fuzzing.
KNOWN_OPERATIONS = {
    "GET /api/v1/health",
    "POST /api/v1/tenants/{tenant}/sessions",
    "GET /api/v1/me",
    "DELETE /api/v1/me/session",
    "POST /api/v1/me/password",
    "GET /api/v1/tenants/{tenant}/users",
    "POST /api/v1/tenants/{tenant}/users",
    "GET /api/v1/tenants/{tenant}/insights",
    "GET /api/v1/tenants/{tenant}/recommendations",
    "POST /api/v1/tenants/{tenant}/recommendations/{recommendation}/fix",
    "GET /api/v1/tenants/{tenant}/users/{upn}/eligibility",
    "POST /api/v1/tenants/{tenant}/users/{upn}/caller-verifications",
    "POST /api/v1/tenants/{tenant}/users/{upn}/caller-verifications/{verification}",
    "GET /api/v1/tenants/{tenant}/rollout/{template}",
    "POST /api/v1/tenants/{tenant}/rollout/sends",
    "POST /api/v1/tenants/{tenant}/named-locations",
    "PATCH /api/v1/tenants/{tenant}/conditional-access/policies/{policy}",
    "GET /api/v1/tenants/{tenant}/conditional-access/what-if",
    "POST /api/v1/tenants/{tenant}/users/{upn}/temporary-access-passes",
    "POST /api/v1/me/step-up/verifications",
}

# In-process: Django's WSGI handler answers on the test's own thread.
schema = schemathesis.openapi.from_wsgi(OPENAPI, get_wsgi_application())

_serial = itertools.count()


@pytest.fixture
def contoso(transactional_db: Any, settings: Any) -> Tenant:
    """Transactional: Django's WSGI handler closes the database connection at the end of every
    request (CONN_MAX_AGE=0), which a test wrapped in one transaction would not survive."""
    # Every case signs a new user in: the cheapest Argon2id keeps the fuzzing about the API.
    settings.ARGON2_TIME_COST = 1
    settings.ARGON2_MEMORY_KIB = 1024
    return create_tenant("contoso", "Contoso", "p1", ["contoso.com"])


def sign_in(upn: str, password: str = PASSWORD) -> str:
    response = Client().post(
        "/api/v1/tenants/contoso/sessions",
        data=json.dumps({"username": upn, "password": password}),
        content_type="application/json",
    )
    assert response.status_code == 201, response.content
    token = response.json()["token"]
    assert isinstance(token, str) and token
    return token


@pytest.fixture
def fresh_admin(contoso: Tenant) -> Callable[[], tuple[str, str]]:
    """A new Global Administrator, signed in through the API: (upn, bearer token)."""

    def make() -> tuple[str, str]:
        upn = f"fuzz-admin-{next(_serial)}@contoso.com"
        create_user(contoso, upn, password=PASSWORD, roles=["global-administrator"],
                    mail=upn)
        return upn, sign_in(upn)

    return make


def _bucket(case: schemathesis.Case) -> int:
    """0 to 3, from the content of the case, so that a failure replays the same way."""
    seen = repr((case.path_parameters, case.query, case.body)).encode("utf-8", "replace")
    return zlib.crc32(seen) % 4


def _with_nul(container: Any) -> None:
    """Generated text seldom holds NUL, and never in a path; PostgreSQL refuses it in a query."""
    if isinstance(container, dict):
        for key, value in container.items():
            if isinstance(value, str):
                container[key] = value + "\x00"


def _aim(case: schemathesis.Case, upn: str | None) -> None:
    """Shape three cases in four, whatever the operation:

    0. as generated;
    1. pointed at real data, so that the fuzzer gets past "no such tenant", "wrong current
       password" and "not a user name" and reaches the code behind them;
    2. the same, with a NUL at the end of every text in the body and the query;
    3. with a NUL at the end of every path parameter.
    """
    bucket = _bucket(case)
    if bucket == 0:
        return
    if bucket == 3:
        _with_nul(case.path_parameters)
        return
    if bucket == 2:
        _with_nul(case.body)
        _with_nul(case.query)
    if case.path_parameters and "tenant" in case.path_parameters:
        case.path_parameters["tenant"] = "contoso"
    if upn is None or not isinstance(case.body, dict):
        return
    label = case.operation.label
    if label == "POST /api/v1/me/password" and "current_password" in case.body:
        case.body["current_password"] = PASSWORD
    elif label == "POST /api/v1/tenants/{tenant}/sessions" and "username" in case.body:
        case.body["username"] = upn
    elif label == "POST /api/v1/tenants/{tenant}/users" and "upn" in case.body:
        case.body["upn"] = f"new-{next(_serial)}@contoso.com"


def _requires_token(case: schemathesis.Case) -> bool:
    return bool(case.operation.definition.raw.get("security"))


def _check(case: schemathesis.Case, response: schemathesis.Response, token: str | None) -> None:
    where = f"{case.operation.label}\n{case.as_curl_command()}\n-> {response.status_code} " \
            f"{response.content[:500]!r}"
    assert response.status_code < 500, f"server error for\n{where}"
    # Some generated cases leave the token out on purpose (missing credentials are part of the
    # fuzzing); when it was sent, it must be accepted.
    sent = response.request.headers.get("Authorization")
    if token is not None and _requires_token(case) and sent == f"Bearer {token}":
        assert response.status_code != 401, f"a valid token was refused for\n{where}"
    if response.status_code >= 400:
        content_type = response.headers.get("content-type", [""])[0]
        assert content_type.startswith("application/json"), f"error is not JSON for\n{where}"
        body = json.loads(response.content)
        assert isinstance(body, dict), f"error is not a JSON object for\n{where}"
        assert isinstance(body.get("code"), str) and body["code"], f"no code for\n{where}"
        assert isinstance(body.get("message"), str) and body["message"], f"no message for\n{where}"


def test_the_document_declares_every_operation() -> None:
    assert {result.ok().label for result in schema.get_all_operations()} >= KNOWN_OPERATIONS


def test_the_administrator_gets_past_authentication(contoso: Tenant) -> None:
    create_user(contoso, "admin@contoso.com", password=PASSWORD,
                roles=["global-administrator"])
    token = sign_in("admin@contoso.com")
    response = Client().get("/api/v1/tenants/contoso/users",
                            HTTP_AUTHORIZATION=f"Bearer {token}")
    assert response.status_code == 200, response.content
    assert "admin@contoso.com" in {u["upn"] for u in response.json()["items"]}


# PostgreSQL refuses NUL in any query: these requests used to end in a 503 there (SQLite stored
# the NUL). The fuzzing below sends NULs too; these are the inputs known to reach the database.
NUL_REQUESTS = [
    ("POST", "/tenants/con%00toso/sessions", {"username": "a@contoso.com", "password": "x"}),
    ("POST", "/tenants/contoso/sessions", {"username": "a\x00@contoso.com", "password": "x"}),
    ("GET", "/tenants/con%00toso/users", None),
    ("GET", "/tenants/contoso/users?search=a%00", None),
    ("POST", "/tenants/con%00toso/users", {"upn": "nul@contoso.com"}),
    *[("POST", "/tenants/contoso/users", {"upn": "nul@contoso.com", field: "a\x00"})
      for field in ("upn", "display_name", "given_name", "family_name", "mail", "mobile_phone",
                    "office_phone")],
    ("POST", "/tenants/contoso/users", {"upn": "nul@contoso.com", "roles": ["\x00"]}),
    ("POST", "/tenants/con%00toso/password-resets", {"username": "a@contoso.com"}),
    ("POST", "/tenants/contoso/password-resets", {"username": "a\x00@contoso.com"}),
    ("POST", "/password-resets/flow%00/challenges", {"method": "email"}),
    ("POST", "/password-resets/flow%00/verifications", {"method": "email", "code": "1"}),
    ("POST", "/password-resets/flow%00/completion", {"action": "unlock"}),
]


@pytest.mark.parametrize(("method", "path", "body"), NUL_REQUESTS)
def test_nul_characters_are_refused_as_invalid(
    fresh_admin: Callable[[], tuple[str, str]], method: str, path: str, body: Any
) -> None:
    _, token = fresh_admin()
    response = Client().generic(
        method, f"/api/v1{path}", json.dumps(body) if body is not None else "",
        content_type="application/json", HTTP_AUTHORIZATION=f"Bearer {token}",
    )
    # Refused as invalid: by the address check (400) or by the request schema (422).
    assert response.status_code in (400, 422), response.content
    assert response.json()["code"] in ("bad_request", "invalid_request")


@pytest.mark.parametrize("authenticated", [True, False], ids=["token", "no-token"])
@schema.parametrize()
@settings(
    max_examples=MAX_EXAMPLES,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow,
                           HealthCheck.filter_too_much, HealthCheck.data_too_large],
)
def test_fuzz(case: schemathesis.Case, authenticated: bool,
              fresh_admin: Callable[[], tuple[str, str]]) -> None:
    headers = upn = token = None
    if authenticated:
        upn, token = fresh_admin()
        headers = {"Authorization": f"Bearer {token}"}
    _aim(case, upn)
    response = case.call(headers=headers)
    _check(case, response, token)

