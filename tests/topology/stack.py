"""The production shape on one machine: PostgreSQL, Redis, two `sspr serve` processes and nginx
in front of them, configured from the deployment guide's own docs/deploy/nginx-sspr.conf.

Every part is a real program started from its command line, on loopback ports and in temporary
directories of its own; each is stopped, with anything it started, when the stack closes.
"""

from __future__ import annotations

import contextlib
import http.client
import json
import os
import re
import secrets
import shutil
import signal
import ssl
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from http.cookies import SimpleCookie
from pathlib import Path
from typing import Any

import pytest

from sspr import local_tls
from tests.postgres_server import PostgresCluster
from tests.redis_server import RedisServer, free_port

REPO = Path(__file__).resolve().parents[2]
NGINX_SITE = REPO / "docs" / "deploy" / "nginx-sspr.conf"
NGINX = Path("/usr/sbin/nginx")
SSPR = Path(sys.executable).with_name("sspr")
START_TIMEOUT = 60.0
# Variables of the calling shell (or of pytest-django) that would point the processes elsewhere.
_INHERITED = ("DATABASE_URL", "DJANGO_SETTINGS_MODULE", "REDIS_URL", "SECRET_KEY")


@dataclass(frozen=True)
class Reply:
    status: int
    headers: dict[str, str]
    body: bytes
    cookies: dict[str, str] = field(default_factory=dict)

    def json(self) -> Any:
        return json.loads(self.body)

    @property
    def text(self) -> str:
        return self.body.decode("utf-8", "replace")


def exchange(
    base_url: str,
    method: str,
    path: str,
    body: bytes | None = None,
    headers: Mapping[str, str] | None = None,
    *,
    tls: ssl.SSLContext | None = None,
    source: str | None = None,
    timeout: float = 30.0,
) -> Reply:
    """One HTTP exchange on a connection of its own, from the loopback address `source`."""
    scheme, _, netloc = base_url.partition("://")
    host, _, port = netloc.rpartition(":")
    assert host == "127.0.0.1", base_url  # only ever the stack under test
    source_address = (source, 0) if source else None
    connection: http.client.HTTPConnection
    if scheme == "https":
        connection = http.client.HTTPSConnection(
            host, int(port), timeout=timeout, context=tls, source_address=source_address
        )
    else:
        connection = http.client.HTTPConnection(
            host, int(port), timeout=timeout, source_address=source_address
        )
    try:
        connection.request(method, path, body=body, headers=dict(headers or {}))
        response = connection.getresponse()
        cookies: dict[str, str] = {}
        for value in response.headers.get_all("Set-Cookie") or []:
            jar: SimpleCookie = SimpleCookie()
            jar.load(value)
            cookies.update({name: morsel.value for name, morsel in jar.items()})
        return Reply(
            response.status,
            {k.lower(): v for k, v in response.getheaders()},
            response.read(),
            cookies,
        )
    finally:
        connection.close()


def _clean_env(extra: Mapping[str, str]) -> dict[str, str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in _INHERITED and not k.startswith(("SSPR_", "SMTP_"))
    }
    env.update(extra)
    return env


def _stop(process: subprocess.Popen[bytes], sig: int = signal.SIGTERM) -> None:
    """Stop a process started in a session of its own, then whatever it left in that session
    (nginx's workers, a server's helpers)."""
    if process.poll() is None:
        process.send_signal(sig)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)


def _wait_for(
    what: str, ready: Callable[[], Reply], process: subprocess.Popen[bytes], log: Path
) -> None:
    deadline = time.monotonic() + START_TIMEOUT
    last = "no answer"
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(
                f"{what} exited {process.returncode} before it was ready:\n"
                f"{log.read_text(errors='replace')}"
            )
        try:
            reply = ready()
        except OSError as error:
            last = repr(error)
        else:
            if reply.status == 200:
                return
            last = f"HTTP {reply.status}: {reply.text[:200]}"
        time.sleep(0.1)
    pytest.fail(
        f"{what} was not ready within {START_TIMEOUT:.0f} s ({last}):\n"
        f"{log.read_text(errors='replace')}"
    )


@dataclass
class AppServer:
    """One `sspr serve`, on a port and a data directory of its own."""

    port: int
    data_dir: Path
    process: subprocess.Popen[bytes]

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    @property
    def log(self) -> Path:
        return self.data_dir / "serve.log"


