"""``sspr-agent``: enroll, run, status.

Exit codes: 0 done; 1 the service or the directory failed at run time; 2 a usage or
configuration error, told in one line.
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import json
import logging
import os
import signal
import socket
import sys
import threading
import time
import urllib.parse
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from types import FrameType
from typing import IO, Any, NoReturn

from nacl.public import PrivateKey
from nacl.signing import SigningKey, VerifyKey

from sspr_agent import __version__
from sspr_agent.channel import Channel, ChannelError, ssl_context
from sspr_agent.config import (
    DIRECTORY_KINDS,
    AgentConfig,
    ConfigError,
    DirectorySettings,
    StateStore,
    read_password_file,
)
from sspr_agent.directory.base import Directory, DirectoryConfig
from sspr_agent.sync import DELTA, FULL, Syncer, SyncInterrupted
from sspr_agent.writeback import Executor
from sspr_protocol.messages import Heartbeat

log = logging.getLogger("sspr_agent")

CAPABILITIES = ["sync", "writeback", "unlock", "passthrough"]
HEARTBEAT_INTERVAL = 30.0
POLL_WAIT = 25
INSECURE_WARNING = (
    "WARNING: TLS certificate verification is OFF (--insecure-tls). Anyone on the network path "
    "can impersonate the service or the directory. Use this only in a lab."
)


class UsageError(Exception):
    """Exit 2 with this one line."""


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: error: {message}\n")


def _open_directory(config: DirectoryConfig) -> Directory:
    """The directory for `config` (directory/__init__.py). Tests replace this function."""
    from sspr_agent import directory as package

    opener = getattr(package, "open_directory", None)
    if opener is None:
        raise ConfigError("this build of sspr-agent has no directory support (open_directory)")
    result: Directory = opener(config)
    return result


def _scrub(text: str, *secrets: str) -> str:
    for secret in secrets:
        if secret:
            text = text.replace(secret, "***")
    return text


# enroll


def cmd_enroll(args: argparse.Namespace, out: IO[str], err: IO[str]) -> int:
    config_path = Path(args.config).absolute()
    if config_path.exists() and not args.force:
        raise UsageError(
            f"{config_path} exists: this agent is enrolled already (--force to "
            "enroll again with new keys)"
        )
    if not config_path.parent.is_dir():
        raise UsageError(f"directory {config_path.parent} does not exist")
    if args.ca_file and not Path(args.ca_file).is_file():
        raise UsageError(f"CA file {args.ca_file} does not exist")
    _check_url(args.url, ("https", "http"), "--url")
    _check_url(args.ldap_url, ("ldaps", "ldap"), "--ldap-url")
    if args.insecure_tls:
        print(INSECURE_WARNING, file=err)
    bind_password = read_password_file(Path(args.bind_password_file))
    ca_file = str(Path(args.ca_file).absolute()) if args.ca_file else ""

    settings = DirectorySettings(
        kind=args.kind,
        url=args.ldap_url,
        bind_dn=args.bind_dn,
        base_dn=args.base_dn,
        bind_password=bind_password,
        user_filter=args.filter or "",
    )
    directory_config = DirectoryConfig(
        kind=args.kind,
        url=args.ldap_url,
        bind_dn=args.bind_dn,
        bind_password=bind_password,
        base_dn=args.base_dn,
        user_filter=args.filter or "",
        ca_file=ca_file,
        insecure_tls=args.insecure_tls,
    )
    print(f"checking the directory: binding to {args.ldap_url} as {args.bind_dn} ...", file=out)
    problem = _check_directory(directory_config)
    if problem:
        raise UsageError(
            _scrub(
                f"cannot bind to the directory at {args.ldap_url} as {args.bind_dn}: {problem}",
                bind_password,
            )
        )
    print("directory: bind ok", file=out)

    signing_key = SigningKey.generate()
    box_key = PrivateKey.generate()
    channel = Channel(args.url, context=ssl_context(ca_file, args.insecure_tls))
    payload = {
        "token": args.token,
        "name": args.name or socket.gethostname(),
        "agent_version": __version__,
        "directory_kind": args.kind,
        "sign_public_key": _b64(signing_key.verify_key.encode()),
        "box_public_key": _b64(box_key.public_key.encode()),
        "capabilities": CAPABILITIES,
    }
    try:
        answer = channel.enroll(payload)
    except ChannelError as exc:
        print(f"sspr-agent: enrolment failed: {_scrub(str(exc), args.token)}", file=err)
        return 1
    agent_id = str(answer.get("agent_id") or "")
    service_key = str(answer.get("service_sign_public_key") or "")
    if not agent_id or not _is_key(service_key):
        print(
            "sspr-agent: enrolment failed: the service's answer lacks an agent id or a valid "
            "signing key",
            file=err,
        )
        return 1
    config = AgentConfig(
        path=config_path,
        service_url=args.url.rstrip("/"),
        agent_id=agent_id,
        tenant=str(answer.get("tenant") or ""),
        name=str(payload["name"]),
        sign_private_key=_b64(bytes(signing_key)),
        box_private_key=_b64(bytes(box_key)),
        service_sign_public_key=service_key,
        directory=settings,
        ca_file=ca_file,
        insecure_tls=args.insecure_tls,
        enrolled_at=time.time(),
    )
    config.save()
    print(f"enrolled: agent {agent_id} for tenant {config.tenant or '?'}", file=out)
    print(
        f"configuration written to {config_path} (mode 0600; it holds the agent's private "
        "keys and the bind password)",
        file=out,
    )
    print(f"next: sspr-agent run --config {config_path}", file=out)
    return 0


def _check_directory(config: DirectoryConfig) -> str:
    """ "" when a bind and a read work, else why not (never the password)."""
    try:
        directory = _open_directory(config)
    except ConfigError as exc:
        return str(exc)
    except Exception as exc:  # noqa: BLE001 - whatever the library raises, say it in one line
        return f"{exc.__class__.__name__}: {str(exc)[:200]}"
    try:
        directory.cursor()
    except Exception as exc:  # noqa: BLE001
        return f"{exc.__class__.__name__}: {str(exc)[:200]}"
    finally:
        with contextlib.suppress(Exception):
            directory.close()
    return ""


def _check_url(url: str, schemes: tuple[str, ...], option: str) -> None:
    parts = urllib.parse.urlsplit(url)
    if parts.scheme not in schemes or not parts.netloc:
        raise UsageError(f"{option} must be a {' or '.join(s + '://' for s in schemes)} URL")


def _b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode()


def _is_key(value: str) -> bool:
    try:
        return len(base64.b64decode(value, validate=True)) == 32
    except ValueError:
        return False


# run


class DirectoryPool:
    """One directory connection per thread (LDAP connections are not shared across threads)."""

    def __init__(self, factory: Callable[[], Directory]) -> None:
        self._factory = factory
        self._local = threading.local()
        self._lock = threading.Lock()
        self._open: list[Directory] = []

    def get(self) -> Directory:
        directory: Directory | None = getattr(self._local, "directory", None)
        if directory is None:
            directory = self._factory()
            self._local.directory = directory
            with self._lock:
                self._open.append(directory)
        return directory

    def discard(self) -> None:
        directory: Directory | None = getattr(self._local, "directory", None)
        self._local.directory = None
        if directory is not None:
            with self._lock:
                if directory in self._open:
                    self._open.remove(directory)
            with contextlib.suppress(Exception):
                directory.close()

    def close_all(self) -> None:
        with self._lock:
            opened, self._open = self._open, []
        for directory in opened:
            with contextlib.suppress(Exception):
                directory.close()


class Agent:
    """The main loop: heartbeats, the long poll feeding a small pool, and scheduled syncs."""

    def __init__(
        self,
        config: AgentConfig,
        *,
        state: StateStore,
        channel: Channel,
        directory: Callable[[], Directory],
        workers: int = 4,
        sync_interval: float = 120.0,
        heartbeat_interval: float = HEARTBEAT_INTERVAL,
        poll_wait: int = POLL_WAIT,
        out: Callable[[str], None] | None = None,
    ) -> None:
        self.config = config
        self.state = state
        self.channel = channel
        self.pool = DirectoryPool(directory)
        self.workers = workers
        self.sync_interval = sync_interval
        self.heartbeat_interval = heartbeat_interval
        self.poll_wait = poll_wait
        self._out = out or (lambda line: None)
        self.stop = threading.Event()
        self._sync_wake = threading.Event()
        self._sync_request: str | None = None
        self._syncing = False
        self._in_flight = 0
        self._lock = threading.Lock()
        self.executor = Executor(
            channel=channel,
            state=state,
            service_key=VerifyKey(base64.b64decode(config.service_sign_public_key)),
            box_key=PrivateKey(base64.b64decode(config.box_private_key)),
            directory=self.pool.get,
            discard=self.pool.discard,
        )
        self.syncer = Syncer(
            channel=channel,
            state=state,
            directory=self.pool.get,
            progress=self._out,
            stop=self.stop,
        )
        self._commands: ThreadPoolExecutor | None = None

    def run(self) -> int:
        """Until `stop` is set; then finish the commands in flight and return 0."""
        with self.state.update() as s:
            s["agent"].update(
                {
                    "pid": os.getpid(),
                    "state": "starting",
                    "version": __version__,
                    "started_at": time.time(),
                    "stopped_at": None,
                    "in_flight": 0,
                }
            )
        self._out(
            f"sspr-agent {__version__}: agent {self.config.agent_id} for tenant "
            f"{self.config.tenant or '?'} -> {self.config.service_url}"
        )
        self._commands = ThreadPoolExecutor(self.workers, thread_name_prefix="sspr-command")
        threads = [
            threading.Thread(target=self._heartbeats, name="sspr-heartbeat", daemon=True),
            threading.Thread(target=self._syncs, name="sspr-sync", daemon=True),
        ]
        poller = threading.Thread(target=self._poll, name="sspr-poll", daemon=True)
        for thread in threads:
            thread.start()
        poller.start()
        try:
            while not self.stop.wait(1.0):
                pass
        finally:
            self.stop.set()
            self._sync_wake.set()
            self._out("stopping: finishing the commands in flight ...")
            self._commands.shutdown(wait=True)
            for thread in threads:
                thread.join(timeout=30)
            # The poller may sit in a long poll; what it would still receive is never started,
            # and the service hands it to another agent once our heartbeats stop.
            poller.join(timeout=1)
            self.pool.close_all()
            with self.state.update() as s:
                s["agent"].update({"state": "stopped", "stopped_at": time.time(), "in_flight": 0})
            self._out("stopped")
        return 0

    # Commands.

    def _poll(self) -> None:
        delay = 1.0
        while not self.stop.is_set():
            try:
                envelopes = self.channel.poll_commands(wait=self.poll_wait)
            except ChannelError as exc:
                if exc.status == 401:
                    log.error(
                        "agent.poll.unauthenticated: %s (revoked agent, or the clock is "
                        "off by more than 300 s?)",
                        exc,
                    )
                else:
                    log.warning("agent.poll.failed: %s", exc)
                self.state.record_error("channel", str(exc))
                self.stop.wait(delay)
                delay = min(delay * 2, 60.0)
                continue
            delay = 1.0
            for envelope in envelopes:
                if self.stop.is_set():
                    break
                with self._lock:
                    self._in_flight += 1
                try:
                    assert self._commands is not None
                    self._commands.submit(self._execute, envelope)
                except RuntimeError:  # the pool is shutting down
                    with self._lock:
                        self._in_flight -= 1
                    break

    def _execute(self, envelope: dict[str, Any]) -> None:
        try:
            self.executor.execute(envelope)
        except Exception as exc:  # noqa: BLE001 - one bad command must not stop the agent
            log.error("agent.command.crashed %s", exc.__class__.__name__)
            self.state.record_error("writeback", f"command crashed: {exc.__class__.__name__}")
        finally:
            with self._lock:
                self._in_flight -= 1

    # Heartbeats.

    def _heartbeats(self) -> None:
        while not self.stop.is_set():
            self.heartbeat()
            self.stop.wait(self.heartbeat_interval)

    def heartbeat(self) -> None:
        snapshot = self.state.snapshot()
        last_run = snapshot["sync"].get("last_run") or {}
        recent_error = any(
            time.time() - float(e.get("at", 0)) < 2 * self.heartbeat_interval
            for e in snapshot["errors"][-3:]
        )
        state = "syncing" if self._syncing else ("error" if recent_error else "idle")
        with self._lock:
            in_flight = self._in_flight
        detail = {
            "name": self.config.name,
            "directory_kind": self.config.directory.kind,
            "in_flight": in_flight,
            "workers": self.workers,
            "commands": snapshot["agent"].get("commands", {}),
            "sync": {
                k: last_run.get(k)
                for k in ("mode", "status", "objects", "errors", "finished_at", "rate")
            },
            "sync_cursor": snapshot["sync"].get("cursor", ""),
        }
        now = time.time()
        try:
            answer = self.channel.heartbeat(
                Heartbeat(
                    agent_version=__version__, capabilities=CAPABILITIES, state=state, detail=detail
                )
            )
        except ChannelError as exc:
            log.warning("agent.heartbeat.failed: %s", exc)
            with self.state.update() as s:
                s["agent"].update(
                    {
                        "state": state,
                        "in_flight": in_flight,
                        "updated_at": now,
                        "last_heartbeat_error": str(exc),
                    }
                )
            return
        with self.state.update() as s:
            s["agent"].update(
                {
                    "state": state,
                    "in_flight": in_flight,
                    "updated_at": now,
                    "last_heartbeat_at": now,
                    "last_heartbeat_error": "",
                }
            )
        wanted = answer.get("sync")
        if wanted in (FULL, DELTA):
            self.request_sync(str(wanted))

    # Sync.

    def request_sync(self, mode: str) -> None:
        with self._lock:
            if self._sync_request != FULL:  # a full one asked for stays full
                self._sync_request = mode
        self._sync_wake.set()

    def _syncs(self) -> None:
        try:
            mode, cursor = self.syncer.initial_mode()
        except Exception as exc:  # noqa: BLE001
            log.warning("agent.sync.start_failed %s", exc.__class__.__name__)
            mode, cursor = FULL, ""
        retry_after = min(self.sync_interval, 60.0)
        while not self.stop.is_set():
            with self._lock:
                asked, self._sync_request = self._sync_request, None
            if asked == FULL or (asked == DELTA and mode != FULL):
                mode = asked
            ok = self._sync_once(mode, cursor)
            if ok:  # from now on, deltas from the cursor in the state file
                mode, cursor = DELTA, ""
            self._sync_wake.wait(self.sync_interval if ok else retry_after)
            self._sync_wake.clear()

    def _sync_once(self, mode: str, cursor: str) -> bool:
        self._syncing = True
        try:
            self.syncer.run(mode, cursor)
            return True
        except SyncInterrupted:
            return False
        except ChannelError as exc:
            log.warning("agent.sync.failed mode=%s: %s", mode, exc)
            return False
        except Exception as exc:  # noqa: BLE001 - a directory failure waits for the next turn
            log.warning("agent.sync.failed mode=%s: %s", mode, exc.__class__.__name__)
            self.pool.discard()
            return False
        finally:
            self._syncing = False


@contextlib.contextmanager
def _run_lock(path: Path) -> Iterator[None]:
    """One `run` per configuration: two agents sharing a journal would defeat it."""
    try:
        import fcntl
    except ImportError:  # pragma: no cover - Windows
        yield
        return
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            raise UsageError(
                f"another sspr-agent is running with this configuration (lock {path})"
            ) from None
        yield
    finally:
        os.close(fd)


def cmd_run(args: argparse.Namespace, out: IO[str], err: IO[str]) -> int:
    config = AgentConfig.load(Path(args.config))
    interval = args.sync_interval or config.sync_interval
    if interval < 10:
        raise UsageError("--sync-interval must be at least 10 seconds")
    if args.workers < 1 or args.workers > 32:
        raise UsageError("--workers must be between 1 and 32")
    if config.insecure_tls:
        print(INSECURE_WARNING, file=err)
        log.warning("agent.tls.insecure verification disabled by configuration")
    host = urllib.parse.urlsplit(config.service_url).hostname or ""
    if config.service_url.startswith("http://") and host not in ("127.0.0.1", "localhost", "::1"):
        log.warning("agent.tls.none the service URL is not HTTPS")
    directory_config = config.directory_config()  # reads a bind password file now: fail early
    channel = Channel(
        config.service_url,
        agent_id=config.agent_id,
        signing_key=SigningKey(base64.b64decode(config.sign_private_key)),
        context=ssl_context(config.ca_file, config.insecure_tls),
    )

    def say(line: str) -> None:
        print(line, file=out, flush=True)

    with _run_lock(config.state_path.with_name(config.state_path.name + ".lock")):
        agent = Agent(
            config,
            state=StateStore(config.state_path),
            channel=channel,
            directory=lambda: _open_directory(directory_config),
            workers=args.workers,
            sync_interval=interval,
            out=say,
        )
        with _stop_on_signals(agent.stop):
            return agent.run()


@contextlib.contextmanager
def _stop_on_signals(stop: threading.Event) -> Iterator[None]:
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def handler(signum: int, frame: FrameType | None) -> None:
        stop.set()

    previous = {sig: signal.signal(sig, handler) for sig in (signal.SIGTERM, signal.SIGINT)}
    try:
        yield
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old)


# status


def cmd_status(args: argparse.Namespace, out: IO[str], err: IO[str]) -> int:
    config = AgentConfig.load(Path(args.config))
    report = status_report(config)
    if args.json:
        print(json.dumps(report, indent=2, sort_keys=True), file=out)
        return 0
    for line in _status_lines(report):
        print(line, file=out)
    return 0


def status_report(config: AgentConfig) -> dict[str, Any]:
    """What `status` says, as data. No secret: no key, no bind password."""
    path = config.state_path
    state = _read_state(path)
    agent = state.get("agent", {})
    pid = agent.get("pid")
    running = agent.get("state") not in (None, "stopped") and isinstance(pid, int) and _alive(pid)
    d = config.directory
    sync = state.get("sync", {})
    return {
        "config": str(config.path),
        "state_file": str(path),
        "agent_id": config.agent_id,
        "tenant": config.tenant,
        "name": config.name,
        "service_url": config.service_url,
        "tls": _tls_words(config),
        "directory": {
            "kind": d.kind,
            "url": d.url,
            "bind_dn": d.bind_dn,
            "base_dn": d.base_dn,
            "filter": d.user_filter,
        },
        "running": running,
        "agent": {
            k: agent.get(k)
            for k in (
                "pid",
                "state",
                "version",
                "started_at",
                "stopped_at",
                "updated_at",
                "last_heartbeat_at",
                "last_heartbeat_error",
                "in_flight",
                "commands",
                "last_command",
            )
        },
        "journal_entries": len(state.get("journal", {})),
        "sync": {
            k: sync.get(k)
            for k in (
                "cursor",
                "current",
                "in_progress",
                "last_run",
                "last_full",
                "last_full_at",
                "last_delta",
                "last_delta_at",
                "object_errors",
            )
        },
        "errors": state.get("errors", [])[-10:],
    }


def _tls_words(config: AgentConfig) -> str:
    if config.service_url.startswith("http://"):
        return "none: plain http"
    if config.insecure_tls:
        return "INSECURE, verification off"
    return f"verified, CA file {config.ca_file}" if config.ca_file else "verified"


def _read_state(path: Path) -> dict[str, Any]:
    # Read-only: `status` never rewrites or moves the state file of a running agent.
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        data = {}
    except (OSError, ValueError):
        raise ConfigError(f"state file {path} is unreadable") from None
    state: dict[str, Any] = {"agent": {}, "journal": {}, "sync": {}, "errors": []}
    if isinstance(data, dict):
        for key, empty in state.items():
            if isinstance(data.get(key), type(empty)):
                state[key] = data[key]
    return state


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:
        return True  # exists, owned by someone else
    return True


def _ago(at: Any) -> str:
    if not isinstance(at, int | float) or not at:
        return "never"
    seconds = max(0, time.time() - float(at))
    stamp = time.strftime("%Y-%m-%d %H:%M:%SZ", time.gmtime(float(at)))
    if seconds < 90:
        return f"{seconds:.0f} s ago ({stamp})"
    if seconds < 5400:
        return f"{seconds / 60:.0f} min ago ({stamp})"
    if seconds < 172800:
        return f"{seconds / 3600:.0f} h ago ({stamp})"
    return stamp


def _run_line(run: dict[str, Any]) -> str:
    return (
        f"{run.get('mode')} {str(run.get('sync_id', ''))[:8]}: {run.get('objects', 0)} "
        f"objects in {run.get('batches', 0)} batches, {run.get('errors', 0)} object errors, "
        f"{run.get('rate', 0)}/s — {run.get('status')}"
    )


def _status_lines(r: dict[str, Any]) -> list[str]:
    a, s, d = r["agent"], r["sync"], r["directory"]
    lines = [
        f"agent      {r['name'] or '?'} — id {r['agent_id']}, tenant {r['tenant'] or '?'}",
        f"service    {r['service_url']} (TLS {r['tls']})",
        f"directory  {d['kind']} {d['url']} as {d['bind_dn']}, base {d['base_dn']}"
        + (f", filter {d['filter']}" if d["filter"] else ""),
    ]
    if r["running"]:
        lines.append(
            f"state      running (pid {a['pid']}), {a.get('state')}, "
            f"{a.get('in_flight') or 0} commands in flight; last heartbeat "
            f"{_ago(a.get('last_heartbeat_at'))}"
        )
        if a.get("last_heartbeat_error"):
            lines.append(f"           heartbeat failing: {a['last_heartbeat_error']}")
    elif a.get("stopped_at"):
        lines.append(f"state      not running (stopped {_ago(a.get('stopped_at'))})")
    elif a.get("state"):
        lines.append("state      not running (did not stop cleanly)")
    else:
        lines.append("state      never run")
    counts = a.get("commands") or {}
    if counts:
        total = sum(counts.values())
        each = ", ".join(f"{k} {v}" for k, v in sorted(counts.items()))
        last = a.get("last_command") or {}
        lines.append(
            f"commands   {total} executed ({each}); last {last.get('kind')} "
            f"{last.get('outcome')} {_ago(last.get('at'))}"
        )
    else:
        lines.append("commands   none executed")
    if s.get("current"):
        lines.append(f"sync now   {_run_line(s['current'])}")
    elif s.get("in_progress"):
        lines.append(
            f"sync       interrupted full sync, resumes at next run: {_run_line(s['in_progress'])}"
        )
    for mode in (FULL, DELTA):
        run = s.get(f"last_{mode}")
        if run:
            lines.append(f"last {mode:<5} {_ago(s.get(f'last_{mode}_at'))}: {_run_line(run)}")
    if not s.get("last_full") and not s.get("last_delta"):
        lines.append("sync       no sync completed yet")
    last_run = s.get("last_run") or {}
    if last_run.get("status") in ("failed", "interrupted"):
        lines.append(f"last sync  {_run_line(last_run)}")
    if s.get("cursor"):
        lines.append(f"cursor     {s['cursor']}")
    errors = r["errors"]
    if errors:
        lines.append(f"errors     {len(errors)} recent:")
        lines.extend(
            f"  {_ago(e.get('at'))} [{e.get('where')}] {e.get('message')}" for e in errors[-5:]
        )
    else:
        lines.append("errors     none")
    return lines


# the command line


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="sspr-agent", description="opensspr on-premises agent")
    parser.add_argument("--version", action="version", version=f"sspr-agent {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    enroll = sub.add_parser("enroll", help="register this agent and write its configuration")
    enroll.add_argument("--url", required=True, help="the service, https://...")
    enroll.add_argument("--token", required=True, help="one-time enrolment token")
    enroll.add_argument("--config", required=True, help="configuration file to write")
    enroll.add_argument("--kind", required=True, choices=DIRECTORY_KINDS)
    enroll.add_argument("--ldap-url", required=True, help="ldaps://dc.example.com")
    enroll.add_argument("--bind-dn", required=True)
    enroll.add_argument(
        "--bind-password-file", required=True, help="file whose first line is the bind password"
    )
    enroll.add_argument("--base-dn", required=True)
    enroll.add_argument("--filter", default="", help="extra LDAP filter scoping the users")
    tls = enroll.add_mutually_exclusive_group()
    tls.add_argument(
        "--ca-file",
        default="",
        help="PEM CA bundle trusted for the service and the directory, besides the system's",
    )
    tls.add_argument(
        "--insecure-tls", action="store_true", help="disable TLS verification (lab only)"
    )
    enroll.add_argument("--name", default="", help="this agent's name (default: host name)")
    enroll.add_argument("--force", action="store_true", help="overwrite an existing config")

    run = sub.add_parser("run", help="connect outbound and serve")
    run.add_argument("--config", required=True)
    run.add_argument(
        "--sync-interval",
        type=int,
        default=0,
        help="seconds between delta syncs (default: the config's, 120)",
    )
    run.add_argument("--workers", type=int, default=4, help="commands run at once (default 4)")
    run.add_argument("-v", "--verbose", action="store_true")

    status = sub.add_parser("status", help="what the agent is doing, its last sync and errors")
    status.add_argument("--config", required=True)
    status.add_argument("--json", action="store_true")
    return parser


COMMANDS: dict[str, Callable[[argparse.Namespace, IO[str], IO[str]], int]] = {
    "enroll": cmd_enroll,
    "run": cmd_run,
    "status": cmd_status,
}


def main(argv: Sequence[str] | None = None) -> int:
    try:
        args = build_parser().parse_args(argv)
    except SystemExit as exc:  # --help, --version, or a usage error already told
        return exc.code if isinstance(exc.code, int) else 2
    if args.command == "run" and not logging.getLogger().handlers:
        logging.basicConfig(
            level=logging.DEBUG if args.verbose else logging.INFO,
            format="%(asctime)s %(levelname)s %(name)s %(message)s",
            stream=sys.stderr,
        )
    try:
        return COMMANDS[args.command](args, sys.stdout, sys.stderr)
    except (UsageError, ConfigError) as exc:
        print(f"sspr-agent: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
