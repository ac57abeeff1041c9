"""The agent's run loop: heartbeats, the long poll feeding a small pool of command workers,
and scheduled syncs, until a signal stops it; one run per configuration."""

from __future__ import annotations

import base64
import contextlib
import logging
import os
import signal
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from types import FrameType
from typing import Any

from nacl.public import PrivateKey
from nacl.signing import VerifyKey

from sspr_agent import __version__
from sspr_agent.channel import Channel, ChannelError
from sspr_agent.config import AgentConfig, StateStore
from sspr_agent.directory.base import Directory
from sspr_agent.sync import DELTA, FULL, Syncer, SyncInterrupted
from sspr_agent.writeback import Executor
from sspr_protocol.messages import Heartbeat

log = logging.getLogger("sspr_agent")

CAPABILITIES = ["sync", "writeback", "unlock", "passthrough"]
HEARTBEAT_INTERVAL = 15.0
POLL_WAIT = 25
# The next long poll waits (this long at most) until the commands the last one brought have had
# their `start` answered: sent at once it only competed with them in the service, and whatever is
# queued meanwhile is claimed by it all the same.
START_WAIT = 1.0


class AlreadyRunning(Exception):
    """Another `run` holds this configuration's lock."""


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
        self._sync_seen = ""  # the last sync request acted on
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
            self.heartbeat(stopping=True)  # not live any more: no command is sent to us
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
                polled = self.channel.poll_commands(self.poll_wait, self._sync_seen)
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
            self._asked_to_sync(polled.sync, polled.sync_request)
            starting: list[threading.Event] = []
            for envelope in polled.commands:
                if self.stop.is_set():
                    break
                with self._lock:
                    self._in_flight += 1
                begun = threading.Event()
                try:
                    assert self._commands is not None
                    self._commands.submit(self._execute, envelope, begun)
                except RuntimeError:  # the pool is shutting down
                    with self._lock:
                        self._in_flight -= 1
                    break
                starting.append(begun)
            deadline = time.monotonic() + START_WAIT
            for begun in starting:
                begun.wait(max(0.0, deadline - time.monotonic()))

    def _execute(self, envelope: dict[str, Any], begun: threading.Event) -> None:
        try:
            self.executor.execute(envelope, begun.set)
        except Exception as exc:  # noqa: BLE001 - one bad command must not stop the agent
            log.error("agent.command.crashed %s", exc.__class__.__name__)
            self.state.record_error("writeback", f"command crashed: {exc.__class__.__name__}")
        finally:
            begun.set()
            with self._lock:
                self._in_flight -= 1

    # Heartbeats.

    def _heartbeats(self) -> None:
        while not self.stop.is_set():
            self.heartbeat()
            self.stop.wait(self.heartbeat_interval)

    def heartbeat(self, stopping: bool = False) -> None:
        snapshot = self.state.snapshot()
        last_run = snapshot["sync"].get("last_run") or {}
        recent_error = any(
            time.time() - float(e.get("at", 0)) < 2 * self.heartbeat_interval
            for e in snapshot["errors"][-3:]
        )
        state = "syncing" if self._syncing else ("error" if recent_error else "idle")
        if stopping:
            state = "stopped"
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
        self._asked_to_sync(str(answer.get("sync")), str(answer.get("sync_request") or ""))

    # Sync.

    def _asked_to_sync(self, mode: str, request_id: str) -> None:
        """A sync an administrator asked for, told by the long poll and by heartbeats until the
        service sees it begun: acted on once per request."""
        if mode not in (FULL, DELTA) or not request_id:
            return
        with self._lock:
            if request_id == self._sync_seen:
                return
            self._sync_seen = request_id
        self.request_sync(mode)

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
def run_lock(path: Path) -> Iterator[None]:
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
            raise AlreadyRunning(
                f"another sspr-agent is running with this configuration (lock {path})"
            ) from None
        yield
    finally:
        os.close(fd)


@contextlib.contextmanager
def stop_on_signals(stop: threading.Event) -> Iterator[None]:
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
