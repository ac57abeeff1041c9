"""Benchmark: sign-ins and whole resets per second under load, against the Argon2id limit of
this machine measured in the same run; memory of the app processes.

Run from the repository root (locust comes with the `bench` extra: `pip install -e '.[bench]'`):

    .venv/bin/python bench/load.py [--quick] [--seconds 30] [--clients 8] [--no-write]

Starts the production shape of tests/topology/stack.py (PostgreSQL, Redis, two `sspr serve`
processes, nginx over TLS with the guide's docs/deploy/nginx-sspr.conf) and loads a tenant of
cloud users with COPY (bench/scale.py's loader: one shared Argon2id hash, a registered email,
SSPR on for everyone, no CAPTCHA). Then, with locust (bench/locustfile.py) and --clients
simulated clients that never pause:

1. sign-ins, `POST /api/v1/tenants/{tenant}/sessions` with the right password, each one a user
   of its own (smart lockout counts per user name; sign-in has no per-address limit);
2. whole resets: start, an email code, the code read from the outbox table, verification,
   completion with a new password, each one a user of its own; the per-address limits (30 reset
   starts and 30 codes an hour) are kept out of the measure by giving each client a loopback
   address of its own and moving it to the next one every 25 resets;

each (a) straight to one app process, (b) straight to both (clients split between them) and
(c) through nginx to both. Straight to a process, the clients connect from 127.0.0.1, which the
app trusts as its proxy, and name their own address in X-Forwarded-For (and https in
X-Forwarded-Proto) as nginx does; through nginx they connect from their own addresses.

The limit: Argon2id verifications (for sign-ins) or hashes (for resets) per second with the
service's own parameters in two worker processes (this machine's two cores), measured just
before each run. A sign-in costs one verification and a reset one hash (the new password's; the
reset checks no password history), so the ratio of the two rates is the share of the physical
limit reached. CPU is read from /proc for every part (app processes, nginx, PostgreSQL with its
backends, Redis, locust itself) and for the rest of the machine, over the measured window.

Memory: resident size (VmRSS) of each app process after its start, at rest after a warm-up, the
highest sampled under load and the kernel's high-water mark (VmHWM). The agent's during a sync
of 100,000 users is in the "Hybrid" section (bench/hybrid.py).

Where the time goes: with py-spy (in .venv), a profiled run of each scenario straight to both
processes after the measured ones, sampled from both app processes.

Prints a table and writes the section "Load" of bench/RESULTS.md, leaving any other section as
it is. Everything it starts is stopped before it exits.
"""

from __future__ import annotations

import argparse
import json
import math
import multiprocessing
import os
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from bench.common import (
    RESULTS,
    ROOT,
    git_commit,
    machine,
    machine_busy,
    mib,
    percentile,
    proc_status,
    say,
    setup_django,
    tool_version,
    tree_cpu,
    write_section,
)

SECTION = "## Load"
TENANT = "load"
DOMAIN = f"{TENANT}.test"  # bench/scale.py's loader names the users u0000000@{slug}.test
PASSWORD = "Load-Bench-Pass-42"
LOCUST = Path(sys.executable).with_name("locust")
LOCUSTFILE = ROOT / "bench" / "locustfile.py"
PY_SPY = Path(sys.executable).with_name("py-spy")
PER_ADDRESS = 25  # resets from one address before the next: the per-address limits are 30/h
WARM_UP_ACCOUNTS = 200
KEYCLOAK_PER_VCPU = 15  # password sign-ins per second per vCPU, Keycloak's sizing guide
PATHS = {
    "one": "straight to one app process",
    "two": "straight to two app processes",
    "nginx": "locust → nginx (TLS) → two app processes",
}
SCENARIOS = {"sign-in": "verify", "reset": "hash"}


# ------------------------------------------------------------------------------ the limit
def _argon2_worker(
    job: tuple[str, float, float, tuple[int, int, int]],
) -> tuple[int, list[float], float]:
    """Argon2id with the service's parameters, as fast as one process can, from `start` for
    `seconds` (wall clock, the same for every worker): (operations, seconds of each, CPU
    seconds of them all)."""
    op, start, seconds, (time_cost, memory_kib, parallelism) = job
    from sspr.directory.passwords import _hasher

    hasher = _hasher(time_cost, memory_kib, parallelism)
    secret = "Lantern-Bench-Limit-42"
    stored = hasher.hash(secret)
    hasher.verify(stored, secret)
    time.sleep(max(0.0, start - time.time()))
    spent: list[float] = []
    end = start + seconds
    cpu = time.process_time()
    while time.time() < end:
        began = time.perf_counter()
        if op == "hash":
            hasher.hash(f"{secret}-{len(spent)}")
        else:
            hasher.verify(stored, secret)
        spent.append(time.perf_counter() - began)
    return len(spent), spent, time.process_time() - cpu