def nginx_site(
    template: str, upstreams: list[str], listen_port: int, tls_dir: Path, access_log: Path
) -> str:
    """The guide's site file for this machine: its two upstream servers, its certificate and
    its log; the HTTPS server listens on a loopback port instead of 443, and the port-80
    redirect is left out. Every change must find its target, so that the test breaks where the
    guide's file no longer looks the way it is run here."""

    def replace(text: str, pattern: str, new: str, count: int = 1) -> str:
        result, found = re.subn(pattern, lambda _: new, text, flags=re.MULTILINE)
        assert found == count, f"{pattern!r} matched {found} times in {NGINX_SITE.name}"
        return result

    site = replace(
        template,
        r"^server \{\n(?:(?!^\}).*\n)*?\s*return 301 .*\n\}\n",
        "",
    )
    servers = re.findall(r"^\s*server (127\.0\.0\.1:\d+) ", site, flags=re.MULTILINE)
    assert len(servers) == len(upstreams), servers
    for old, new in zip(servers, upstreams, strict=True):
        site = replace(site, rf"(?<=server ){re.escape(old)}(?= )", new)
    site = replace(site, r"^\s*listen 443 ssl http2;$", f"    listen 127.0.0.1:{listen_port} ssl;")
    site = replace(site, r"^\s*listen \[::\]:443 ssl http2;\n", "")
    site = replace(site, r"(?<=ssl_certificate )\s*/\S+;", f"{tls_dir / 'cert.pem'};")
    site = replace(site, r"(?<=ssl_certificate_key )\s*/\S+;", f"{tls_dir / 'key.pem'};")
    return replace(site, r"(?<=access_log )/\S+(?= sspr;)", str(access_log))


