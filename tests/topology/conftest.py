"""One production-shaped stack for the whole package (stack.py): PostgreSQL, Redis, two app
processes and nginx, with the tenant `contoso` (reset on for everyone, no CAPTCHA)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest

from tests.topology.stack import NGINX, Stack

TENANT = "contoso"
DOMAIN = "contoso.com"
PASSWORD = "Correct-Horse-42"
ADMIN = f"admin@{DOMAIN}"


@pytest.fixture(scope="package")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    if not NGINX.exists():
        pytest.fail(f"{NGINX} is missing: `make test` installs it (scripts/ensure-system-packages)")
    with Stack(tmp_path_factory.mktemp("topology")) as running:
        running.sspr("tenant", "create", TENANT, "--name", "Contoso", "--plan", "p1")
        running.sspr("policy", "set", TENANT, "enabled_for=all", "captcha_enabled=false")
        running.sspr(
            "user",
            "create",
            TENANT,
            ADMIN,
            "--password",
            PASSWORD,
            "--role",
            "global-administrator",
        )
        yield running


@pytest.fixture(scope="package")
def admin_token(stack: Stack) -> str:
    reply = stack.api(
        "POST", f"/tenants/{TENANT}/sessions", {"username": ADMIN, "password": PASSWORD}
    )
    assert reply.status == 201, reply.text
    return str(reply.json()["token"])


@pytest.fixture
def user(stack: Stack, admin_token: str) -> str:
    """A user of its own for each test (lockouts and throttles are per user name)."""
    upn = f"u-{uuid.uuid4().hex[:8]}@{DOMAIN}"
    created = stack.api(
        "POST",
        f"/tenants/{TENANT}/users",
        {"upn": upn, "password": PASSWORD, "mail": upn, "must_change_password": False},
        token=admin_token,
    )
    assert created.status == 201, created.text
    return upn
