"""Fixtures for the agent's tests: real directory servers, started once.

`slapd_server` is a private OpenLDAP slapd (tests/directories/slapd.py) for the whole run.

`samba_dc` here is package-scoped, not the session fixture of tests/integration/conftest.py
imported: two session fixtures of that name (one per conftest) would both try to start a DC on
127.0.0.1:636 when the whole suite runs, and the second would fail. Package scope stops this DC
when the agent's tests are done, before tests/integration starts its own. It is the same
SambaDC, with an account lockout threshold of 3 (the agent's lockout tests need one).
"""

from __future__ import annotations

import itertools
import os
import shutil
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from tests.directories.samba import SAMBA, SambaDC
from tests.directories.slapd import SLAPD, SlapdServer

LOCKOUT_THRESHOLD = 3


@pytest.fixture(scope="session")
def slapd_server(tmp_path_factory: Any) -> Iterator[SlapdServer]:
    """A real slapd (ppolicy, syncprov, StartTLS) on ldap://127.0.0.1:<free port>."""
    if not shutil.which(SLAPD):
        pytest.skip("slapd is not installed (scripts/ensure-system-packages)")
    server = SlapdServer(tmp_path_factory.mktemp("slapd"))
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="package")
def samba_dc(tmp_path_factory: Any) -> Iterator[SambaDC]:
    """A real Samba AD DC on ldaps://127.0.0.1:636 for the agent's tests (lockout after 3)."""
    if os.geteuid() != 0:
        pytest.skip("a Samba AD DC runs as root")
    if not shutil.which(SAMBA):
        pytest.skip("samba is not installed (scripts/ensure-system-packages)")
    dc = SambaDC(tmp_path_factory.mktemp("samba-dc-agent"), lockout_threshold=LOCKOUT_THRESHOLD)
    dc.start()
    try:
        yield dc
    finally:
        dc.stop()


_counter = itertools.count(1)


@pytest.fixture
def unique() -> Callable[[str], str]:
    """Fresh names: lockout counters and password histories outlive a test on a shared server."""
    return lambda prefix: f"{prefix}{next(_counter)}{os.getpid() % 1000}"
