"""`sspr demo --hybrid`: a local OpenLDAP, an enrolled agent and the service, run as an
evaluator runs it (real processes on a fresh data directory), twice."""

from __future__ import annotations

import os
import re
import socket
import sqlite3
import stat
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from sspr.demo_directory import PEOPLE, find_slapd

SSPR = str(Path(sys.executable).with_name("sspr"))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def environment(data_dir: Path) -> dict[str, str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in ("DATABASE_URL", "SECRET_KEY", "DJANGO_SETTINGS_MODULE")
        and not k.startswith("SSPR_")
    }
    env["SSPR_DATA_DIR"] = str(data_dir)
    return env


def run_demo(data_dir: Path) -> tuple[subprocess.CompletedProcess[str], int, float]:
    ldap_port = free_port()
    started = time.monotonic()
    done = subprocess.run(
        [SSPR, "demo", "--hybrid", "--no-serve", "--port", str(free_port()),
         "--ldap-port", str(ldap_port)],
        env=environment(data_dir), cwd=data_dir.parent, capture_output=True, text=True,
        timeout=180, check=False,
    )  # fmt: skip
    return done, ldap_port, time.monotonic() - started


def leftovers(root: Path) -> list[str]:
    """Processes (other than this one) whose command line or environment names `root`."""
    mark = str(root).encode()
    found = []
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit() or int(proc.name) == os.getpid():
            continue
        try:
            cmdline = (proc / "cmdline").read_bytes()
            environ = (proc / "environ").read_bytes()
        except OSError:
            continue
        if mark in cmdline or mark in environ:
            command = cmdline.replace(b"\0", b" ").decode(errors="replace")
            found.append(f"{proc.name}: {command}")
    return found


def query(data_dir: Path, sql: str, *args: Any) -> list[tuple[Any, ...]]:
    with sqlite3.connect(data_dir / "sspr.sqlite3") as db:
        return db.execute(sql, args).fetchall()


def fabrikam_users(data_dir: Path) -> dict[str, str]:
    listing = subprocess.run(
        [SSPR, "user", "list", "fabrikam"], env=environment(data_dir), capture_output=True,
        text=True, timeout=60, check=True,
    ).stdout  # fmt: skip
    return {line.split("\t")[0]: line.split("\t")[1] for line in listing.splitlines() if line}


@pytest.fixture(scope="module")
def root(tmp_path_factory: Any) -> Path:
    return Path(tmp_path_factory.mktemp("demo-hybrid"))


@pytest.mark.skipif(find_slapd() is None, reason="OpenLDAP's slapd is not installed")
class TestHybridDemo:
    def test_first_run_starts_syncs_and_stops(self, root: Path) -> None:
        data_dir = root / "data"
        done, ldap_port, took = run_demo(data_dir)
        print(f"first run: {took:.1f} s")
        assert done.returncode == 0, done.stdout + done.stderr
        out = done.stdout
        assert "Created the hybrid demo tenant 'fabrikam' (plan p1)" in out
        assert "Enrolled the demo agent" in out
        assert re.search(r"the agent synced 4 directory users and 1 group", out), out
        # Who can sign in: each directory user with the password the directory has.
        for person in PEOPLE:
            assert re.search(
                rf"^  {re.escape(person.upn)} +{re.escape(person.password)} .*directory user$",
                out,
                re.M,
            ), out
        assert re.search(r"^  admin@fabrikam\.test +Lagoon-Beacon-46 .*global-administrator$",
                         out, re.M)  # fmt: skip
        assert (
            f"ldapwhoami -x -H ldap://127.0.0.1:{ldap_port} "
            "-D uid=dana,ou=people,dc=fabrikam,dc=test -w NEWPASSWORD"
        ) in out
        assert "/t/fabrikam/register" in out and "/t/fabrikam/reset" in out
        # The four directory users are in the service, synced; the cloud admin beside them.
        users = fabrikam_users(data_dir)
        assert users == {
            **{p.upn: "synced" for p in PEOPLE},
            "admin@fabrikam.test": "cloud",
        }
        assert query(data_dir, "SELECT count(*) FROM hybrid_agent WHERE revoked_at IS NULL") == [
            (1,)
        ]
        # The agent's secrets are the owner's only.
        for secret in ("demo-agent/agent.json", "demo-agent/bind-password",
                       "demo-ldap/secrets/admin.password", "demo-ldap/tls/key.pem"):  # fmt: skip
            assert stat.S_IMODE((data_dir / secret).stat().st_mode) == 0o600, secret
        assert leftovers(root) == []

    def test_a_later_run_reuses_the_directory_and_the_agent(self, root: Path) -> None:
        data_dir = root / "data"
        agents = query(data_dir, "SELECT id FROM hybrid_agent")
        assert len(agents) == 1
        done, ldap_port, took = run_demo(data_dir)
        print(f"later run: {took:.1f} s")
        assert done.returncode == 0, done.stdout + done.stderr
        out = done.stdout
        assert "Using the hybrid demo tenant 'fabrikam'" in out
        assert f"Started the demo directory ldap://127.0.0.1:{ldap_port}" in out
        assert f"Using the demo agent {agents[0][0]}" in out
        assert "Enrolled" not in out
        assert query(data_dir, "SELECT id FROM hybrid_agent") == agents
        assert sorted(
            u for u, source in fabrikam_users(data_dir).items() if source == "synced"
        ) == (sorted(p.upn for p in PEOPLE))
        assert leftovers(root) == []


def test_without_slapd_it_says_how_to_install_it(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("sspr.cli.management.commands.demo.find_slapd", lambda: None)
    with pytest.raises(CommandError) as raised:
        call_command("demo", "--hybrid", "--no-serve")
    assert raised.value.returncode == 2
    assert "slapd" in str(raised.value)
    assert "apt-get install slapd ldap-utils" in str(raised.value)