@dataclass
class Limit:
    op: str
    workers: int
    per_second: float
    median_ms: float
    around: tuple[float, float] = (0.0, 0.0)  # measured just before and just after a run
    cpu_ms: float = 0.0  # CPU time of one operation


class Argon2Limit:
    """Worker processes kept for the whole run (their imports paid once)."""

    def __init__(self, params: tuple[int, int, int]) -> None:
        self.params = params
        self.pool = multiprocessing.get_context("spawn").Pool(2)

    def measure(self, op: str, seconds: float, workers: int = 2) -> Limit:
        start = time.time() + 0.5
        jobs = [(op, start, seconds, self.params)] * workers
        results = self.pool.map(_argon2_worker, jobs, chunksize=1)
        spent = sorted(s for _, each, _ in results for s in each)
        done = sum(n for n, _, _ in results)
        return Limit(
            op,
            workers,
            done / seconds,
            statistics.median(spent) * 1000,
            cpu_ms=sum(c for _, _, c in results) / max(1, done) * 1000,
        )

    def close(self) -> None:
        self.pool.terminate()
        self.pool.join()


# ------------------------------------------------------------------------- CPU and memory
@dataclass
class Sample:
    at: float
    cpu: dict[str, float]
    busy: float
    own: float
    rss: dict[str, int]


class Sampler(threading.Thread):
    """CPU-seconds of each part, of the machine and of this process, and the app processes'
    VmRSS, every `every` seconds."""

    def __init__(self, parts: dict[str, int], apps: dict[str, int], every: float = 0.25) -> None:
        super().__init__(daemon=True)
        self.parts, self.apps, self.every = parts, apps, every
        self.samples: list[Sample] = []
        self.halt = threading.Event()

    def sample(self) -> Sample:
        t = os.times()
        return Sample(
            time.time(),
            {name: tree_cpu(pid) for name, pid in self.parts.items()},
            machine_busy(),
            t.user + t.system,
            {name: proc_status(pid).get("VmRSS", 0) for name, pid in self.apps.items()},
        )

    def run(self) -> None:
        while not self.halt.is_set():
            self.samples.append(self.sample())
            self.halt.wait(self.every)
        self.samples.append(self.sample())

    def stop(self) -> list[Sample]:
        self.halt.set()
        self.join()
        return self.samples


def nearest(samples: list[Sample], at: float) -> Sample:
    return min(samples, key=lambda s: abs(s.at - at))


# ------------------------------------------------------------------------------- a run
@dataclass
class Run:
    scenario: str
    path: str
    clients: int
    limit: Limit
    window: float = 0.0
    done: int = 0
    errors: list[str] = field(default_factory=list)
    latencies: list[float] = field(default_factory=list)  # seconds, sorted
    steps: list[list[float]] = field(default_factory=list)  # per step, seconds, sorted
    cores: dict[str, float] = field(default_factory=dict)  # CPU cores used, per part
    rss_peak: dict[str, int] = field(default_factory=dict)
    pg_per_op: tuple[float, float] = (0.0, 0.0)  # PostgreSQL sessions, transactions

    @property
    def rate(self) -> float:
        return self.done / self.window if self.window else 0.0

    @property
    def ratio(self) -> float:
        return self.rate / self.limit.per_second if self.limit.per_second else 0.0


