"""A served opensspr and real `sspr-agent` processes, driven from the outside.

Nothing here touches the Django test database: the service runs as `sspr serve` on a data
directory of its own (SQLite), is set up with the `sspr` command line as an operator would, and
is then used over HTTP with the standard library. Agents are enrolled and run with the
`sspr-agent` command line, each its own process.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import signal
import socket
import sqlite3
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import pytest

from sspr_agent import journal
from sspr_agent.journal import journal_path_for

SSPR = Path(sys.executable).with_name("sspr")
SSPR_AGENT = Path(sys.executable).with_name("sspr-agent")
TENANT = "contoso"
START_TIMEOUT = 30.0
HTTP_TIMEOUT = 40.0  # a writeback waits at most 8 s + 2 s for the agent
CODE = re.compile(r"Your code: (\d+)")
# Variables of the calling shell (or of pytest-django) that would point a process elsewhere.
_INHERITED = ("DATABASE_URL", "DJANGO_SETTINGS_MODULE", "REDIS_URL", "SECRET_KEY")

T = TypeVar("T")


def wait_for(what: str, check: Callable[[], T], timeout: float, interval: float = 0.1) -> T:
    """Call `check` until it returns something true; fail saying `what` did not happen."""
    deadline = time.monotonic() + timeout
    last: object = None
    while True:
        try:
            value = check()
        except AssertionError as error:
            value, last = None, error
        else:
            if value:
                return value
            last = value
        if time.monotonic() > deadline:
            pytest.fail(f"{what}: not within {timeout:.0f} s (last: {last!r})")
        time.sleep(interval)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def clean_environment(**extra: str) -> dict[str, str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in _INHERITED and not k.startswith(("SSPR_", "SMTP_"))
    }
    env.update(extra)
    return env


@dataclass(frozen=True)
class Reply:
    status: int
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)

    @property
    def text(self) -> str:
        return self.body.decode("utf-8", "replace")

    def __repr__(self) -> str:
        return f"Reply({self.status}, {self.text[:500]!r})"


def http(method: str, url: str, payload: Any = None, token: str = "") -> Reply:
    """One JSON exchange with the loopback service; error statuses are answers too."""
    assert url.startswith("http://127.0.0.1:"), url
    headers = {"Accept": "application/json"}
    body = None
    if payload is not None:
        headers["Content-Type"] = "application/json"
        body = json.dumps(payload).encode()
    if token:
        headers["Authorization"] = f"Bearer {token}"
    request = urllib.request.Request(url, data=body, headers=headers, method=method)  # noqa: S310
    try:
        with urllib.request.urlopen(request, timeout=HTTP_TIMEOUT) as response:  # noqa: S310
            return Reply(response.status, response.read())
    except urllib.error.HTTPError as error:
        with error:
            return Reply(error.code, error.read())


def _stop_process(process: subprocess.Popen[bytes] | None, sig: int = signal.SIGTERM) -> None:
    if process is None or process.poll() is not None:
        return
    process.send_signal(sig)
    try:
        process.wait(timeout=15)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=10)


class Service:
    """`sspr serve` on a fresh data directory (SQLite) and a free loopback port."""

    def __init__(self, root: Path, tenant: str = TENANT) -> None:
        self.root = root
        self.data_dir = root / "data"
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.tenant = tenant
        self.port = free_port()
        self.base_url = f"http://127.0.0.1:{self.port}"
        self.env = clean_environment(SSPR_DATA_DIR=str(self.data_dir), SSPR_BASE_URL=self.base_url)
        self.log = root / "serve.log"
        self.process: subprocess.Popen[bytes] | None = None
        self._codes_seen: set[str] = set()

    @property
    def database(self) -> Path:
        return self.data_dir / "sspr.sqlite3"

    def sspr(self, *args: str) -> str:
        done = subprocess.run(
            [str(SSPR), *args], env=self.env, cwd=self.data_dir, capture_output=True, text=True,
            timeout=60, check=False,
        )  # fmt: skip
        if done.returncode != 0:
            pytest.fail(
                f"sspr {' '.join(args)} exited {done.returncode}:\n{done.stdout}{done.stderr}"
            )
        return done.stdout

    def start(self, workers: int = 1) -> None:
        with self.log.open("ab") as output:
            self.process = subprocess.Popen(
                [str(SSPR), "serve", "--host", "127.0.0.1", "--port", str(self.port),
                 "--workers", str(workers)],
                env=self.env, cwd=self.data_dir, stdout=output, stderr=subprocess.STDOUT,
            )  # fmt: skip

        def healthy() -> bool:
            assert self.process is not None
            if self.process.poll() is not None:
                pytest.fail(f"sspr serve exited {self.process.returncode}:\n{self.log.read_text()}")
            try:
                return http("GET", self.url("/api/v1/health")).status == 200
            except OSError:
                return False

        wait_for("sspr serve answers /api/v1/health", healthy, START_TIMEOUT)

    def stop(self) -> None:
        """SIGTERM; then SIGINT, which makes uvicorn give up waiting for open requests (an agent
        killed in the middle of a long poll leaves one running for up to 25 s)."""
        process, self.process = self.process, None
        if process is None or process.poll() is not None:
            return
        process.terminate()
        try:
            process.wait(timeout=2)
        except subprocess.TimeoutExpired:
            process.send_signal(signal.SIGINT)
            _stop_process(process, signal.SIGINT)

    def url(self, path: str) -> str:
        return f"{self.base_url}{path}"

    def api(self, method: str, path: str, payload: Any = None, token: str = "") -> Reply:
        return http(method, self.url(f"/api/v1{path}"), payload, token)

    def new_code(self, to: str, timeout: float = 10.0) -> str:
        """The code of the newest message to `to`, once it is one not seen before."""

        def newest() -> str | None:
            out = self.sspr("outbox", "--json", "--to", to, "--limit", "5")
            for line in out.splitlines():
                found = CODE.search(json.loads(line)["body"]) if line.strip() else None
                if found:
                    return None if found[1] in self._codes_seen else found[1]
            return None

        code = wait_for(f"a new code in the outbox for {to}", newest, timeout, interval=0.3)
        assert code is not None
        self._codes_seen.add(code)
        return code

    @contextlib.contextmanager
    def db(self) -> Iterator[sqlite3.Connection]:
        """The service's database, read-only, while it runs."""
        conn = sqlite3.connect(f"file:{self.database}?mode=ro", uri=True, timeout=20)
        try:
            yield conn
        finally:
            conn.close()

    def query(self, sql: str, *params: Any) -> list[tuple[Any, ...]]:
        with self.db() as conn:
            return list(conn.execute(sql, params))


