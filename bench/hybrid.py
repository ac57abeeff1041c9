"""Benchmark: the hybrid path end to end, a real slapd, a real `sspr serve` and a real agent.

Run from the repository root:

    .venv/bin/python bench/hybrid.py [--users 100000] [--resets 200] [--no-write]

Starts a private slapd (tests/directories/slapd.py) and bulk-loads --users inetOrgPerson entries
with slapadd while it is stopped (mail = the UPN, a few groups), then a real `sspr serve` on a
temporary SQLite data directory (tenant on plan p1, writeback on, a cloud Global Administrator)
and a real agent (`sspr-agent enroll`, then `sspr-agent run`) whose service account has the
fixture's manage rights. It measures, each against the physical limit measured in the same run:

1. the full sync: from the start of `sspr-agent run` until every user is committed in the
   service's database, against a paged `ldapsearch` of the same entries and attributes (and an
   ldap3 paged read, and the agent's own directory read without HTTP); peak RSS of the agent and
   the service, and the CPU each process spent; then a second full sync with nothing changed;
2. a delta: 1,000 users' mail changed with one ldapmodify, a delta sync asked for through the
   admin API, seconds until every change is visible in the service; against a paged ldapsearch
   of the changed entries;
3. the writeback round trip: admin resets through `POST .../users/{upn}/password-reset` with a
   chosen password, from the call until an LDAP bind with the new password succeeds; against a
   direct ldap3 Password Modify (the agent's own LDAP code, no service) of the same kind of user;
4. pass-through sign-ins per second (`POST .../sessions`, --clients concurrent clients) against
   direct binds (new connection, StartTLS, bind: what the agent does per check) with the same
   concurrency; then again with the agent's journal of executed commands at its cap (5,000
   entries, what a busy day leaves), the agent restarted on a journal filled to it.

Where the time goes: the command rows' timestamps (queued, claimed, started, finished) against
the client's clock split each reset and sign-in into steps; CPU per call of each process.

Prints a table and writes the section "Hybrid" of bench/RESULTS.md, leaving any other section
as it is. Every process it starts (slapd, sspr serve, sspr-agent) is stopped before it exits.
"""

from __future__ import annotations

import argparse
import contextlib
import http.client
import json
import multiprocessing
import os
import random
import re
import shutil
import signal
import socket
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
for _path in (str(ROOT / "src"), str(ROOT)):
    if _path not in sys.path:
        sys.path.insert(0, _path)

from bench.common import (  # noqa: E402
    RESULTS,
    cpu_seconds,
    git_commit,
    machine,
    machine_busy,
    mib,
    own_cpu,
    percentile,
    proc_status,
    say,
    share,
    tool_version,
    write_section,
)
from tests.directories.slapd import SlapdServer, ssha  # noqa: E402

from sspr_agent import journal  # noqa: E402
from sspr_agent.journal import MAX_ENTRIES as JOURNAL_MAX_ENTRIES  # noqa: E402
from sspr_agent.journal import journal_path_for  # noqa: E402
from sspr_protocol.messages import fields_of  # noqa: E402

SECTION = "## Hybrid"
SEED = 20260101
TENANT = "contoso"
DOMAIN = "example.test"  # the slapd fixture's suffix dc=example,dc=test
USER_PASSWORD = "Initial#Pass-2024"
ADMIN_UPN = f"ga@{DOMAIN}"
ADMIN_PASSWORD = "Correct-Horse-42-Admin"
SSPR = Path(sys.executable).with_name("sspr")
SSPR_AGENT = Path(sys.executable).with_name("sspr-agent")
LDAPSEARCH = "/usr/bin/ldapsearch"
LDAPMODIFY = "/usr/bin/ldapmodify"
PAGE = 1000
STARTED: list[subprocess.Popen[bytes]] = []  # every child started here, stopped at the end
AGENTS: list[subprocess.Popen[bytes]] = []
# Variables of the calling shell that would point the service elsewhere (as tests/e2e does).
_INHERITED = ("DATABASE_URL", "DJANGO_SETTINGS_MODULE", "REDIS_URL", "SECRET_KEY")
GIVEN = [
    "Alice",
    "Bruno",
    "Chloé",
    "Dmitri",
    "Emma",
    "Farid",
    "Greta",
    "Hiro",
    "Ines",
    "Jonas",
    "Kemal",
    "Lena",
    "Mateo",
    "Nadia",
    "Oskar",
    "Priya",
    "Quentin",
    "Rosa",
    "Sven",
    "Yara",
]
FAMILY = ["Anderson", "Berg", "Costa", "Dubois", "Eriksen", "Fischer", "García", "Haddad",
          "Ivanova", "Jensen", "Kowalski", "Larsen", "Moreau", "Nakamura", "O'Neil", "Petrov",
          "Rossi", "Schmidt", "Tanaka", "Weber"]  # fmt: skip


# ----------------------------------------------------------------------------- small helpers
def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def heartbeat_interval() -> float:
    """The agent's heartbeat interval (a sync request also rides on the heartbeat's answer)."""
    try:
        from sspr_agent.runtime import HEARTBEAT_INTERVAL
    except ImportError:  # before the agent's runtime had a module of its own
        from sspr_agent.cli import HEARTBEAT_INTERVAL  # type: ignore[attr-defined,no-redef]
    return float(HEARTBEAT_INTERVAL)


def rate(count: float, seconds: float) -> float:
    return count / seconds if seconds > 0 else float("inf")


def times(ours: float, limit: float) -> str:
    """How many times the limit a duration is: 'x12.3'."""
    if limit <= 0:
        return "n/a"
    return f"x{ours / limit:,.1f}" if ours / limit < 100 else f"x{ours / limit:,.0f}"


# ------------------------------------------------------------------------------ the directory
@dataclass(frozen=True)
class Person:
    uid: str
    dn: str
    upn: str


class BulkSlapd(SlapdServer):
    """The test fixture's slapd, with the generated users added by slapadd before it starts."""

    def __init__(self, root: Path, users_ldif: Path) -> None:
        super().__init__(root)
        self.users_ldif = users_ldif
        self.slapadd_seconds = 0.0

    def slapadd_ldif(self, ldif: str) -> None:
        super().slapadd_ldif(ldif)  # the base entries, the policies, the service account
        began = time.perf_counter()
        # contextCSN (syncprov's high-water mark) from the loaded entries, as a live add would.
        self.slapadd(self.users_ldif, context_csn=True)
        self.slapadd_seconds = time.perf_counter() - began