def run_locust(
    work: Path,
    stack: Any,
    name: str,
    plan: dict[str, Any],
    clients: int,
    seconds: float,
    warm: float,
    profile: float = 0.0,
) -> tuple[list[list[Any]], list[Sample], dict[str, Path]]:
    """One locust run of `seconds`; its records, the samples taken meanwhile, and the py-spy
    profiles (when `profile` seconds are asked for) of each app process."""
    plan_file, records = work / f"{name}.plan.json", work / f"{name}.records.jsonl"
    plan = {**plan, "records": str(records)}
    plan_file.write_text(json.dumps(plan))
    env = {**os.environ, "BENCH_LOAD_PLAN": str(plan_file)}
    command = [
        str(LOCUST), "-f", str(LOCUSTFILE), "--headless", "--users", str(clients),
        "--spawn-rate", str(clients), "--run-time", f"{seconds:.0f}s", "--only-summary",
        "--loglevel", "WARNING", "--host", plan["targets"][0], "--exit-code-on-error", "0",
    ]  # fmt: skip
    with (work / f"{name}.locust.log").open("wb") as log:
        locust = subprocess.Popen(  # noqa: S603 -- our own arguments
            command, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )
    parts = parts_of(stack) | {"locust": locust.pid}
    sampler = Sampler(parts, {f"app {i + 1}": app.process.pid for i, app in enumerate(stack.apps)})
    sampler.start()
    profiles: dict[str, Path] = {}
    spies: list[subprocess.Popen[bytes]] = []
    try:
        if profile:
            time.sleep(2.0 + warm)  # locust's own start, then the warm-up
            for i, app in enumerate(stack.apps):
                out = work / f"{name}.app{i + 1}.pyspy.txt"
                profiles[f"app {i + 1}"] = out
                spies.append(
                    subprocess.Popen(  # noqa: S603 -- our own arguments
                        spy_command(app.process.pid, profile, out),
                        stdout=subprocess.DEVNULL,
                        stderr=subprocess.DEVNULL,
                    )
                )
        locust.wait(timeout=seconds + 120)
        for spy in spies:
            spy.wait(timeout=60)
    finally:
        for process in (locust, *spies):
            if process.poll() is None:
                process.kill()
                process.wait()
        samples = sampler.stop()
    if not records.exists():
        raise RuntimeError(
            f"locust wrote no records:\n{(work / f'{name}.locust.log').read_text()[-3000:]}"
        )
    lines = [json.loads(line) for line in records.read_text().splitlines() if line.strip()]
    return lines, samples, profiles


def spy_command(pid: int, seconds: float, out: Path) -> list[str]:
    return [
        str(PY_SPY), "record", "-p", str(pid), "--rate", "50", "--duration", f"{seconds:.0f}",
        "--format", "raw", "--output", str(out),
    ]  # fmt: skip


def pg_stats(url: str) -> tuple[int, int]:
    """Sessions opened and transactions ended in the database so far (pg_stat_database)."""
    import psycopg

    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("SELECT pg_stat_clear_snapshot()")
        row = conn.execute(
            "SELECT sessions, xact_commit + xact_rollback FROM pg_stat_database "
            "WHERE datname = current_database()"
        ).fetchone()
    assert row is not None
    return int(row[0]), int(row[1])


def connection_cost(stack: Any, count: int) -> tuple[float, float]:
    """CPU-ms of PostgreSQL and of the client for one new connection, opened and closed (what
    the service does for every request, its connections being closed at each request's end)."""
    import psycopg

    postmaster = parts_of(stack)["PostgreSQL"]
    server, client = tree_cpu(postmaster), time.process_time()
    for _ in range(count):
        psycopg.connect(stack.postgres.url).close()
    time.sleep(0.5)  # the last backends exit and are reaped
    return (
        (tree_cpu(postmaster) - server) / count * 1000,
        (time.process_time() - client) / count * 1000,
    )


def parts_of(stack: Any) -> dict[str, int]:
    postmaster = int((stack.postgres.data / "postmaster.pid").read_text().split()[0])
    parts = {f"app {i + 1}": app.process.pid for i, app in enumerate(stack.apps)}
    return parts | {
        "nginx": stack.nginx.process.pid,
        "PostgreSQL": postmaster,
        "Redis": stack.redis.process.pid,
    }


def summarise(run: Run, records: list[list[Any]], samples: list[Sample], warm: float) -> None:
    """Count what ended within the window: from `warm` seconds after the first iteration began
    to the last one's end (locust stops its clients mid-iteration; those are not counted)."""
    first = min(r[0] for r in records)
    last = max(r[1] for r in records if not r[2]) if any(not r[2] for r in records) else first
    begin = first + warm
    inside = [r for r in records if begin <= r[1] <= last]
    run.window = last - begin
    run.done = sum(1 for r in inside if not r[2])
    run.errors = [r[2] for r in inside if r[2]]
    ok = [r for r in inside if not r[2]]
    run.latencies = sorted(r[1] - r[0] for r in ok)
    if ok and ok[0][3]:
        run.steps = [sorted(r[3][i] for r in ok) for i in range(len(ok[0][3]))]
    a, b = nearest(samples, begin), nearest(samples, last)
    span = b.at - a.at
    run.cores = {name: (b.cpu[name] - a.cpu[name]) / span for name in a.cpu}
    ours = sum(run.cores.values()) + (b.own - a.own) / span
    run.cores["machine"] = (b.busy - a.busy) / span
    run.cores["others"] = max(0.0, run.cores["machine"] - ours)
    run.rss_peak = {
        name: max(s.rss.get(name, 0) for s in samples if begin <= s.at <= last) for name in a.rss
    }