@dataclass(frozen=True)
class DirectoryAccess:
    """What `sspr-agent enroll` needs to reach the directory."""

    kind: str  # "openldap" or "ad"
    url: str
    bind_dn: str
    bind_password: str
    base_dn: str
    ca_file: str


class AgentProcess:
    """One enrolled `sspr-agent`: its configuration, state file and `run` process."""

    def __init__(self, root: Path, name: str) -> None:
        self.root = root
        self.name = name
        self.config = root / f"{name}.json"
        self.state_file = root / f"{name}.state.json"
        self.password_file = root / f"{name}.bind-password"
        self.log = root / f"{name}.log"
        self.enroll_log = root / f"{name}.enroll.log"
        self.process: subprocess.Popen[bytes] | None = None
        self.started_at = 0.0
        self.env = clean_environment()

    def enroll(self, service: Service, token: str, directory: DirectoryAccess) -> str:
        """Enrol with the one-time token; returns the agent id."""
        fd = os.open(self.password_file, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as fh:
            fh.write(directory.bind_password + "\n")
        argv = [
            str(SSPR_AGENT), "enroll", "--url", service.base_url, "--token", token,
            "--config", str(self.config), "--kind", directory.kind, "--ldap-url", directory.url,
            "--bind-dn", directory.bind_dn, "--bind-password-file", str(self.password_file),
            "--base-dn", directory.base_dn, "--ca-file", directory.ca_file, "--name", self.name,
        ]  # fmt: skip
        done = subprocess.run(
            argv, env=self.env, capture_output=True, text=True, timeout=60, check=False
        )
        self.enroll_log.write_text(done.stdout + done.stderr)
        if done.returncode != 0:
            pytest.fail(f"sspr-agent enroll exited {done.returncode}:\n{done.stdout}{done.stderr}")
        assert (self.config.stat().st_mode & 0o777) == 0o600
        return str(json.loads(self.config.read_text())["agent_id"])

    def start(self, sync_interval: int = 10) -> None:
        assert not self.running, f"{self.name} runs already"
        self.started_at = time.time()
        with self.log.open("ab") as output:
            self.process = subprocess.Popen(
                [str(SSPR_AGENT), "run", "--config", str(self.config),
                 "--sync-interval", str(sync_interval)],
                env=self.env, stdout=output, stderr=subprocess.STDOUT,
            )  # fmt: skip

        def heart_beating() -> bool:
            assert self.process is not None
            if self.process.poll() is not None:
                pytest.fail(f"sspr-agent run exited {self.process.returncode}:\n{self.log_text()}")
            heartbeat = self.state().get("agent", {}).get("last_heartbeat_at") or 0
            return float(heartbeat) >= self.started_at

        wait_for(f"{self.name} heart-beats to the service", heart_beating, START_TIMEOUT)

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def stop(self) -> None:
        """SIGTERM: the agent finishes what it started and exits."""
        process, self.process = self.process, None
        _stop_process(process)

    def kill(self) -> None:
        """SIGKILL: the agent dies where it stands."""
        process, self.process = self.process, None
        if process is not None and process.poll() is None:
            process.kill()
            process.wait(timeout=10)

    def state(self) -> dict[str, Any]:
        try:
            data: dict[str, Any] = json.loads(self.state_file.read_text())
        except FileNotFoundError:
            return {}
        return data

    def journal(self) -> dict[str, dict[str, Any]]:
        return journal.read(journal_path_for(self.state_file))[0]

    def status(self) -> dict[str, Any]:
        done = subprocess.run(
            [str(SSPR_AGENT), "status", "--config", str(self.config), "--json"],
            env=self.env, capture_output=True, text=True, timeout=30, check=False,
        )  # fmt: skip
        assert done.returncode == 0, done.stderr
        report: dict[str, Any] = json.loads(done.stdout)
        return report

    def log_text(self) -> str:
        return self.log.read_text(errors="replace") if self.log.exists() else ""