class Nginx:
    """nginx as a child process: not a daemon, its own prefix, pid file, logs and temp files."""

    def __init__(self, upstreams: list[str]) -> None:
        # Not under pytest's temporary directory: nginx's workers run as `nobody` when started
        # as root, and must reach their temp directories (request bodies buffered to disk).
        self.dir = Path(tempfile.mkdtemp(prefix="sspr-nginx-"))
        self.port = free_port()
        self.access_log = self.dir / "access.log"
        self.error_log = self.dir / "error.log"
        self.tls_dir = self.dir / "tls"
        local_tls.issue(self.tls_dir, "opensspr topology test CA", "127.0.0.1", ["127.0.0.1"])
        site = nginx_site(
            NGINX_SITE.read_text(), upstreams, self.port, self.tls_dir, self.access_log
        )
        (self.dir / "sspr.conf").write_text(site)
        temp = "\n".join(
            f"    {kind}_temp_path {self.dir / 'temp' / kind};"
            for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")
        )
        (self.dir / "nginx.conf").write_text(
            f"daemon off;\n"
            f"worker_processes 2;\n"
            f"pid {self.dir / 'nginx.pid'};\n"
            f"error_log {self.error_log} warn;\n"
            f"events {{ worker_connections 256; }}\n"
            f"http {{\n"
            f"    access_log off;\n{temp}\n"
            f"    include {self.dir / 'sspr.conf'};\n"
            f"}}\n"
        )
        (self.dir / "temp").mkdir()
        if os.geteuid() == 0:
            self.dir.chmod(0o711)
            shutil.chown(self.dir / "temp", "nobody")
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def base_url(self) -> str:
        return f"https://127.0.0.1:{self.port}"

    def start(self, ready: Callable[[], Reply]) -> None:
        self.process = subprocess.Popen(
            [
                str(NGINX),
                "-p",
                str(self.dir),
                "-c",
                str(self.dir / "nginx.conf"),
                "-e",
                str(self.error_log),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        _wait_for("nginx", ready, self.process, self.error_log)

    def stop(self) -> None:
        if self.process is not None:
            _stop(self.process, signal.SIGQUIT)  # graceful: requests in flight finish
        shutil.rmtree(self.dir, ignore_errors=True)

    def upstreams_of(self, request_ids: list[str], timeout: float = 5.0) -> dict[str, str]:
        """Which app process (its address) served each request, from nginx's access log."""
        deadline = time.monotonic() + timeout
        while True:
            lines = re.findall(
                r"upstream=(\S+) upstream_time=\S+ request_id=(\S+)$",
                self.access_log.read_text(),
                flags=re.MULTILINE,
            )
            served = {request_id: upstream for upstream, request_id in lines}
            found = {rid: served[rid] for rid in request_ids if rid in served}
            if len(found) == len(request_ids) or time.monotonic() > deadline:
                missing = set(request_ids) - set(found)
                assert not missing, f"not in nginx's access log: {sorted(missing)}"
                return found
            time.sleep(0.05)


class Stack:
    """PostgreSQL, Redis, two app processes and nginx; `sspr` commands on the same database."""

    def __init__(self, root: Path, apps: int = 2) -> None:
        self.root = root
        self.secret_key = secrets.token_urlsafe(50)
        self.tls: ssl.SSLContext | None = None
        self.postgres = PostgresCluster()
        self.redis = RedisServer(root / "redis")
        self.ports = [free_port() for _ in range(apps)]
        self.nginx = Nginx([f"127.0.0.1:{port}" for port in self.ports])
        self.apps: list[AppServer] = []
        self._closing = contextlib.ExitStack()

    @property
    def base_url(self) -> str:
        return self.nginx.base_url

    def env(self, data_dir: Path) -> dict[str, str]:
        """What an operator's /etc/sspr/sspr.env holds, the same for every process."""
        return _clean_env(
            {
                "DATABASE_URL": self.postgres.url,
                "REDIS_URL": self.redis.url,
                "SECRET_KEY": self.secret_key,
                "SSPR_BASE_URL": self.base_url,
                "SSPR_TRUSTED_PROXIES": "127.0.0.1",
                "SSPR_DATA_DIR": str(data_dir),
            }
        )

    def __enter__(self) -> Stack:
        try:
            self._start()
        except BaseException:
            self._closing.close()
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        self._closing.close()

    def _start(self) -> None:
        self._closing.callback(self.nginx.stop)
        self._closing.callback(self.postgres.remove)
        self.postgres.create()
        (self.root / "redis").mkdir()
        self._closing.callback(self.redis.stop)
        self.redis.start()
        # All at once on an empty database: they take turns at the migrations, as units
        # started together at boot or after an upgrade do.
        for port in self.ports:
            self.apps.append(self._spawn_app(port))
        for app in self.apps:
            self._wait_until_serving(app)
        self.tls = ssl.create_default_context(cafile=str(self.nginx.tls_dir / "ca.pem"))
        self.nginx.start(lambda: self.call("GET", "/api/v1/health"))

    def _wait_until_serving(self, app: AppServer) -> None:
        _wait_for(
            f"sspr serve on port {app.port}",
            lambda: exchange(f"http://{app.address}", "GET", "/api/v1/health"),
            app.process,
            app.log,
        )

    def restart(self, app: AppServer) -> AppServer:
        """Stop one app process as systemd does (SIGTERM), start it again on its port and
        wait until it answers: one step of a rolling upgrade."""
        _stop(app.process)
        again = self._spawn_app(app.port)
        self.apps[self.apps.index(app)] = again
        self._wait_until_serving(again)
        return again

    def _spawn_app(self, port: int) -> AppServer:
        data_dir = self.root / f"app-{port}"
        data_dir.mkdir(exist_ok=True)
        with (data_dir / "serve.log").open("ab") as log:
            process = subprocess.Popen(
                [str(SSPR), "serve", "--host", "127.0.0.1", "--port", str(port)],
                env=self.env(data_dir),
                cwd=data_dir,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        self._closing.callback(_stop, process)
        return AppServer(port, data_dir, process)

    def sspr(self, *args: str) -> str:
        """An `sspr` command, as an operator runs it on any host with the same environment."""
        data_dir = self.root / "cli"
        data_dir.mkdir(exist_ok=True)
        done = subprocess.run(
            [str(SSPR), *args],
            env=self.env(data_dir),
            cwd=data_dir,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        if done.returncode != 0:
            pytest.fail(
                f"sspr {' '.join(args)} exited {done.returncode}:\n{done.stdout}{done.stderr}"
            )
        return done.stdout

    def call(
        self,
        method: str,
        path: str,
        body: bytes | None = None,
        headers: Mapping[str, str] | None = None,
        source: str | None = None,
    ) -> Reply:
        """A request through nginx, over TLS verified against the stack's own CA."""
        return exchange(self.base_url, method, path, body, headers, tls=self.tls, source=source)

    def api(
        self,
        method: str,
        path: str,
        payload: Any = None,
        *,
        token: str = "",
        request_id: str = "",
        source: str | None = None,
    ) -> Reply:
        headers = {"Accept": "application/json"}
        if payload is not None:
            headers["Content-Type"] = "application/json"
        if token:
            headers["Authorization"] = f"Bearer {token}"
        if request_id:
            headers["X-Request-ID"] = request_id
        body = json.dumps(payload).encode() if payload is not None else None
        return self.call(method, f"/api/v1{path}", body, headers, source)

    def outbox(self, to: str) -> list[dict[str, str]]:
        """What was "sent" to `to`, newest first, as `sspr outbox --json` prints it."""
        out = self.sspr("outbox", "--json", "--to", to)
        return [json.loads(line) for line in out.splitlines() if line.strip()]