# ------------------------------------------------------------------------------- profiles
# Frames a thread sits in while it waits for work (the event loop, an idle pool thread, a
# join): not time a request costs. py-spy's raw paths are relative to sys.path.
IDLE = (
    ("Runner.run", "asyncio/runners.py"),
    ("Condition.wait", "threading.py"),
    ("Event.wait", "threading.py"),
    ("EpollSelector.select", "selectors.py"),
    ("_worker", "concurrent/futures/thread.py"),
    ("Thread._wait_for_tstate_lock", "threading.py"),
)
PG_WAIT = ("Connection.wait", "psycopg/connection.py")  # a query sent, its answer awaited
KINDS = {
    "argon2": "Argon2id",
    "psycopg": "psycopg (client side)",
    "django": "Django",
    "ninja": "django-ninja",
    "pydantic": "django-ninja",
    "pydantic_core": "django-ninja",
    "sspr": "opensspr's own code",
    "sspr_protocol": "opensspr's own code",
    "redis": "Redis client",
    "asyncio": "event loop and thread hand-offs",
    "asgiref": "event loop and thread hand-offs",
    "uvicorn": "event loop and thread hand-offs",
    "concurrent": "event loop and thread hand-offs",
    "threading.py": "event loop and thread hand-offs",
    "selectors.py": "event loop and thread hand-offs",
}
# On the stack, whatever runs below them.
TOPICS = {
    "opening a PostgreSQL connection": lambda func, file: func.endswith("get_new_connection"),
    "sealing the audit chain after each commit": lambda func, file: (
        file == "sspr/audit/chain.py" and func == "seal_pending"
    ),
    "throttling counters (Redis)": lambda func, file: file.startswith("sspr/throttling/"),
}


# Under every request: the middleware and the API's wrappers.
EVERY_REQUEST = ("sspr.web.middleware.", "sspr.web.outage.", "sspr.web.api.app.")


@dataclass
class Profile:
    """py-spy's samples of the app processes' threads that were not idle."""

    samples: int = 0
    kinds: Counter[str] = field(default_factory=Counter)
    topics: Counter[str] = field(default_factory=Counter)
    topics_waiting: Counter[str] = field(default_factory=Counter)
    functions: Counter[str] = field(default_factory=Counter)
    functions_waiting: Counter[str] = field(default_factory=Counter)


def read_profile(files: list[Path]) -> Profile:
    found = Profile()
    frame = re.compile(r"^(?P<func>.+?) \((?P<file>[^()]+?):\d+\)$")
    for path in files:
        if not path.exists():
            continue
        for line in path.read_text().splitlines():
            stack, _, count_text = line.rpartition(" ")
            frames = [(m["func"], m["file"]) for f in stack.split(";") if (m := frame.match(f))]
            if not count_text.isdigit() or not frames or frames[-1] in IDLE:
                continue
            count = int(count_text)
            waiting = frames[-1] == PG_WAIT
            found.samples += count
            top = frames[-1][1].split("/")[0]
            found.kinds[
                "waiting for PostgreSQL's answers" if waiting else KINDS.get(top, "other")
            ] += count
            seen: set[str] = set()
            for func, file in frames:
                names = [t for t, test in TOPICS.items() if test(func, file)]
                if file.startswith(("sspr/", "sspr_protocol/")) and not file.startswith(
                    "sspr/cli/"
                ):
                    names.append(f"{file.removesuffix('.py').replace('/', '.')}.{func}")
                for name in names:
                    if name in seen:
                        continue
                    seen.add(name)
                    counter, waits = (
                        (found.topics, found.topics_waiting)
                        if name in TOPICS
                        else (found.functions, found.functions_waiting)
                    )
                    counter[name] += count
                    if waiting:
                        waits[name] += count
    return found


# ----------------------------------------------------------------------------- the setup
def load_users(stack: Any, work: Path, accounts: int) -> float:
    """The tenant and its users, written into the stack's database from this process."""
    env = stack.env(work / "loader")
    (work / "loader").mkdir()
    os.environ.clear()
    os.environ.update(env)
    setup_django(str(work / "loader"))
    from bench.scale import load_tenant
    from django.db import connection

    from sspr.directory.passwords import hash_password

    _, seconds = load_tenant(TENANT, accounts, 0, hash_password(PASSWORD))
    connection.close()
    return float(seconds)


