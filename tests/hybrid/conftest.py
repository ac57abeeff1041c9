"""Fixtures for the hybrid end-to-end tests: the real directories, one of each per package.

`samba_dc` is package-scoped, like the one of tests/agent and unlike the session one of
tests/integration: only one Samba DC can run at a time (tests/directories/fixtures.py). When
another test run on the same machine holds its ports, the fixture waits for them (a few minutes at
most) instead of failing at once.

`slapd_server` is a private slapd on a free port (cheap: started per package too).

`hybrid` is one service, tenant and agent for a test module's scenarios, against the module's
`side` (its directory, onprem.py).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from tests.directories.fixtures import running_samba_dc, running_slapd
from tests.directories.samba import SambaDC
from tests.directories.slapd import SlapdServer
from tests.hybrid import scenarios
from tests.hybrid.onprem import LOCKOUT_THRESHOLD, OnPrem
from tests.hybrid.scenarios import Hybrid

PORT_WAIT = 240.0  # another run's DC holding 127.0.0.1:636


@pytest.fixture(scope="package")
def slapd_server(tmp_path_factory: Any) -> Iterator[SlapdServer]:
    """A real slapd (ppolicy with lockout after 3 failures, syncprov, StartTLS)."""
    yield from running_slapd(tmp_path_factory.mktemp("slapd-hybrid"))


@pytest.fixture(scope="package")
def samba_dc(tmp_path_factory: Any) -> Iterator[SambaDC]:
    """A real Samba AD DC on ldaps://127.0.0.1:636, lockout after 3 failures."""
    yield from running_samba_dc(
        tmp_path_factory.mktemp("samba-dc-hybrid"),
        lockout_threshold=LOCKOUT_THRESHOLD,
        port_wait=PORT_WAIT,
    )


@pytest.fixture(scope="module")
def hybrid(side: OnPrem, tmp_path_factory: Any) -> Iterator[Hybrid]:
    with scenarios.running(tmp_path_factory.mktemp(f"hybrid-{side.kind}"), side) as hy:
        yield hy
