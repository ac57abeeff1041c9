"""The test servers' life in a pytest fixture: skipped where they cannot run, always stopped.

A fixture yields from one of these, e.g. `yield from running_slapd(tmp_path_factory.mktemp(...))`;
its scope is its own choice. A Samba DC listens on fixed ports of 127.0.0.1 (636, 88, 135, ...),
so only one can run at a time: its fixtures are package-scoped (one package's DC stops before the
next package starts its own), never session-scoped.
"""

from __future__ import annotations

import os
import shutil
import socket
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.directories.samba import LDAPS_PORT, SAMBA, SambaDC, SambaError
from tests.directories.slapd import SLAPD, SlapdServer


def running_slapd(root: Path) -> Iterator[SlapdServer]:
    """A private slapd in `root` (ppolicy, syncprov, StartTLS) on a free port of 127.0.0.1."""
    if not shutil.which(SLAPD):
        pytest.skip("slapd is not installed (scripts/ensure-system-packages)")
    server = SlapdServer(root)
    server.start()
    try:
        yield server
    finally:
        server.stop()


def running_samba_dc(
    root: Path, *, lockout_threshold: int, port_wait: float = 0.0
) -> Iterator[SambaDC]:
    """A Samba AD DC in `root` on ldaps://127.0.0.1:636.

    When another DC (another test run on the same machine) holds the ports, it waits up to
    `port_wait` seconds for them, instead of failing at once.
    """
    if os.geteuid() != 0:
        pytest.skip("a Samba AD DC runs as root")
    if not shutil.which(SAMBA):
        pytest.skip("samba is not installed (scripts/ensure-system-packages)")
    dc = SambaDC(root, lockout_threshold=lockout_threshold)
    deadline = time.monotonic() + port_wait
    while True:
        while time.monotonic() < deadline and _taken(dc.ip, LDAPS_PORT):
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


def _taken(ip: str, port: int) -> bool:
    with socket.socket() as probe:
        probe.settimeout(0.5)
        return probe.connect_ex((ip, port)) == 0