def warm_up(stack: Any) -> None:
    """A few sign-ins on each app process, and one whole reset through nginx, checked."""
    from django.db import connection
    from tests.topology.stack import exchange

    from sspr.messaging.models import OutboxMessage

    for i, app in enumerate(stack.apps):
        for n in range(10):
            upn = f"u{i * 10 + n:07d}@{DOMAIN}"
            reply = exchange(
                f"http://{app.address}",
                "POST",
                f"/api/v1/tenants/{TENANT}/sessions",
                json.dumps({"username": upn, "password": PASSWORD}).encode(),
                {"Content-Type": "application/json", "X-Forwarded-Proto": "https"},
            )
            if reply.status != 201:
                raise RuntimeError(f"warm-up sign-in on {app.address}: {reply.status} {reply.text}")
    for n in range(4):
        upn = f"u{100 + n:07d}@{DOMAIN}"
        flow = stack.api("POST", f"/tenants/{TENANT}/password-resets", {"username": upn})
        assert flow.status == 201, flow.text
        path = f"/password-resets/{flow.json()['id']}"
        sent = stack.api("POST", f"{path}/challenges", {"method": "email"})
        assert sent.status == 202, sent.text
        message = OutboxMessage.objects.filter(to=upn).order_by("-id").first()
        found = re.search(r"Your code: (\S+)", message.body if message else "")
        assert found, f"no code for {upn}"
        checked = stack.api(
            "POST", f"{path}/verifications", {"method": "email", "code": found.group(1)}
        )
        assert checked.status == 200, checked.text
        done = stack.api("POST", f"{path}/completion", {"new_password": f"Quartz-Meadow-{n}-x9"})
        assert done.status == 200, done.text
    connection.close()


