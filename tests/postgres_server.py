"""A throwaway PostgreSQL cluster on loopback that a test can stop and start again.

The same cluster as scripts/with-postgres makes for the PostgreSQL pass of `make test` (trust
authentication for the user sspr, no fsync), but held by the test, so that it can take the
database away in the middle of a run and bring it back on the same port.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest

from tests.redis_server import free_port


def _bindir() -> Path:
    found = sorted(
        Path("/usr/lib/postgresql").glob("*/bin"), key=lambda p: int(p.parent.name.split(".")[0])
    )
    if not found:
        pytest.fail("PostgreSQL is missing: `make test` installs it (ensure-system-packages)")
    return found[-1]


class PostgresCluster:
    def __init__(self) -> None:
        self.bindir = _bindir()
        # Not under pytest's temporary directory: as root, the cluster runs as `postgres`,
        # which must be able to reach it.
        self.dir = Path(tempfile.mkdtemp(prefix="sspr-pg-"))
        self.data = self.dir / "data"
        self.log = self.dir / "log"
        self.port = free_port()
        self._as_pg: list[str] = []
        if os.geteuid() == 0:  # initdb refuses to run as root
            shutil.chown(self.dir, "postgres", "postgres")
            self._as_pg = ["runuser", "-u", "postgres", "--"]

    @property
    def url(self) -> str:
        return f"postgres://sspr@127.0.0.1:{self.port}/sspr"

    def _run(self, *command: str) -> None:
        done = subprocess.run(
            [*self._as_pg, *command], capture_output=True, text=True, timeout=60, check=False
        )
        if done.returncode != 0:
            log = self.log.read_text(errors="replace") if self.log.exists() else ""
            pytest.fail(f"{' '.join(command)} exited {done.returncode}:\n{done.stderr}\n{log}")

    def create(self) -> None:
        """initdb, start, and the database `sspr`."""
        self._run(
            str(self.bindir / "initdb"), "-D", str(self.data), "-U", "sspr",
            "--auth=trust", "-E", "UTF8", "--no-locale",
        )  # fmt: skip
        self.start()
        self._run(
            str(self.bindir / "createdb"), "-h", "127.0.0.1", "-p", str(self.port),
            "-U", "sspr", "sspr",
        )  # fmt: skip

    def start(self) -> None:
        options = (
            f"-c listen_addresses=127.0.0.1 -p {self.port} -k {self.dir} "
            "-c fsync=off -c full_page_writes=off"
        )
        self._run(
            str(self.bindir / "pg_ctl"), "-D", str(self.data), "-w", "-l", str(self.log),
            "-o", options, "start",
        )  # fmt: skip

    def stop(self, mode: str = "immediate") -> None:
        """`immediate` is a crash: every connection is cut at once, nothing is shut down
        cleanly, and the next start recovers from the write-ahead log."""
        self._run(str(self.bindir / "pg_ctl"), "-D", str(self.data), "-m", mode, "-w", "stop")

    def remove(self) -> None:
        subprocess.run(
            [*self._as_pg, str(self.bindir / "pg_ctl"), "-D", str(self.data), "-m", "immediate",
             "stop"],
            capture_output=True, timeout=60, check=False,
        )  # fmt: skip
        shutil.rmtree(self.dir, ignore_errors=True)
