"""Fixtures for the agent's tests: real directory servers, started once, and what a test needs.

`slapd_server` is a private OpenLDAP slapd (tests/directories/slapd.py) for the whole run.

`samba_dc` here is package-scoped, not the session fixture of tests/integration/conftest.py
imported: two session fixtures of that name (one per conftest) would both try to start a DC on
127.0.0.1:636 when the whole suite runs, and the second would fail. Package scope stops this DC
when the agent's tests are done, before tests/integration starts its own. It is the same
SambaDC, with an account lockout threshold of 3 (the agent's lockout tests need one).

`server` is each directory in turn (servers.py); a test module about one directory overrides it
with its own, and `ou`, `directory` and `user` follow.
"""

from __future__ import annotations

import itertools
import os
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from sspr_agent.directory import open_directory
from sspr_agent.directory.base import Directory
from tests.agent.servers import INITIAL, ActiveDirectoryServer, DirectoryServer, OpenLdapServer
from tests.directories.fixtures import running_samba_dc, running_slapd
from tests.directories.samba import SambaDC, SambaUser
from tests.directories.slapd import SlapdServer, SlapdUser

LOCKOUT_THRESHOLD = 3


@pytest.fixture(scope="session")
def slapd_server(tmp_path_factory: Any) -> Iterator[SlapdServer]:
    """A real slapd (ppolicy, syncprov, StartTLS) on ldap://127.0.0.1:<free port>."""
    yield from running_slapd(tmp_path_factory.mktemp("slapd"))


@pytest.fixture(scope="package")
def samba_dc(tmp_path_factory: Any) -> Iterator[SambaDC]:
    """A real Samba AD DC on ldaps://127.0.0.1:636 for the agent's tests (lockout after 3)."""
    yield from running_samba_dc(
        tmp_path_factory.mktemp("samba-dc-agent"), lockout_threshold=LOCKOUT_THRESHOLD
    )


_counter = itertools.count(1)


@pytest.fixture
def unique() -> Callable[[str], str]:
    """Fresh names: lockout counters and password histories outlive a test on a shared server."""
    return lambda prefix: f"{prefix}{next(_counter)}{os.getpid() % 1000}"


@pytest.fixture(params=["ad", "openldap"])
def server(request: pytest.FixtureRequest) -> DirectoryServer:
    """Each directory in turn (a test module about one of them overrides this fixture)."""
    if request.param == "ad":
        return ActiveDirectoryServer(request.getfixturevalue("samba_dc"))
    return OpenLdapServer(request.getfixturevalue("slapd_server"))


@pytest.fixture
def ou(server: DirectoryServer, unique: Callable[[str], str]) -> str:
    """An OU of the test's own: a full read sees only what the test made."""
    return server.add_ou(unique("t"))


@pytest.fixture
def directory(server: DirectoryServer, ou: str) -> Iterator[Directory]:
    """The agent's directory, scoped to the test's OU."""
    found = open_directory(server.config(ou))
    assert isinstance(found, server.directory_class)
    try:
        yield found
    finally:
        found.close()


@pytest.fixture
def user(server: DirectoryServer, ou: str, unique: Callable[[str], str]) -> SambaUser | SlapdUser:
    """A fresh user each time: lockout counters and histories last as long as the server."""
    return server.add_user(
        unique("u"), password=INITIAL, given_name="Pat", surname="Tester", container_dn=ou
    )