# -------------------------------------------------------------------------------- main
def main() -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="short runs (a check, not figures)")
    parser.add_argument("--seconds", type=float, help="each measured run (default 30, quick 8)")
    parser.add_argument("--clients", type=int, default=8, help="simulated clients, no pauses")
    parser.add_argument("--no-profile", action="store_true", help="skip the py-spy runs")
    parser.add_argument("--keep", action="store_true", help="keep the temporary directory")
    parser.add_argument("--no-write", action="store_true", help="print only")
    args = parser.parse_args()
    # A stop asked for ends like an error: every process started here is stopped.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    seconds = args.seconds or (8.0 if args.quick else 30.0)
    warm = 2.0 if args.quick else 5.0
    limit_seconds = 2.0 if args.quick else 5.0
    profile_seconds = (
        0.0 if args.no_profile or not PY_SPY.exists() else (6.0 if args.quick else 15.0)
    )
    if not LOCUST.exists():
        parser.error(f"{LOCUST} is missing: pip install -e '.[bench]'")

    from tests.topology.stack import NGINX, Stack

    if not NGINX.exists():
        parser.error(f"{NGINX} is missing (scripts/ensure-system-packages installs it)")
    # Accounts: each iteration takes one of its run's range, never one of another run's.
    rounds = [(scenario, path) for scenario in SCENARIOS for path in PATHS]
    profiled = [(scenario, "two") for scenario in SCENARIOS] if profile_seconds else []
    per_second = {"sign-in": 150, "reset": 60}  # above anything 2 cores reach: ranges to spare
    ranges: list[tuple[str, str, int, int]] = []
    first = WARM_UP_ACCOUNTS
    for scenario, path in rounds + profiled:
        size = math.ceil(per_second[scenario] * (seconds + 10))
        ranges.append((scenario, path, first, size))
        first += size

    work = Path(tempfile.mkdtemp(prefix="sspr-bench-load-"))
    load_before, busy_before, wall_before = os.getloadavg()[0], machine_busy(), time.monotonic()
    figures: dict[str, Any] = {"accounts": first}
    runs: list[Run] = []
    limiter: Argon2Limit | None = None
    (work / "stack").mkdir()
    try:
        with Stack(work / "stack") as stack:
            apps = {f"app {i + 1}": app.process.pid for i, app in enumerate(stack.apps)}
            figures["rss_started"] = {n: proc_status(p).get("VmRSS", 0) for n, p in apps.items()}
            say(f"stack up: nginx {stack.base_url}, apps {[a.address for a in stack.apps]}")
            figures["load_seconds"] = load_users(stack, work, first)
            say(f"{first:,} users loaded in {figures['load_seconds']:.1f} s")
            from django.conf import settings

            params = (
                settings.ARGON2_TIME_COST,
                settings.ARGON2_MEMORY_KIB,
                settings.ARGON2_PARALLELISM,
            )
            figures["params"] = params
            limiter = Argon2Limit(params)
            figures["single"] = {
                op: limiter.measure(op, limit_seconds, workers=1) for op in ("hash", "verify")
            }
            warm_up(stack)
            time.sleep(2)
            figures["rss_rest"] = {n: proc_status(p).get("VmRSS", 0) for n, p in apps.items()}
            say(f"warmed up; at rest: {figures['rss_rest']}")
            ca = str(stack.nginx.tls_dir / "ca.pem")
            direct = [f"http://{app.address}" for app in stack.apps]
            targets = {"one": direct[:1], "two": direct, "nginx": [stack.base_url]}
            for number, (scenario, path, first_account, size) in enumerate(ranges):
                is_profile = number >= len(rounds)
                before = limiter.measure(SCENARIOS[scenario], limit_seconds)
                plan = {
                    "scenario": scenario,
                    "targets": targets[path],
                    "tenant": TENANT,
                    "domain": DOMAIN,
                    "password": PASSWORD,
                    "first_account": first_account,
                    "accounts": size,
                    "client_addresses": "bind" if path == "nginx" else "header",
                    "address_prefix": 10 + number,
                    "per_address": PER_ADDRESS,
                    "ca": ca if path == "nginx" else None,
                    "database_url": stack.postgres.url,
                }
                name = f"{number:02d}-{scenario}-{path}"
                stats_before = pg_stats(stack.postgres.url)
                records, samples, profiles = run_locust(
                    work,
                    stack,
                    name,
                    plan,
                    args.clients,
                    (profile_seconds + warm + 3) if is_profile else seconds,
                    warm,
                    profile=profile_seconds if is_profile else 0.0,
                )
                after = limiter.measure(SCENARIOS[scenario], limit_seconds)
                limit = Limit(
                    before.op,
                    2,
                    (before.per_second + after.per_second) / 2,
                    (before.median_ms + after.median_ms) / 2,
                    (before.per_second, after.per_second),
                    (before.cpu_ms + after.cpu_ms) / 2,
                )
                run = Run(scenario, path, args.clients, limit)
                summarise(run, records, samples, warm)
                stats_after = pg_stats(stack.postgres.url)
                run.pg_per_op = tuple(  # type: ignore[assignment]
                    (b - a) / max(1, len(records))
                    for a, b in zip(stats_before, stats_after, strict=True)
                )
                if is_profile:
                    figures[f"profile {scenario}"] = read_profile(list(profiles.values()))
                    figures[f"profile run {scenario}"] = run
                else:
                    runs.append(run)
                say(
                    f"{name}: {run.rate:.1f}/s, p50 {percentile(run.latencies, 0.5) * 1000:.0f} "
                    f"ms, limit {limit.per_second:.1f}/s → {run.ratio:.0%}; errors "
                    f"{len(run.errors)}" + (f" ({run.errors[0]})" if run.errors else "")
                )
            figures["connect"] = connection_cost(stack, 100 if args.quick else 300)
            figures["hwm"] = {n: proc_status(p).get("VmHWM", 0) for n, p in apps.items()}
            figures["rss_after"] = {n: proc_status(p).get("VmRSS", 0) for n, p in apps.items()}
            figures["versions"] = versions(stack)
    finally:
        if limiter is not None:
            limiter.close()
        if args.keep:
            say(f"kept {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)
    wall = time.monotonic() - wall_before
    figures["load"] = (load_before, wall, machine_busy() - busy_before)
    section = report(args, seconds, warm, runs, figures)
    print(section)
    if not args.no_write:
        write_section(SECTION, section)
        print(f"written to {RESULTS.relative_to(ROOT)}")
    return 0


def versions(stack: Any) -> str:
    nginx = tool_version([str(stack.nginx.process.args[0]), "-v"]).split("/")[-1]
    postgres = tool_version([str(stack.postgres.bindir / "postgres"), "--version"]).split()[2]
    redis = re.search(r"v=(\S+)", tool_version([stack.redis.binary, "--version"]))
    locust = tool_version([str(LOCUST), "--version"]).split()[1]
    return (
        f"nginx {nginx}, PostgreSQL {postgres}, Redis {redis.group(1) if redis else '?'}, "
        f"locust {locust}"
    )


# ------------------------------------------------------------------------------ report
def ms(values: list[float], fraction: float) -> float:
    return percentile(values, fraction) * 1000 if values else float("nan")


def report(
    args: argparse.Namespace, seconds: float, warm: float, runs: list[Run], f: dict[str, Any]
) -> str:
    t, m, p = f["params"]
    single = f["single"]
    rows = [
        "| Scenario | Path | per second | p50 / p99 (ms) | Argon2id limit, same run "
        "| against the limit | Argon2id's share of the service's CPU "
        "| CPU (cores): apps / nginx / PostgreSQL / Redis / locust / others | errors |",
        "|---|---|---:|---:|---:|---:|---:|---|---:|",
    ]
    for run in runs:
        c = run.cores
        op = "verifications" if run.limit.op == "verify" else "hashes"
        rows.append(
            f"| {run.scenario} | {PATHS[run.path]} | {run.rate:.1f} "
            f"| {ms(run.latencies, 0.5):.0f} / {ms(run.latencies, 0.99):.0f} "
            f"| {run.limit.per_second:.1f} {op}/s ({run.limit.around[0]:.0f}, "
            f"{run.limit.around[1]:.0f}) | **{run.ratio:.0%}** | {service_share(run):.0%} "
            f"| {c['app 1'] + c['app 2']:.2f} / {c['nginx']:.2f} / {c['PostgreSQL']:.2f} / "
            f"{c['Redis']:.2f} / {c['locust']:.2f} / {c['others']:.2f} | {len(run.errors)} |"
        )
    signins = [r for r in runs if r.scenario == "sign-in"]
    resets = [r for r in runs if r.scenario == "reset"]
    best_signin = max(signins, key=lambda r: r.rate)

    def app_ms(run: Run) -> float:
        """App CPU per operation, ms."""
        return (run.cores["app 1"] + run.cores["app 2"]) / run.rate * 1000 if run.rate else 0.0

    steps = ["start", "challenge (email code)", "code read from the outbox", "verify", "completion"]
    nginx_reset = next(r for r in resets if r.path == "nginx")
    step_line = ", ".join(
        f"{name} {ms(values, 0.5):.0f} ({ms(values, 0.99):.0f})"
        for name, values in zip(steps, nginx_reset.steps, strict=False)
    )
    per_op = "; ".join(
        f"{r.scenario} {PATHS[r.path].split(' ')[0] if r.path != 'nginx' else 'via nginx'} "
        f"{'(one process) ' if r.path == 'one' else ''}{app_ms(r):.0f} ms"
        for r in runs
    )
    pg_ms, client_ms = f["connect"]
    pg_line = "; ".join(
        f"{r.scenario} {r.path}: {r.pg_per_op[0]:.1f} sessions, {r.pg_per_op[1]:.1f} "
        f"transactions, {r.cores['PostgreSQL'] / r.rate * 1000:.0f} ms of PostgreSQL CPU"
        for r in runs
        if r.rate
    )
    busiest = max(runs, key=lambda r: r.cores["machine"])
    lines = [
        SECTION,
        "",
        f"- Date: {datetime.now(UTC):%Y-%m-%d %H:%M} UTC",
        f"- Machine: {machine()}; {f['versions']}",
        f"- Commit: {git_commit()}",
        f"- Other work on the machine: load average {f['load'][0]:.2f} at the start; the "
        'column "others" is what processes other than this run\'s used during each window',
        f"- Command: `.venv/bin/python bench/load.py{' --quick' if args.quick else ''}`"
        + (f" (--seconds {seconds:.0f})" if args.seconds else ""),
        f"- Stack: tests/topology/stack.py: PostgreSQL (fsync off), Redis, two `sspr serve` "
        "processes (one uvicorn worker each), nginx with docs/deploy/nginx-sspr.conf over TLS; "
        f"tenant of {f['accounts']:,} cloud users loaded with COPY in {f['load_seconds']:.1f} s",
        f"- Load: locust (bench/locustfile.py), {args.clients} clients without pauses, "
        f"{seconds:.0f} s per run of which the first {warm:.0f} s are not counted; every "
        "sign-in and every reset on a user of its own; each client from a loopback address of "
        f"its own, the next one after {PER_ADDRESS} resets (the per-address limits are 30 reset "
        "starts and 30 codes an hour)",
        f"- Limit: Argon2id with the service's parameters (t={t}, m={m} KiB, p={p}) in two "
        "worker processes, measured just before and just after each run (in brackets), the "
        "mean of the two taken as the run's limit (one worker, at the start: "
        f"{single['hash'].per_second:.1f} hashes/s, {single['verify'].per_second:.1f} "
        f"verifications/s, one of each {single['hash'].median_ms:.1f} / "
        f"{single['verify'].median_ms:.1f} ms, CPU {single['hash'].cpu_ms:.1f} / "
        f"{single['verify'].cpu_ms:.1f} ms). A sign-in costs one verification; a reset one "
        "hash (the new password's: no password history is checked, the start, the code and "
        "its check cost none)",
        "",
        *rows,
        "",
        f"Sign-ins: the best, {best_signin.rate:.1f}/s, is {best_signin.rate / 2:.1f}/s per "
        f"core; Keycloak's sizing guide plans {KEYCLOAK_PER_VCPU} per vCPU "
        f"({KEYCLOAK_PER_VCPU * 2}/s on two). App CPU per operation: {per_op}; one Argon2id "
        f"operation is {single['verify'].cpu_ms:.0f} ms of CPU of it.",
        "",
        f"A reset through nginx, per step, p50 (p99) in ms: {step_line}; the whole reset "
        f"{ms(nginx_reset.latencies, 0.5):.0f} ({ms(nginx_reset.latencies, 0.99):.0f}).",
        "",
        f"PostgreSQL per operation (pg_stat_database over the whole run; a reset's include "
        f"the load generator's own outbox read and a session per client): {pg_line}. One new "
        f"connection, opened and closed, costs PostgreSQL {pg_ms:.1f} ms of CPU and the client "
        f"{client_ms:.1f} ms (same run, {'100' if args.quick else '300'} of them): each of the "
        "service's threads keeps its own (sspr.web.serving), so a session is opened once per "
        "thread rather than once per request.",
        "",
        f"What limits it: the CPU. The machine was busy throughout (in the busiest window "
        f"{busiest.cores['machine']:.2f} of 2 cores, {busiest.cores['others']:.2f} of them "
        "other people's work). Argon2id's share of the service's CPU (one operation's CPU "
        "time against the CPU of the app processes, nginx, PostgreSQL and Redis per sign-in or "
        "reset) is the share of the limit the service would reach with the machine to itself; "
        "the rest is the app's own work per request and PostgreSQL's (the transactions above, "
        "the audit chain sealed under a lock on the tenant's chain head).",
        "",
        memory_line(f, runs),
        "",
        *profile_lines(f),
    ]
    errors = [e for r in runs for e in r.errors]
    if errors:
        lines += [f"Errors: {len(errors)}, the first: `{errors[0][:200]}`", ""]
    return "\n".join(lines)


def service_share(run: Run) -> float:
    """One Argon2id operation's CPU time against all the CPU the service spent per operation
    (app processes, nginx, PostgreSQL, Redis): the share of the limit the service would reach
    with the machine to itself, whatever else ran on it during this run."""
    parts = ("app 1", "app 2", "nginx", "PostgreSQL", "Redis")
    spent = sum(run.cores[p] for p in parts) / run.rate if run.rate else 0.0
    return run.limit.cpu_ms / 1000 / spent if spent else 0.0


def memory_line(f: dict[str, Any], runs: list[Run]) -> str:
    apps = sorted(f["rss_rest"])
    peak = {a: max(r.rss_peak.get(a, 0) for r in runs) for a in apps}
    return (
        "Memory of the app processes (VmRSS): "
        + "; ".join(
            f"{a}: {mib(f['rss_started'][a])} after its start, {mib(f['rss_rest'][a])} at rest "
            f"after a warm-up, {mib(peak[a])} at most under load (high-water mark "
            f"{mib(f['hwm'][a])}), {mib(f['rss_after'][a])} after the runs"
            for a in apps
        )
        + '. The agent\'s during a sync of 100,000 users: see "Hybrid" (bench/hybrid.py).'
    )


def profile_lines(f: dict[str, Any]) -> list[str]:
    out: list[str] = []
    for scenario in SCENARIOS:
        found: Profile | None = f.get(f"profile {scenario}")
        run: Run | None = f.get(f"profile run {scenario}")
        if not found or not found.samples or run is None:
            continue
        total = found.samples

        def pct(count: int, total: int = total) -> str:
            return f"{count / total:.0%}"

        kinds = ", ".join(f"{name} {pct(n)}" for name, n in found.kinds.most_common())
        topics = ", ".join(
            f"{name} {pct(found.topics[name])} (waiting for PostgreSQL "
            f"{pct(found.topics_waiting[name])})"
            for name in TOPICS
            if found.topics[name]
        )
        # Functions under every request (middleware, the API's wrappers) say nothing.
        functions = ", ".join(
            f"`{name}` {pct(n)} ({pct(found.functions_waiting[name])} waiting)"
            for name, n in found.functions.most_common()
            if n / total >= 0.04 and not name.startswith(EVERY_REQUEST)
        )
        out += [
            f"Where a {scenario}'s time goes: py-spy sampled both app processes for "
            f"{run.window:.0f} s ({PATHS['two']}, {run.rate:.1f}/s); of {total:,} samples of "
            f"request threads at work (idle threads and the waiting event loop left out), the "
            f"running frame was in: {kinds}. On the stack: {topics}. Functions of opensspr in "
            f"4% of the samples or more (of which waiting for PostgreSQL): {functions}.",
            "",
        ]
    return out


if __name__ == "__main__":
    raise SystemExit(main())
