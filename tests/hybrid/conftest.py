"""Fixtures for the hybrid end-to-end tests: the real directories, one of each per package.

`samba_dc` is package-scoped, like the one of tests/agent and unlike the session one of
tests/integration: a Samba DC listens on fixed ports of 127.0.0.1 (636, 88, 135, ...), so only
one can run at a time; package scope stops this one when the hybrid tests are done, before the
next package starts its own. When another test run on the same machine holds the ports, the
fixture waits for them (a few minutes at most) instead of failing at once.

`slapd_server` is a private slapd on a free port (cheap: started per package too).
"""

from __future__ import annotations

import os
import shutil
import socket
import time
from collections.abc import Iterator
from typing import Any

import pytest

from tests.directories.samba import LDAPS_PORT, SAMBA, SambaDC, SambaError
from tests.directories.slapd import SLAPD, SlapdServer
from tests.hybrid.onprem import LOCKOUT_THRESHOLD

PORT_WAIT = 240.0  # another run's DC holding 127.0.0.1:636


@pytest.fixture(scope="package")
def slapd_server(tmp_path_factory: Any) -> Iterator[SlapdServer]:
    """A real slapd (ppolicy with lockout after 3 failures, syncprov, StartTLS)."""
    if not shutil.which(SLAPD):
        pytest.skip("slapd is not installed (scripts/ensure-system-packages)")
    server = SlapdServer(tmp_path_factory.mktemp("slapd-hybrid"))
    server.start()
    try:
        yield server
    finally:
        server.stop()


def _taken(ip: str, port: int) -> bool:
    with socket.socket() as probe:
        probe.settimeout(0.5)
        return probe.connect_ex((ip, port)) == 0


@pytest.fixture(scope="package")
def samba_dc(tmp_path_factory: Any) -> Iterator[SambaDC]:
    """A real Samba AD DC on ldaps://127.0.0.1:636, lockout after 3 failures."""
    if os.geteuid() != 0:
        pytest.skip("a Samba AD DC runs as root")
    if not shutil.which(SAMBA):
        pytest.skip("samba is not installed (scripts/ensure-system-packages)")
    dc = SambaDC(tmp_path_factory.mktemp("samba-dc-hybrid"), lockout_threshold=LOCKOUT_THRESHOLD)
    deadline = time.monotonic() + PORT_WAIT
    while True:
        while _taken(dc.ip, LDAPS_PORT) and time.monotonic() < deadline:
            time.sleep(0.5)
        try:
            dc.start()
            break
        except SambaError:
            dc.stop()
            if time.monotonic() > deadline:
                raise
            time.sleep(1)  # another DC took the ports between the probe and the start
    try:
        yield dc
    finally:
        dc.stop()