def write_users_ldif(
    path: Path, count: int, people_dn: str, groups_dn: str, rng: random.Random
) -> tuple[list[Person], list[tuple[str, int]]]:
    """N users (uid u0000001...) and a few groups; returns the users and (group, members)."""
    hashed = ssha(USER_PASSWORD)  # one salt for all: slapadd is not what is measured
    people: list[Person] = []
    with path.open("w", encoding="utf-8") as out:
        for i in range(1, count + 1):
            uid = f"u{i:07d}"
            given, family = rng.choice(GIVEN), rng.choice(FAMILY)
            dn = f"uid={uid},{people_dn}"
            upn = f"{uid}@{DOMAIN}"
            people.append(Person(uid, dn, upn))
            out.write(
                f"dn: {dn}\nobjectClass: top\nobjectClass: person\n"
                f"objectClass: organizationalPerson\nobjectClass: inetOrgPerson\n"
                f"uid: {uid}\n{_attr('cn', f'{given} {family}')}{_attr('sn', family)}"
                f"{_attr('givenName', given)}{_attr('displayName', f'{given} {family}')}"
                f"mail: {upn}\ntelephoneNumber: +1 555 {i:07d}\nuserPassword: {hashed}\n\n"
            )
        groups: list[tuple[str, int]] = []
        size = max(1, count // 50)
        dept_dns = []
        for k in range(1, 6):  # five departments of 2% of the users each
            cn = f"dept-{k:02d}"
            members = rng.sample(people, min(size, count))
            dn = f"cn={cn},{groups_dn}"
            dept_dns.append(dn)
            out.write(f"dn: {dn}\nobjectClass: top\nobjectClass: groupOfNames\ncn: {cn}\n")
            out.writelines(f"member: {p.dn}\n" for p in members)
            out.write("\n")
            groups.append((cn, len(members)))
        # A group of groups (nested), and a small groupOfUniqueNames.
        out.write(
            f"dn: cn=all-departments,{groups_dn}\nobjectClass: top\n"
            "objectClass: groupOfNames\ncn: all-departments\n"
        )
        out.writelines(f"member: {dn}\n" for dn in dept_dns)
        out.write("\n")
        groups.append(("all-departments", len(dept_dns)))
        helpdesk = rng.sample(people, min(20, count))
        out.write(
            f"dn: cn=helpdesk,{groups_dn}\nobjectClass: top\n"
            "objectClass: groupOfUniqueNames\ncn: helpdesk\n"
        )
        out.writelines(f"uniqueMember: {p.dn}\n" for p in helpdesk)
        out.write("\n")
        groups.append(("helpdesk", len(helpdesk)))
    return people, groups


def _attr(name: str, value: str) -> str:
    if value.isascii():
        return f"{name}: {value}\n"
    import base64

    return f"{name}:: {base64.b64encode(value.encode()).decode()}\n"


def ldap_env(server: SlapdServer) -> dict[str, str]:
    return {**os.environ, "LDAPTLS_CACERT": str(server.ca_file), "LDAPTLS_REQCERT": "demand"}


def run_ldapsearch(
    server: SlapdServer, search_filter: str, attributes: list[str], out: Path
) -> tuple[float, int]:
    """A paged ldapsearch (StartTLS, as the service account): (seconds, entries)."""
    command = [
        LDAPSEARCH, "-LLL", "-x", "-ZZ", "-H", server.url, "-D", server.service_dn,
        "-w", server.service_password, "-b", server.base_dn, "-E", f"pr={PAGE}/noprompt",
        search_filter, *attributes,
    ]  # fmt: skip
    with out.open("wb") as sink:
        began = time.perf_counter()
        done = subprocess.run(  # noqa: S603 -- our own arguments
            command,
            stdout=sink,
            stderr=subprocess.PIPE,
            env=ldap_env(server),
            check=False,
        )
        seconds = time.perf_counter() - began
    if done.returncode != 0:
        raise RuntimeError(f"ldapsearch failed: {done.stderr.decode(errors='replace')}")
    with out.open("rb") as produced:
        entries = sum(1 for line in produced if line.startswith(b"dn: "))
    return seconds, entries


def directory_config(server: SlapdServer) -> Any:
    from sspr_agent.directory.base import DirectoryConfig

    return DirectoryConfig(
        kind="openldap", url=server.url, bind_dn=server.service_dn,
        bind_password=server.service_password, base_dn=server.base_dn,
        ca_file=str(server.ca_file),
    )  # fmt: skip


def ldap3_paged_read(
    server: SlapdServer, search_filter: str, attributes: list[str]
) -> tuple[float, int]:
    """ldap3 alone: a StartTLS connection and a paged search, entries decoded, nothing else."""
    from sspr_agent.directory import LdapLink

    link = LdapLink(directory_config(server))
    began = time.perf_counter()
    conn = link.service_connection()
    entries = 0
    try:
        for page in link.paged_search(conn, server.base_dn, search_filter, attributes, PAGE):
            entries += len(page)
    finally:
        conn.unbind()
    return time.perf_counter() - began, entries


def agent_read_encoded(server: SlapdServer) -> tuple[float, int, int]:
    """The agent's own read (OpenLdapDirectory.read_all: ldap3 + records) and the JSON of each
    batch as the channel would send it, no HTTP: (seconds, users, bytes of JSON)."""
    from sspr_agent.directory.openldap import OpenLdapDirectory

    directory = OpenLdapDirectory(directory_config(server))
    began = time.perf_counter()
    users = size = 0
    try:
        for page in directory.read_all(page_size=PAGE):
            body = {
                "users": [fields_of(u) for u in page.users],
                "groups": [fields_of(g) for g in page.groups],
            }
            size += len(json.dumps(body, separators=(",", ":")).encode())
            users += len(page.users)
    finally:
        directory.close()
    return time.perf_counter() - began, users, size


def user_attributes() -> list[str]:
    from sspr_agent.directory.base import DirectoryConfig
    from sspr_agent.directory.openldap import OpenLdapDirectory

    directory = OpenLdapDirectory(DirectoryConfig(
        kind="openldap", url="ldap://127.0.0.1", bind_dn="", bind_password="", base_dn="",
    ))  # fmt: skip
    return directory._user_attributes()  # exactly what the agent asks for


# --------------------------------------------------------------------------- the service side
@dataclass
class Service:
    data_dir: Path
    env: dict[str, str]
    base_url: str
    process: subprocess.Popen[bytes] | None = None

    @property
    def db(self) -> Path:
        return self.data_dir / "sspr.sqlite3"

    def sspr(self, *args: str) -> str:
        done = subprocess.run(  # noqa: S603 -- our own arguments
            [str(SSPR), *args],
            env=self.env,
            cwd=self.data_dir,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        if done.returncode != 0:
            raise RuntimeError(
                f"sspr {' '.join(args)} exited {done.returncode}:\n{done.stdout}{done.stderr}"
            )
        return done.stdout

    def start(self) -> None:
        port = urllib.parse.urlsplit(self.base_url).port
        log = (self.data_dir / "serve.log").open("wb")
        self.process = subprocess.Popen(  # noqa: S603
            [str(SSPR), "serve", "--host", "127.0.0.1", "--port", str(port)],
            env=self.env, cwd=self.data_dir, stdout=log, stderr=subprocess.STDOUT,
            start_new_session=True,
        )  # fmt: skip
        STARTED.append(self.process)
        log.close()
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(
                    f"sspr serve exited {self.process.returncode}:\n"
                    + (self.data_dir / "serve.log").read_text(errors="replace")
                )
            with contextlib.suppress(OSError):
                if Api(self.base_url).call("GET", "/api/v1/health")[0] == 200:
                    return
            time.sleep(0.1)
        raise RuntimeError("sspr serve did not answer /api/v1/health within 60 s")


class Api:
    """JSON over one keep-alive HTTP connection (one per thread)."""

    def __init__(self, base_url: str, token: str = "") -> None:
        parts = urllib.parse.urlsplit(base_url)
        self.host, self.port = parts.hostname or "127.0.0.1", parts.port or 80
        self.token = token
        self.conn: http.client.HTTPConnection | None = None

    def call(
        self, method: str, path: str, payload: Any = None, timeout: float = 60
    ) -> tuple[int, Any]:
        body = json.dumps(payload).encode() if payload is not None else None
        headers = {"Accept": "application/json"}
        if body is not None:
            headers["Content-Type"] = "application/json"
        if self.token:
            headers["Authorization"] = f"Bearer {self.token}"
        for attempt in (1, 2):
            if self.conn is None:
                self.conn = http.client.HTTPConnection(self.host, self.port, timeout=timeout)
            try:
                self.conn.request(method, path, body, headers)
                response = self.conn.getresponse()
                data = response.read()
                break
            except (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError):
                self.conn.close()
                self.conn = None
                if attempt == 2:
                    raise
        try:
            answer = json.loads(data) if data else None
        except ValueError:
            answer = data.decode(errors="replace")
        return response.status, answer

    def close(self) -> None:
        if self.conn is not None:
            self.conn.close()
            self.conn = None


class Output:
    """A child's output, line by line, with the time each line arrived (wall clock)."""

    def __init__(self, stream: Any, log: Path) -> None:
        self.lines: list[tuple[float, str]] = []
        self._log = log.open("w", encoding="utf-8")
        self._thread = threading.Thread(target=self._read, args=(stream,), daemon=True)
        self._thread.start()

    def _read(self, stream: Any) -> None:
        for raw in iter(stream.readline, b""):
            line = raw.decode("utf-8", "replace").rstrip("\n")
            self.lines.append((time.time(), line))
            self._log.write(f"{time.time():.3f} {line}\n")
            self._log.flush()
        self._log.close()

    def first(self, pattern: str) -> float | None:
        for at, line in list(self.lines):
            if re.search(pattern, line):
                return at
        return None


def stop_process(process: subprocess.Popen[bytes] | None, timeout: float) -> None:
    if process is None or process.poll() is not None:
        return
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(timeout)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait(10)


class Database:
    """The service's SQLite database, read-only, for polling what is committed."""

    def __init__(self, path: Path) -> None:
        self.conn = sqlite3.connect(
            f"file:{path}?mode=ro", uri=True, isolation_level=None, timeout=30
        )

    def value(self, sql: str, *params: Any) -> Any:
        row = self.conn.execute(sql, params).fetchone()
        return row[0] if row else None

    def sync_state(self) -> dict[str, Any]:
        row = self.conn.execute(
            "SELECT last_full, last_delta, full_completed, requested FROM hybrid_syncstate"
        ).fetchone()
        if row is None:
            return {}
        return {
            "last_full": json.loads(row[0] or "{}"),
            "last_delta": json.loads(row[1] or "{}"),
            "full_completed": bool(row[2]),
            "requested": row[3],
        }

    def close(self) -> None:
        self.conn.close()


def wait_for(
    condition: Callable[[], bool],
    timeout: float,
    what: str,
    alive: Callable[[], None] | None = None,
    every: float = 0.05,
) -> float:
    """Poll until `condition` holds; the wall-clock time (time.time()) it was first seen true."""
    deadline = time.monotonic() + timeout
    while True:
        if condition():
            return time.time()
        if alive is not None:
            alive()
        if time.monotonic() > deadline:
            raise RuntimeError(f"timed out after {timeout:.0f} s waiting for {what}")
        time.sleep(every)


# ---------------------------------------------------------------------- direct LDAP workers
def _direct_binds(
    config: Any, users: list[tuple[str, str]], barrier: Any, results: Any, rebind: bool
) -> None:
    """One client process: binds as each user in turn (a new connection each, or rebinds)."""
    from sspr_agent.directory import LdapLink
    from sspr_agent.directory.openldap import PPOLICY_REQUEST

    link = LdapLink(config)
    conn = link.connect(*users[0], controls=PPOLICY_REQUEST)  # warm up (and the rebind one)
    if not rebind:
        conn.unbind()
    barrier.wait()
    began = time.time()
    latencies, failed = [], 0
    for dn, password in users:
        t0 = time.perf_counter()
        if rebind:
            ok = conn.rebind(dn, password, controls=PPOLICY_REQUEST)
        else:
            one = link.connect(dn, password, controls=PPOLICY_REQUEST)
            ok = one.bound
            one.unbind()
        latencies.append(time.perf_counter() - t0)
        failed += not ok
    ended = time.time()
    if rebind:
        conn.unbind()
    results.put((began, ended, latencies, failed))


def direct_bind_rate(
    config: Any, people: list[Person], clients: int, rebind: bool
) -> tuple[float, list[float], int]:
    """(binds per second, sorted latencies, failures) with `clients` processes."""
    context = multiprocessing.get_context("spawn")
    barrier = context.Barrier(clients)
    results = context.Queue()
    shares = [[(p.dn, USER_PASSWORD) for p in people[i::clients]] for i in range(clients)]
    workers = [
        context.Process(target=_direct_binds, args=(config, s, barrier, results, rebind))
        for s in shares
    ]
    for w in workers:
        w.start()
    got = [results.get(timeout=600) for _ in workers]
    for w in workers:
        w.join(30)
    began = min(g[0] for g in got)
    ended = max(g[1] for g in got)
    latencies = sorted(x for g in got for x in g[2])
    return rate(len(latencies), ended - began), latencies, sum(g[3] for g in got)


def bind_check(link: Any, dn: str, password: str, timeout: float = 30) -> int:
    """Bind as the user until it succeeds; the number of attempts."""
    from sspr_agent.directory.openldap import PPOLICY_REQUEST

    deadline = time.monotonic() + timeout
    attempts = 0
    while True:
        attempts += 1
        conn = link.connect(dn, password, controls=PPOLICY_REQUEST)
        ok = conn.bound
        conn.unbind()
        if ok:
            return attempts
        if time.monotonic() > deadline:
            raise RuntimeError(f"the new password of {dn} never worked")
        time.sleep(0.001)


def new_password(rng: random.Random) -> str:
    alphabet = "abcdefghijkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789"
    core = "".join(rng.choice(alphabet) for _ in range(14))
    return f"{core[:7]}-{core[7:]}#7q"


# ------------------------------------------------------------------------------------ the run
@dataclass
class Figures:
    users: int = 0
    groups: list[tuple[str, int]] = field(default_factory=list)
    values: dict[str, Any] = field(default_factory=dict)

    def __setitem__(self, key: str, value: Any) -> None:
        self.values[key] = value

    def __getitem__(self, key: str) -> Any:
        return self.values[key]


def main() -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--users", type=int, default=100_000)
    parser.add_argument("--resets", type=int, default=200, help="admin resets (and direct ones)")
    parser.add_argument("--delta", type=int, default=1000, help="users changed for the delta")
    parser.add_argument("--signins", type=int, default=400, help="pass-through sign-ins")
    parser.add_argument("--clients", type=int, default=4, help="concurrent sign-in clients")
    parser.add_argument("--repeat", type=int, default=3, help="runs of each raw LDAP read")
    parser.add_argument("--idle", type=float, default=10, help="seconds of idle CPU measured")
    parser.add_argument(
        "--journal",
        type=int,
        default=JOURNAL_MAX_ENTRIES,
        help="agent journal entries for the second sign-in run (0: skip it)",
    )
    parser.add_argument("--keep", action="store_true", help="keep the temporary directory")
    parser.add_argument("--no-write", action="store_true", help="print only")
    args = parser.parse_args()
    needed = args.delta + 2 * args.resets + args.clients
    if args.users < needed:
        parser.error(f"--users must be at least {needed} (delta + 2 x resets + clients)")

    load_before = os.getloadavg()[0]
    busy_before, mine_before, wall_before = machine_busy(), own_cpu(), time.monotonic()
    work = Path(tempfile.mkdtemp(prefix="sspr-bench-hybrid-"))
    slapd = BulkSlapd(work / "slapd", work / "users.ldif")
    try:
        service, figures = setup(args, work, slapd)
        run_benchmark(args, work, slapd, service, figures)
    finally:
        # The agent first (it stops its long poll), then the service, then slapd.
        for process in reversed(STARTED):
            if process.poll() is not None:
                continue
            began = time.perf_counter()
            stop_process(process, 60)
            name = "sspr-agent" if process in AGENTS else "sspr serve"
            say(f"stopped {name} (pid {process.pid}) in {time.perf_counter() - began:.1f} s")
        slapd.stop()
        if args.keep:
            say(f"kept {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)

    wall = time.monotonic() - wall_before
    others = (machine_busy() - busy_before) - (own_cpu() - mine_before)
    figures["load"] = (load_before, max(0.0, others) / (wall * (os.cpu_count() or 1)), wall)
    section = report(args, figures)
    print(section)
    if not args.no_write:
        write_section(SECTION, section)
        print(f"written to {RESULTS.relative_to(ROOT)}")
    return 0


def setup(args: argparse.Namespace, work: Path, slapd: BulkSlapd) -> tuple[Service, Figures]:
    figures = Figures(users=args.users)
    figures["heartbeat"] = heartbeat_interval()
    rng = random.Random(SEED)  # noqa: S311 -- reproducible test data, not secrets
    ldif = slapd.users_ldif
    began = time.perf_counter()
    people, groups = write_users_ldif(ldif, args.users, slapd.people_dn, slapd.groups_dn, rng)
    figures["people"] = people
    figures.groups = groups
    say(
        f"LDIF of {args.users:,} users written in {time.perf_counter() - began:.1f} s "
        f"({ldif.stat().st_size / 2**20:,.0f} MiB)"
    )
    slapd.start()
    figures["slapadd"] = slapd.slapadd_seconds
    say(f"slapadd {args.users:,} users: {slapd.slapadd_seconds:.1f} s; slapd up on {slapd.url}")

    data = work / "service"
    data.mkdir()
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in _INHERITED and not k.startswith(("SSPR_", "SMTP_"))
    }
    base_url = f"http://127.0.0.1:{free_port()}"
    env.update(SSPR_DATA_DIR=str(data), SSPR_BASE_URL=base_url)
    service = Service(data, env, base_url)
    service.sspr(
        "tenant", "create", TENANT, "--name", "Contoso", "--plan", "p1", "--domain", DOMAIN
    )
    service.sspr("policy", "set", TENANT, "writeback_enabled=true")
    service.sspr(
        "user",
        "create",
        TENANT,
        ADMIN_UPN,
        "--password",
        ADMIN_PASSWORD,
        "--email",
        ADMIN_UPN,
        "--role",
        "global-administrator",
    )
    token = json.loads(service.sspr("agent-token", TENANT, "--json"))["token"]
    service.start()
    say(f"sspr serve up on {base_url}")

    # The agent's enrolment, as an operator would type it.
    (work / "agent").mkdir()
    password_file = work / "agent" / "bind-password"
    password_file.write_text(slapd.service_password + "\n")
    password_file.chmod(0o600)
    config = work / "agent" / "agent.json"
    done = subprocess.run(  # noqa: S603
        [str(SSPR_AGENT), "enroll", "--url", base_url, "--token", token, "--config", str(config),
         "--kind", "openldap", "--ldap-url", slapd.url, "--bind-dn", slapd.service_dn,
         "--bind-password-file", str(password_file), "--base-dn", slapd.base_dn,
         "--ca-file", str(slapd.ca_file), "--name", "bench-agent"],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    if done.returncode != 0:
        raise RuntimeError(f"sspr-agent enroll failed:\n{done.stdout}{done.stderr}")
    figures["agent_config"] = config
    return service, figures


def run_benchmark(
    args: argparse.Namespace, work: Path, slapd: BulkSlapd, service: Service, figures: Figures
) -> None:
    assert service.process is not None
    people: list[Person] = figures["people"]
    n = args.users
    attributes = user_attributes()
    user_filter = "(objectClass=inetOrgPerson)"

    # ---------------------------------------------------------------- 1. full sync
    # The physical limits first, on a warm slapd (the agent's read comes after them).
    limits = [
        run_ldapsearch(slapd, user_filter, attributes, work / "ldapsearch.ldif")
        for _ in range(args.repeat)
    ]
    if any(entries != n for _, entries in limits):
        raise RuntimeError(f"ldapsearch found {[e for _, e in limits]} entries, not {n}")
    figures["ldapsearch"] = sorted(s for s, _ in limits)
    reads = [ldap3_paged_read(slapd, user_filter, attributes) for _ in range(args.repeat)]
    figures["ldap3"] = sorted(s for s, _ in reads)
    agent_reads = [agent_read_encoded(slapd) for _ in range(args.repeat)]
    figures["agent_read"] = sorted(s for s, _, _ in agent_reads)
    figures["json_bytes"] = agent_reads[0][2]
    say(
        f"limits: ldapsearch {statistics.median(figures['ldapsearch']):.2f} s, ldap3 "
        f"{statistics.median(figures['ldap3']):.2f} s, agent read+JSON "
        f"{statistics.median(figures['agent_read']):.2f} s"
    )

    service_pid = service.process.pid
    slapd_pid = slapd.process.pid if slapd.process else 0
    figures["service_rss_before"] = proc_status(service_pid)
    service_cpu0, slapd_cpu0 = cpu_seconds(service_pid), cpu_seconds(slapd_pid)
    db = Database(service.db)
    log_dir = work / "agent"
    started = time.time()
    agent = subprocess.Popen(  # noqa: S603
        [str(SSPR_AGENT), "run", "--config", str(figures["agent_config"]),
         "--sync-interval", "86400"],  # only the syncs asked for, after the first full one
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True,
    )  # fmt: skip
    STARTED.append(agent)
    AGENTS.append(agent)
    out = Output(agent.stdout, log_dir / "agent.out")
    err = Output(agent.stderr, log_dir / "agent.err")

    def alive() -> None:
        if agent.poll() is not None:
            raise RuntimeError(
                f"sspr-agent run exited {agent.returncode}:\n"
                + "\n".join(line for _, line in err.lines[-30:])
            )
        if service.process is not None and service.process.poll() is not None:
            raise RuntimeError("sspr serve exited during the run")

    peak = {"agent": 0, "service": 0}

    def sample() -> None:
        for name, pid in (("agent", agent.pid), ("service", service_pid)):
            peak[name] = max(peak[name], proc_status(pid).get("VmHWM", 0))

    def users_committed() -> bool:
        sample()
        return (db.value("SELECT COUNT(*) FROM hybrid_synceduser") or 0) >= n

    timeout = 120 + n / 50  # generous: at least 50 users/s
    users_at = wait_for(users_committed, timeout, f"{n} synced users", alive, every=0.1)

    def full_done() -> bool:
        sample()
        state = db.sync_state()
        return bool(state.get("full_completed") and state["last_full"].get("finished_at"))

    finished_at = wait_for(full_done, 120, "the end of the full sync", alive, every=0.05)
    sample()
    figures["agent_cpu"] = cpu_seconds(agent.pid)
    figures["service_cpu"] = cpu_seconds(service_pid) - service_cpu0
    figures["slapd_cpu"] = cpu_seconds(slapd_pid) - slapd_cpu0
    figures["agent_hwm"] = peak["agent"]
    figures["service_hwm"] = peak["service"]
    # Resident now, the sync over: what the agent keeps between syncs.
    figures["agent_rss_end"] = proc_status(agent.pid).get("VmRSS", 0)
    figures["service_rss_end"] = proc_status(service_pid).get("VmRSS", 0)
    figures["slapd_rss"] = proc_status(slapd_pid).get("VmHWM", 0)
    figures["full_users"] = users_at - started
    figures["full_done"] = finished_at - started
    banner = out.first(r"^sspr-agent .*: agent ")
    first_batch = out.first(r"^sync full .*objects in 1 batches")
    figures["agent_startup"] = (banner - started) if banner else None
    figures["first_batch"] = (first_batch - started) if first_batch else None
    state = db.sync_state()
    figures["full_stats"] = state["last_full"]
    figures["synced_groups"] = db.value("SELECT COUNT(*) FROM hybrid_syncedgroup")
    figures["memberships"] = db.value("SELECT COUNT(*) FROM directory_group_members")
    figures["db_size"] = sum(p.stat().st_size for p in service.data_dir.glob("sspr.sqlite3*"))
    say(
        f"full sync: {n:,} users committed after {figures['full_users']:.1f} s, sync ended "
        f"after {figures['full_done']:.1f} s; agent peak {mib(peak['agent'])}, service peak "
        f"{mib(peak['service'])}"
    )

    # ---------------------------------------------------------------- admin sign-in
    admin = Api(service.base_url)
    status, answer = admin.call(
        "POST",
        f"/api/v1/tenants/{TENANT}/sessions",
        {"username": ADMIN_UPN, "password": ADMIN_PASSWORD},
    )
    if status != 201:
        raise RuntimeError(f"admin sign-in: {status} {answer}")
    admin.token = answer["token"]

    # ---------------------------------------------------------------- idle
    # What an idle, connected agent costs: its long poll looks at the queue every 100 ms.
    pids = {"agent": agent.pid, "service": service_pid, "slapd": slapd_pid}
    cpu0, began = cpu_of(pids), time.perf_counter()
    time.sleep(args.idle)
    figures["idle_cpu"] = {
        k: v / (time.perf_counter() - began) for k, v in cpu_spent(cpu0, pids).items()
    }

    # ---------------------------------------------------------------- 2. delta
    changed = people[: args.delta]
    cursor = slapd_context_csn(slapd)
    modify = work / "delta.ldif"
    modify.write_text("".join(
        f"dn: {p.dn}\nchangetype: modify\nreplace: mail\nmail: {p.uid}.moved@{DOMAIN}\n-\n\n"
        for p in changed
    ))  # fmt: skip
    began = time.perf_counter()
    done = subprocess.run(  # noqa: S603
        [LDAPMODIFY, "-x", "-ZZ", "-H", slapd.url, "-D", slapd.admin_dn, "-w",
         slapd.admin_password, "-f", str(modify)],
        capture_output=True, env=ldap_env(slapd), check=False,
    )  # fmt: skip
    figures["ldapmodify"] = time.perf_counter() - began
    if done.returncode != 0:
        raise RuntimeError(f"ldapmodify failed: {done.stderr.decode(errors='replace')}")
    delta_filter = f"(&{user_filter}(entryCSN>={cursor})(!(entryCSN={cursor})))"
    delta_limits = [
        run_ldapsearch(slapd, delta_filter, attributes, work / "delta-search.ldif")
        for _ in range(args.repeat)
    ]
    if any(entries != len(changed) for _, entries in delta_limits):
        raise RuntimeError(f"the delta search found {[e for _, e in delta_limits]} entries")
    figures["delta_ldapsearch"] = sorted(s for s, _ in delta_limits)
    moved = f"%.moved@{DOMAIN}"
    requested = time.time()
    status, answer = admin.call(
        "POST", f"/api/v1/tenants/{TENANT}/sync-requests", {"mode": "delta"}
    )
    if status != 202:
        raise RuntimeError(f"sync request: {status} {answer}")
    visible = wait_for(
        lambda: db.value("SELECT COUNT(*) FROM directory_user WHERE mail LIKE ?", moved)
        >= len(changed),
        120, "the delta's changes", alive, every=0.02,
    )  # fmt: skip
    figures["delta_total"] = visible - requested
    delta_stats = db.sync_state()["last_delta"]
    figures["delta_stats"] = delta_stats
    began_at = delta_stats.get("started_at")
    figures["delta_wait"] = (
        datetime.fromisoformat(began_at).timestamp() - requested if began_at else None
    )
    say(
        f"delta: {len(changed)} changes visible {figures['delta_total']:.1f} s after the "
        f"request (first batch applied after {figures['delta_wait'] or 0:.1f} s)"
    )

    # ---------------------------------------------------------------- 1b. full sync again
    # Nothing changed since: what a periodic full sync (how deletions are found) costs.
    previous = db.sync_state()["last_full"].get("sync_id")
    requested = time.time()
    status, answer = admin.call("POST", f"/api/v1/tenants/{TENANT}/sync-requests", {"mode": "full"})
    if status != 202:
        raise RuntimeError(f"sync request: {status} {answer}")

    def second_full_done() -> bool:
        last = db.sync_state()["last_full"]
        return last.get("sync_id") != previous and bool(last.get("finished_at"))

    ended = wait_for(second_full_done, 120 + n / 50, "a second full sync", alive, every=0.05)
    again = db.sync_state()["last_full"]
    figures["full_again_total"] = ended - requested
    figures["full_again"] = (
        datetime.fromisoformat(again["finished_at"]).timestamp()
        - datetime.fromisoformat(again["started_at"]).timestamp()
    )
    figures["full_again_stats"] = again
    say(
        f"second full sync: {figures['full_again']:.1f} s from its first batch, "
        f"{figures['full_again_total']:.1f} s after the request"
    )

    # ---------------------------------------------------------------- 3. writeback
    from sspr_agent.directory import LdapLink
    from sspr_agent.directory.openldap import PPOLICY_REQUEST

    link = LdapLink(directory_config(slapd))
    rng = random.Random(SEED + 1)  # noqa: S311 -- test passwords, reproducible
    via_service = people[args.delta : args.delta + args.resets]
    direct = people[args.delta + args.resets : args.delta + 2 * args.resets]
    # Warm up both paths once (first-use costs: connections, imports, caches).
    warm = people[-1]
    admin.call(
        "POST",
        f"/api/v1/tenants/{TENANT}/users/{urllib.parse.quote(warm.upn)}/password-reset",
        {"password": new_password(rng)},
    )
    round_trips, api_calls, binds_needed = [], [], []
    reset_calls: list[tuple[str, float, float]] = []
    cpu0 = cpu_of(pids)
    for person in via_service:
        password = new_password(rng)
        path = f"/api/v1/tenants/{TENANT}/users/{urllib.parse.quote(person.upn)}/password-reset"
        t0, w0 = time.perf_counter(), time.time()
        status, answer = admin.call("POST", path, {"password": password})
        t1 = time.perf_counter()
        reset_calls.append((person.upn, w0, time.time()))
        if status != 200:
            raise RuntimeError(f"admin reset of {person.upn}: {status} {answer}")
        binds_needed.append(bind_check(link, person.dn, password))
        round_trips.append(time.perf_counter() - t0)
        api_calls.append(t1 - t0)
    figures["reset_cpu"] = cpu_spent(cpu0, pids)
    figures["reset_steps"] = command_steps(db, "reset_password", reset_calls)
    figures["reset_round_trip"] = sorted(round_trips)
    figures["reset_api"] = sorted(api_calls)
    figures["reset_binds"] = max(binds_needed)
    service_conn = link.service_connection()
    direct_round, direct_modify = [], []
    try:
        for person in direct:
            password = new_password(rng)
            t0 = time.perf_counter()
            service_conn.extend.standard.modify_password(
                person.dn, None, password, controls=PPOLICY_REQUEST
            )
            t1 = time.perf_counter()
            if (service_conn.result or {}).get("result") != 0:
                raise RuntimeError(f"direct Password Modify: {service_conn.result}")
            bind_check(link, person.dn, password)
            direct_round.append(time.perf_counter() - t0)
            direct_modify.append(t1 - t0)
    finally:
        service_conn.unbind()
    figures["direct_round_trip"] = sorted(direct_round)
    figures["direct_modify"] = sorted(direct_modify)
    say(
        f"writeback: p50 {percentile(figures['reset_round_trip'], 0.5) * 1000:.0f} ms via the "
        f"service, {percentile(figures['direct_round_trip'], 0.5) * 1000:.1f} ms direct"
    )

    # ---------------------------------------------------------------- 4. pass-through sign-ins
    pool = people[args.delta + 2 * args.resets :]
    signers = [pool[i % len(pool)] for i in range(args.signins)]
    signin_calls: list[tuple[str, float, float]] = []
    cpu0 = cpu_of(pids)
    rates = signin_rate(service.base_url, signers, args.clients, signin_calls)
    figures["signin_cpu"] = cpu_spent(cpu0, pids)
    figures["signin_rate"], figures["signin_latency"], figures["signin_failed"] = rates
    figures["signin_steps"] = command_steps(db, "verify_credentials", signin_calls)
    direct_signers = [pool[i % len(pool)] for i in range(args.signins)]
    figures["bind_rate"], figures["bind_latency"], figures["bind_failed"] = direct_bind_rate(
        directory_config(slapd), direct_signers, args.clients, rebind=False
    )
    figures["rebind_rate"], figures["rebind_latency"], _ = direct_bind_rate(
        directory_config(slapd), direct_signers, args.clients, rebind=True
    )
    say(
        f"sign-ins: {figures['signin_rate']:.1f}/s through the service, "
        f"{figures['bind_rate']:.0f}/s direct binds"
    )

    figures["agent_hwm_end"] = proc_status(agent.pid).get("VmHWM", 0)
    figures["service_hwm_end"] = proc_status(service_pid).get("VmHWM", 0)
    state_file = Path(str(figures["agent_config"]).replace(".json", ".state.json"))
    figures["state_file_size"] = state_file.stat().st_size if state_file.exists() else 0
    journal_file = journal_path_for(state_file)
    figures["state_file_size"] += journal_file.stat().st_size if journal_file.exists() else 0
    figures["state_journal"] = len(journal.read(journal_file)[0])
    errors = [line for _, line in err.lines if " WARNING " in line or " ERROR " in line]

    # ---------------------------------------------------------------- 4b. after a busy day
    # The agent journals every command it runs (idempotency keys, kept 24 h, at most
    # journal.MAX_ENTRIES), two appended lines per write command: the same sign-ins again with
    # the journal as a busy tenant's agent has it. Stop the agent, fill its journal with recent
    # entries, start it again.
    figures["journal_target"] = args.journal
    if args.journal:
        stop_process(agent, 60)
        entries = journal.read(journal_file)[0]
        now, i = time.time(), 0
        while len(entries) < args.journal:
            key = f"bench{i:027x}"
            entries[key] = {"command_id": key, "kind": "reset_password", "state": "done",
                            "at": now - i * 0.01, "result": {
                                "command_id": key, "outcome": "ok", "message": "",
                                "details": {"duration_ms": 12}, "version": 1}}  # fmt: skip
            i += 1
        filled = journal.Journal(journal_file)
        filled.replace_all(entries)
        filled.close()
        figures["state_file_full"] = journal_file.stat().st_size
        restarted = time.time()
        agent = subprocess.Popen(  # noqa: S603
            [str(SSPR_AGENT), "run", "--config", str(figures["agent_config"]),
             "--sync-interval", "86400"],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True,
        )  # fmt: skip
        STARTED.append(agent)
        AGENTS.append(agent)
        Output(agent.stdout, log_dir / "agent-2.out")
        err = Output(agent.stderr, log_dir / "agent-2.err")
        wait_for(
            lambda: _utc(db.value("SELECT MAX(last_heartbeat_at) FROM hybrid_agent")) > restarted,
            60, "the restarted agent's heartbeat", alive,
        )  # fmt: skip
        time.sleep(3)  # its start-up delta (nothing to do) and first long poll
        pids["agent"] = agent.pid
        later = [pool[(args.signins + 10 + i) % len(pool)] for i in range(args.signins)]
        busy_calls: list[tuple[str, float, float]] = []
        cpu0 = cpu_of(pids)
        rates = signin_rate(service.base_url, later, args.clients, busy_calls)
        figures["busy_cpu"] = cpu_spent(cpu0, pids)
        figures["busy_rate"], figures["busy_latency"], figures["busy_failed"] = rates
        figures["busy_steps"] = command_steps(db, "verify_credentials", busy_calls)
        errors += [line for _, line in err.lines if " WARNING " in line or " ERROR " in line]
        say(f"sign-ins with a full journal: {figures['busy_rate']:.1f}/s")
    figures["agent_errors"] = errors
    db.close()
    admin.close()
    stop_process(agent, 60)
    figures["agent_exit"] = agent.returncode


def slapd_context_csn(slapd: SlapdServer) -> str:
    values = slapd.read(slapd.suffix, "contextCSN").get("contextCSN", [])
    return max(str(v) for v in values)


STEPS = ("before", "queue", "deliver", "agent", "directory", "after")
STEP_WORDS = {
    "before": "service work before the command is queued (auth, checks)",
    "queue": "queued → claimed by the agent's long poll",
    "deliver": "claimed → started (answer to the agent, its `start` call)",
    "agent": "started → result recorded (agent: journal, directory, result call)",
    "directory": "… of which the directory operation (the agent's duration_ms)",
    "after": "result recorded → HTTP answer (the waiting request's poll, the service's writes)",
}


def _utc(value: str) -> float:
    return datetime.fromisoformat(value).replace(tzinfo=UTC).timestamp()


def command_steps(
    db: Database, kind: str, calls: list[tuple[str, float, float]]
) -> dict[str, list[float]]:
    """Where each call's time went, from the command rows' timestamps and the call's own
    (same clock): {step: sorted seconds}. `calls` are (upn, began, ended), wall clock."""
    rows = db.conn.execute(
        "SELECT target, issued_at, claimed_at, started_at, finished_at, result "
        "FROM hybrid_command WHERE kind = ? AND state = 'done'",
        (kind,),
    ).fetchall()
    by_upn: dict[str, list[tuple[float, ...]]] = {}
    for target, issued, claimed, started, finished, result in rows:
        if not (issued and claimed and started and finished):
            continue
        duration = (json.loads(result or "{}").get("details") or {}).get("duration_ms", 0)
        by_upn.setdefault(json.loads(target)["upn"], []).append(
            (_utc(issued), _utc(claimed), _utc(started), _utc(finished), duration / 1000)
        )
    steps: dict[str, list[float]] = {name: [] for name in STEPS}
    for upn, began, ended in calls:
        for issued, claimed, started, finished, directory in by_upn.get(upn, []):
            if began <= issued <= ended:
                for name, value in zip(
                    STEPS,
                    (
                        issued - began,
                        claimed - issued,
                        started - claimed,
                        finished - started,
                        directory,
                        ended - finished,
                    ),
                    strict=True,
                ):
                    steps[name].append(value)
                break
    return {name: sorted(values) for name, values in steps.items()}


def cpu_of(pids: dict[str, int]) -> dict[str, float]:
    return {name: cpu_seconds(pid) for name, pid in pids.items()}


def cpu_spent(before: dict[str, float], pids: dict[str, int]) -> dict[str, float]:
    return {name: cpu_seconds(pid) - before[name] for name, pid in pids.items()}


def signin_rate(
    base_url: str, signers: list[Person], clients: int, calls: list[tuple[str, float, float]]
) -> tuple[float, list[float], int]:
    """Pass-through sign-ins through the API with `clients` threads: (per second, latencies,
    failures)."""
    path = f"/api/v1/tenants/{TENANT}/sessions"
    # Warm up: one sign-in per client connection.
    for person in signers[:clients]:
        status, answer = Api(base_url).call(
            "POST", path, {"username": person.upn, "password": USER_PASSWORD}
        )
        if status != 201:
            raise RuntimeError(f"pass-through sign-in of {person.upn}: {status} {answer}")
    shares = [signers[i::clients] for i in range(clients)]
    latencies: list[float] = []
    failures: list[str] = []
    barrier = threading.Barrier(clients + 1)
    lock = threading.Lock()

    def client(share_: list[Person]) -> None:
        api = Api(base_url)
        mine, bad = [], []
        barrier.wait()
        timed = []
        for person in share_:
            t0, w0 = time.perf_counter(), time.time()
            status, answer = api.call(
                "POST", path, {"username": person.upn, "password": USER_PASSWORD}
            )
            mine.append(time.perf_counter() - t0)
            timed.append((person.upn, w0, time.time()))
            if status != 201:
                bad.append(f"{status} {answer}")
        api.close()
        with lock:
            latencies.extend(mine)
            failures.extend(bad)
            calls.extend(timed)

    threads = [threading.Thread(target=client, args=(s,)) for s in shares]
    for t in threads:
        t.start()
    barrier.wait()
    began = time.perf_counter()
    for t in threads:
        t.join()
    seconds = time.perf_counter() - began
    if failures:
        say(f"{len(failures)} sign-ins failed, e.g. {failures[0]}")
    return rate(len(latencies), seconds), sorted(latencies), len(failures)


# ------------------------------------------------------------------------------------ report
def report(args: argparse.Namespace, f: Figures) -> str:
    n = f.users
    med = statistics.median
    search, ldap3_s, agent_read = med(f["ldapsearch"]), med(f["ldap3"]), med(f["agent_read"])
    full, full_done = f["full_users"], f["full_done"]
    delta_n = args.delta
    delta_search = med(f["delta_ldapsearch"])
    rt, api, drt, dmod = (
        f["reset_round_trip"],
        f["reset_api"],
        f["direct_round_trip"],
        f["direct_modify"],
    )

    def p50(values: list[float]) -> float:
        return percentile(values, 0.5) * 1000

    def p99(values: list[float]) -> float:
        return percentile(values, 0.99) * 1000

    stats = f["full_stats"]
    groups = ", ".join(f"{name} ({count:,})" for name, count in f.groups)
    table = [
        "| Measure | Through opensspr | Physical limit, same run | opensspr against the limit |",
        "|---|---:|---:|---:|",
        f"| Full sync, {n:,} users: start of `sspr-agent run` → all users committed "
        f"| {full:,.1f} s ({rate(n, full):,.0f} users/s) "
        f"| paged `ldapsearch` {search:.2f} s ({rate(n, search):,.0f}/s) "
        f"| {share(rate(n, full), rate(n, search))} |",
        f"| … the same, against an ldap3 paged read alone | | ldap3 {ldap3_s:.2f} s "
        f"({rate(n, ldap3_s):,.0f}/s) | {share(rate(n, full), rate(n, ldap3_s))} |",
        f"| … against the agent's own read + JSON, no HTTP | | read_all {agent_read:.2f} s "
        f"({rate(n, agent_read):,.0f}/s) | {share(rate(n, full), rate(n, agent_read))} |",
        f"| Full sync ended (groups resolved, final batch) | {full_done:,.1f} s | | |",
        f"| Full sync again, nothing changed: first batch applied → sync ended "
        f"| {f['full_again']:,.1f} s ({rate(n, f['full_again']):,.0f} users/s) "
        f"| `ldapsearch` {search:.2f} s | {share(rate(n, f['full_again']), rate(n, search))} |",
        f"| … from the request through the API (the agent's long poll tells it at once) "
        f"| {f['full_again_total']:,.1f} s | | |",
        f"| Delta: {delta_n:,} mail changes, delta requested through the API → all visible "
        f"| {f['delta_total']:.1f} s | paged `ldapsearch` of the changed entries "
        f"{delta_search * 1000:.0f} ms | {times(f['delta_total'], delta_search)} |",
        f"| … of which the agent learning of the request (its long poll) "
        f"| {f['delta_wait']:.1f} s | | |"
        if f["delta_wait"] is not None
        else "| | | | |",
        f"| … of which the delta itself (first batch applied → all visible) "
        f"| {f['delta_total'] - (f['delta_wait'] or 0):.2f} s | | "
        f"{times(f['delta_total'] - (f['delta_wait'] or 0), delta_search)} |",
        f"| Writeback round trip, p50 ({len(rt)} admin resets → bind with the new password) "
        f"| {p50(rt):.0f} ms | direct Password Modify → bind {p50(drt):.1f} ms "
        f"| {times(p50(rt), p50(drt))} |",
        f"| Writeback round trip, p99 | {p99(rt):.0f} ms | {p99(drt):.1f} ms "
        f"| {times(p99(rt), p99(drt))} |",
        f"| … the API call alone, p50 / p99 | {p50(api):.0f} / {p99(api):.0f} ms "
        f"| Password Modify alone {p50(dmod):.1f} / {p99(dmod):.1f} ms "
        f"| {times(p50(api), p50(dmod))} / {times(p99(api), p99(dmod))} |",
        f"| Pass-through sign-ins, {args.clients} clients ({args.signins} sign-ins) "
        f"| {f['signin_rate']:.1f}/s (p50 {p50(f['signin_latency']):.0f} ms, p99 "
        f"{p99(f['signin_latency']):.0f} ms) | binds, new connection + StartTLS each: "
        f"{f['bind_rate']:,.0f}/s (p50 {p50(f['bind_latency']):.1f} ms) "
        f"| {share(f['signin_rate'], f['bind_rate'])} |",
        f"| … against binds on open connections | | {f['rebind_rate']:,.0f}/s (p50 "
        f"{p50(f['rebind_latency']):.2f} ms) | {share(f['signin_rate'], f['rebind_rate'])} |",
    ]
    busy = bool(f["journal_target"])
    if busy:
        table.append(
            f"| Pass-through sign-ins again, agent journal full ({f['journal_target']:,} "
            f"entries, as after a busy day) | {f['busy_rate']:.1f}/s (p50 "
            f"{p50(f['busy_latency']):.0f} ms, p99 {p99(f['busy_latency']):.0f} ms) "
            f"| {f['bind_rate']:,.0f}/s | {share(f['busy_rate'], f['bind_rate'])} |"
        )
    breakdown = [
        "Where the time of one call goes (from the command rows' timestamps and the client's "
        "clock, medians; p99 in brackets):",
        "",
        "| Step | Admin reset (ms) | Pass-through sign-in (ms) |"
        + (" … journal full (ms) |" if busy else ""),
        "|---|---:|---:|" + ("---:|" if busy else ""),
        *(
            f"| {STEP_WORDS[name]} | {p50(f['reset_steps'][name]):.1f} "
            f"({p99(f['reset_steps'][name]):.0f}) | {p50(f['signin_steps'][name]):.1f} "
            f"({p99(f['signin_steps'][name]):.0f}) |"
            + (
                f" {p50(f['busy_steps'][name]):.1f} ({p99(f['busy_steps'][name]):.0f}) |"
                if busy and f["busy_steps"][name]
                else (" |" if busy else "")
            )
            for name in STEPS
            if f["reset_steps"][name] and f["signin_steps"][name]
        ),
        "",
        "CPU per call: "
        + "; ".join(
            f"{what} "
            + ", ".join(
                f"{name} {f[key][name] / count * 1000:.1f} ms"
                for name in ("service", "agent", "slapd")
            )
            for what, key, count in (
                ("admin reset", "reset_cpu", len(rt)),
                ("sign-in", "signin_cpu", args.signins),
                *([("sign-in with the journal full", "busy_cpu", args.signins)] if busy else []),
            )
        )
        + " (the bench's own clients not counted). Idle, with the agent connected and "
        f"nothing to do, measured over {args.idle:.0f} s: "
        + ", ".join(
            f"{name} {f['idle_cpu'][name]:.1%} of a core" for name in ("service", "agent", "slapd")
        )
        + ".",
    ]
    cpu_total = f["agent_cpu"] + f["service_cpu"] + f["slapd_cpu"]
    lines = [
        SECTION,
        "",
        f"- Date: {datetime.now(UTC):%Y-%m-%d %H:%M} UTC",
        f"- Machine: {machine()}; {tool_version(['/usr/sbin/slapd', '-VV'])[:60]}; SQLite "
        f"{sqlite3.sqlite_version}",
        f"- Commit: {git_commit()}",
        f"- Other work on the machine: load average {f['load'][0]:.2f} at the start; during "
        f"the {f['load'][2] / 60:.0f} minutes of the run, processes other than this run's used "
        f"{f['load'][1]:.0%} of the machine's CPU",
        f"- Command: `.venv/bin/python bench/hybrid.py --users {n} --resets {args.resets}`",
        f"- Directory: private slapd (tests/directories/slapd.py: mdb, ppolicy, syncprov, "
        f"StartTLS), {n:,} inetOrgPerson users loaded with `slapadd -q` in "
        f"{f['slapadd']:.1f} s; groups {groups}",
        "- Service: `sspr serve` (one process), SQLite in a temporary data directory, tenant on "
        "plan p1 with writeback on; agent: `sspr-agent enroll` + `sspr-agent run` (4 workers), "
        "StartTLS to slapd verified against the fixture's CA, plain HTTP to the service on the "
        "loopback",
        "",
        *table,
        "",
        f"Full sync: {stats.get('batches', '?')} batches; the agent's banner came "
        f"{f['agent_startup'] or 0:.1f} s after the start and the first batch was acknowledged "
        f"after {f['first_batch'] or 0:.1f} s. The JSON the agent sends is "
        f"{f['json_bytes'] / 2**20:,.0f} MiB. CPU spent during the sync: agent "
        f"{f['agent_cpu']:.1f} s, service {f['service_cpu']:.1f} s, slapd {f['slapd_cpu']:.1f} s "
        f"({f['service_cpu'] / cpu_total:.0%} of it in the service). Peak RSS during the sync: "
        f"agent {mib(f['agent_hwm'])}, service {mib(f['service_hwm'])} (before: "
        f"{mib(f['service_rss_before'].get('VmRSS', 0))}), slapd {mib(f['slapd_rss'])}; "
        f"resident when it had ended: agent {mib(f['agent_rss_end'])}, service "
        f"{mib(f['service_rss_end'])}. "
        f"Database after the sync: {f['db_size'] / 2**20:,.0f} MiB, {f['synced_groups']} "
        f"groups with {f['memberships']:,} user memberships.",
        "",
        f"Delta: one `ldapmodify` of the {delta_n:,} entries took {f['ldapmodify']:.2f} s. A "
        "sync request wakes the agent's waiting long poll (heartbeats, every "
        f"{f['heartbeat']:.0f} s, carry it too); it took "
        f"{f['delta_wait'] or 0:.1f} s here, and {f['full_again_total'] - f['full_again']:.1f} s "
        "(including the first page's read) for the second full sync.",
        "",
        f"Writeback: both columns end with the same check, a new connection + StartTLS + bind "
        f"as the user; admin resets ask for a password change at the next sign-in "
        f"(pwdReset), the bind still succeeds. Needed at most {f['reset_binds']} bind(s) after "
        f"the API answered. The agent's journal held {f['state_journal']:,} entries (state and "
        f"journal files {f['state_file_size'] / 1024:,.0f} KiB) after the first sign-ins; a "
        "write command appends two lines to it, the first forced to disk (fdatasync)"
        + (
            f"; filled to {f['journal_target']:,} entries it was "
            f"{f['state_file_full'] / 1024:,.0f} KiB."
            if busy
            else "."
        ),
        "",
        *breakdown,
        "",
        f"Sign-ins: {args.clients} client threads on keep-alive connections, each sign-in a "
        f"different synced user; the direct binds ran in {args.clients} processes. Failed: "
        f"{f['signin_failed']} through the service"
        + (f" ({f['busy_failed']} with the journal full)" if busy else "")
        + f", {f['bind_failed']} direct.",
        "",
    ]
    if f["agent_errors"]:
        lines += [
            f"The agent logged {len(f['agent_errors'])} warnings or errors, the first: "
            f"`{f['agent_errors'][0][:200]}`",
            "",
        ]
    return "\n".join(lines)


if __name__ == "__main__":
    raise SystemExit(main())
