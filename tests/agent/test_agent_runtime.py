"""The agent against a fake service (a local HTTP server following docs/agent-channel.md) and a
fake in-memory directory: enrolment, signed writeback, expiry, idempotency, sync, status, and
no secret in any log or state file."""

from __future__ import annotations

import base64
import hashlib
import json
import logging
import os
import signal
import stat
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import asdict
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from nacl.exceptions import BadSignatureError
from nacl.public import PublicKey, SealedBox
from nacl.signing import SigningKey, VerifyKey

from sspr_agent import cli, journal, runtime
from sspr_agent.channel import Channel
from sspr_agent.config import AgentConfig, StateStore
from sspr_agent.directory.base import DirectoryConfig, OperationResult, Page
from sspr_agent.journal import journal_path_for
from sspr_agent.sync import DELTA, FULL, Syncer, SyncInterrupted
from sspr_agent.writeback import Executor
from sspr_protocol.messages import Outcome, UserRecord, canonical

BIND_PASSWORD = "Bind-Secret-Pa55!"
TOKEN = "enrol-token-5f4dcc3b5aa765d61d8327deb882cf99"
NEW_PASSWORD = "N3w-Passw0rd-Zebra!"
OLD_PASSWORD = "0ld-Passw0rd-Llama!"
ALICE_DN = "CN=Alice,OU=Staff,DC=contoso,DC=com"


# A fake directory.


class FakeDirectory:
    """In memory, thread-safe; records every write and every read of changes."""

    def __init__(self, users: int = 3) -> None:
        self.lock = threading.Lock()
        self.users = [
            UserRecord(
                anchor=f"anchor-{i}", dn=f"CN=U{i},DC=contoso,DC=com", upn=f"u{i}@contoso.com"
            )
            for i in range(users)
        ]
        self.passwords: dict[str, str] = {ALICE_DN: OLD_PASSWORD}
        self.writes: list[tuple[str, str]] = []  # (operation, dn)
        self.received: list[str] = []  # passwords handed to the directory
        self.timeline: list[str] | None = None
        self.usn = 100
        self.changes_since: list[str] = []
        self.changed: list[UserRecord] = []
        self.closed = 0
        self.slow = 0.0

    # Sync.

    def cursor(self) -> str:
        return str(self.usn)

    def read_all(self, page_size: int = 1000) -> Iterator[Page]:
        for start in range(0, len(self.users), page_size):
            self.usn += 1  # someone changes the directory while it is read
            yield Page(users=self.users[start : start + page_size], groups=[], deleted_anchors=[])

    def read_changes(self, cursor: str, page_size: int = 1000) -> Iterator[Page]:
        self.changes_since.append(cursor)
        if self.changed:
            yield Page(users=list(self.changed), groups=[], deleted_anchors=["gone-1"])

    # Writeback.

    def _write(self, operation: str, dn: str) -> None:
        with self.lock:
            self.writes.append((operation, dn))
            if self.timeline is not None:
                self.timeline.append(f"directory:{operation}")

    def reset_password(self, dn: str, new_password: str, must_change: bool) -> OperationResult:
        time.sleep(self.slow)
        self._write("reset_password", dn)
        self.received.append(new_password)
        self.passwords[dn] = new_password
        return OperationResult(Outcome.OK, "password set")

    def change_password(self, dn: str, old_password: str, new_password: str) -> OperationResult:
        self.received += [old_password, new_password]
        if self.passwords.get(dn) != old_password:
            return OperationResult(Outcome.WRONG_PASSWORD, "invalidCredentials")
        self._write("change_password", dn)
        self.passwords[dn] = new_password
        return OperationResult(Outcome.OK)

    def unlock(self, dn: str) -> OperationResult:
        self._write("unlock", dn)
        return OperationResult(Outcome.OK)

    def verify_credentials(self, dn: str, password: str) -> OperationResult:
        self.received.append(password)
        if self.passwords.get(dn) == password:
            return OperationResult(Outcome.OK)
        return OperationResult(Outcome.WRONG_PASSWORD, "invalidCredentials")

    def close(self) -> None:
        self.closed += 1


# A fake service.


class FakeService:
    """The service side of the contract, enough to exercise the agent."""

    def __init__(self) -> None:
        self.key = SigningKey.generate()
        self.tokens = {TOKEN}
        self.agents: dict[str, dict[str, Any]] = {}
        self.queue: list[dict[str, Any]] = []
        self.nonces: set[str] = set()
        self.auth_failures: list[str] = []
        self.started: list[str] = []
        self.ended: set[str] = set()
        self.refuse_start: set[str] = set()
        self.start_seconds = 0.0  # how long a `start` takes to answer
        self.results: list[dict[str, Any]] = []
        self.heartbeats: list[dict[str, Any]] = []
        self.heartbeat_answer = "none"
        self.batches: list[dict[str, Any]] = []
        self.sync_state: dict[str, Any] = {"cursor": "", "mode": "full"}
        self.object_errors: set[str] = set()
        self.timeline: list[str] = []
        self.cond = threading.Condition()
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, args=(0.02,), daemon=True)

    def __enter__(self) -> FakeService:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()

    @property
    def agent(self) -> dict[str, Any]:
        (agent,) = self.agents.values()
        return agent

    def command(
        self,
        kind: str,
        *,
        dn: str = ALICE_DN,
        sealed: dict[str, str] | None = None,
        expires_in: float = 8.0,
        idempotency_key: str | None = None,
        options: dict[str, Any] | None = None,
        key: SigningKey | None = None,
    ) -> dict[str, Any]:
        """A signed envelope, its secrets sealed to the enrolled agent's box key."""
        box = SealedBox(PublicKey(base64.b64decode(self.agent["box_public_key"])))
        now = time.time()
        command = {
            "id": uuid.uuid4().hex,
            "kind": kind,
            "idempotency_key": idempotency_key or uuid.uuid4().hex,
            "issued_at": now,
            "expires_at": now + expires_in,
            "target": {"anchor": "anchor-alice", "dn": dn, "upn": "alice@contoso.com"},
            "sealed": {
                name: base64.b64encode(box.encrypt(value.encode())).decode()
                for name, value in (sealed or {}).items()
            },
            "options": options or {},
            "version": 1,
        }
        signature = (key or self.key).sign(canonical(command)).signature
        return {"command": command, "signature": base64.b64encode(signature).decode()}

    def wait_for(self, predicate: Any, timeout: float = 10.0) -> None:
        deadline = time.time() + timeout
        with self.cond:
            while not predicate():
                left = deadline - time.time()
                assert left > 0, "timed out waiting for the agent"
                self.cond.wait(left)

    # HTTP.

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        service = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:
                pass

            def _body(self) -> bytes:
                return self.rfile.read(int(self.headers.get("Content-Length") or 0))

            def _answer(self, status: int, data: dict[str, Any]) -> None:
                raw = json.dumps(data).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(raw)))
                self.end_headers()
                self.wfile.write(raw)

            def _authenticated(self, body: bytes) -> bool:
                h = self.headers
                agent = service.agents.get(h.get("X-SSPR-Agent", ""))
                timestamp, nonce = h.get("X-SSPR-Timestamp", ""), h.get("X-SSPR-Nonce", "")
                path = self.path  # the path and query string as sent
                message = (
                    f"{self.command}\n{path}\n{timestamp}\n{nonce}\n"
                    f"{hashlib.sha256(body).hexdigest()}"
                ).encode()
                reason = ""
                if agent is None:
                    reason = "unknown agent"
                elif not timestamp.isdigit() or abs(time.time() - int(timestamp)) > 300:
                    reason = "timestamp"
                elif len(nonce) != 32 or nonce in service.nonces:
                    reason = "nonce"
                else:
                    try:
                        VerifyKey(base64.b64decode(agent["sign_public_key"])).verify(
                            message, base64.b64decode(h.get("X-SSPR-Signature", ""))
                        )
                    except (BadSignatureError, ValueError):
                        reason = "signature"
                if reason:
                    service.auth_failures.append(reason)
                    self._answer(401, {"code": "agent_unauthenticated", "message": reason})
                    return False
                service.nonces.add(nonce)
                return True

            def do_GET(self) -> None:
                if not self._authenticated(b""):
                    return
                url = urlsplit(self.path)
                if url.path == "/api/v1/agent/commands":
                    wait = min(float(parse_qs(url.query).get("wait", ["0"])[0]), 0.3)
                    with service.cond:
                        service.timeline.append("poll")
                        if not service.queue:
                            service.cond.wait(wait)
                        commands, service.queue[:] = list(service.queue), []
                    self._answer(200, {"commands": commands})
                elif url.path == "/api/v1/agent/sync/state":
                    self._answer(200, service.sync_state)
                else:
                    self._answer(404, {"code": "not_found", "message": url.path})

            def do_POST(self) -> None:
                body = self._body()
                path = urlsplit(self.path).path
                if path == "/api/v1/agent/enrollments":
                    data = json.loads(body)
                    if data.get("token") not in service.tokens:
                        self._answer(401, {"code": "invalid_token", "message": "bad token"})
                        return
                    service.tokens.discard(data["token"])
                    agent_id = uuid.uuid4().hex
                    service.agents[agent_id] = data
                    self._answer(
                        201,
                        {
                            "agent_id": agent_id,
                            "tenant": "contoso",
                            "service_sign_public_key": base64.b64encode(
                                service.key.verify_key.encode()
                            ).decode(),
                        },
                    )
                    return
                if not self._authenticated(body):
                    return
                data = json.loads(body) if body else {}
                with service.cond:
                    status, answer = self._route(path, data)
                    service.cond.notify_all()
                self._answer(status, answer)

            def _route(self, path: str, data: dict[str, Any]) -> tuple[int, dict[str, Any]]:
                if path.startswith("/api/v1/agent/commands/") and path.endswith("/start"):
                    command_id = path.split("/")[-2]
                    if command_id in service.refuse_start or command_id in service.ended:
                        return 409, {"code": "command_ended", "message": "ended"}
                    service.started.append(command_id)
                    service.cond.wait(service.start_seconds)  # lets the agent go on meanwhile
                    service.timeline.append("start")
                    return 200, {}
                if path == "/api/v1/agent/results":
                    service.results.append(data)
                    if data["command_id"] in service.ended:
                        return 409, {"code": "command_ended", "message": "ended"}
                    service.ended.add(data["command_id"])
                    return 200, {}
                if path == "/api/v1/agent/heartbeats":
                    service.heartbeats.append(data)
                    return 200, {"sync": service.heartbeat_answer, "sync_request": "r1"}
                if path == "/api/v1/agent/sync":
                    service.batches.append(data)
                    errors = [
                        {"anchor": u["anchor"], "code": "invalid", "message": "bad mail"}
                        for u in data["users"]
                        if u["anchor"] in service.object_errors
                    ]
                    if data["final"] or data["mode"] == DELTA:
                        service.sync_state = {"cursor": data["cursor"], "mode": "delta"}
                    return 200, {"received": len(data["users"]), "errors": errors}
                return 404, {"code": "not_found", "message": path}

        return Handler


# Fixtures.


@pytest.fixture
def service() -> Iterator[FakeService]:
    with FakeService() as running:
        yield running


@pytest.fixture
def directory(monkeypatch: pytest.MonkeyPatch) -> FakeDirectory:
    fake = FakeDirectory()
    opened: list[DirectoryConfig] = []

    def open_fake(config: DirectoryConfig) -> FakeDirectory:
        opened.append(config)
        return fake

    monkeypatch.setattr(cli, "_open_directory", open_fake)
    fake.opened = opened  # type: ignore[attr-defined]
    return fake


def enroll_args(service: FakeService, tmp_path: Path, **extra: str) -> list[str]:
    password_file = tmp_path / "bindpw"
    password_file.write_text(BIND_PASSWORD + "\n")
    values = {
        "--url": service.url,
        "--token": TOKEN,
        "--config": str(tmp_path / "agent.json"),
        "--kind": "ad",
        "--ldap-url": "ldaps://dc1.contoso.com",
        "--bind-dn": "CN=svc-sspr,OU=Service,DC=contoso,DC=com",
        "--bind-password-file": str(password_file),
        "--base-dn": "DC=contoso,DC=com",
        "--filter": "(memberOf=CN=Staff,DC=contoso,DC=com)",
    } | extra
    return ["enroll", *[x for pair in values.items() for x in pair]]


@pytest.fixture
def config(service: FakeService, directory: FakeDirectory, tmp_path: Path) -> AgentConfig:
    assert cli.main(enroll_args(service, tmp_path)) == 0
    return AgentConfig.load(tmp_path / "agent.json")


def make_channel(config: AgentConfig) -> Channel:
    return Channel(
        config.service_url,
        agent_id=config.agent_id,
        signing_key=SigningKey(base64.b64decode(config.sign_private_key)),
        retries=1,
        backoff=0.01,
    )


def make_agent(config: AgentConfig, directory: FakeDirectory, **options: Any) -> runtime.Agent:
    return runtime.Agent(
        config,
        state=StateStore(config.state_path),
        channel=make_channel(config),
        directory=lambda: directory,
        **options,
    )


@pytest.fixture
def state(config: AgentConfig) -> StateStore:
    """The one state store of the agent (as in `run`: executor and syncer share it)."""
    return StateStore(config.state_path)


@pytest.fixture
def executor(config: AgentConfig, directory: FakeDirectory, state: StateStore) -> Executor:
    agent = runtime.Agent(
        config,
        state=state,
        channel=make_channel(config),
        directory=lambda: directory,
    )
    return agent.executor


@pytest.fixture
def syncer(config: AgentConfig, directory: FakeDirectory, state: StateStore) -> Syncer:
    return Syncer(
        channel=make_channel(config),
        state=state,
        directory=lambda: directory,
    )


# Tests.


class TestEnroll:
    def test_enroll_writes_a_private_config_with_the_keys(
        self,
        service: FakeService,
        directory: FakeDirectory,
        tmp_path: Path,
        capsys: pytest.CaptureFixture[str],
    ) -> None:
        """Enrolment binds to the directory, registers both public keys, writes 0600 JSON."""
        assert cli.main(enroll_args(service, tmp_path)) == 0
        path = tmp_path / "agent.json"
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
        data = json.loads(path.read_text())
        config = AgentConfig.load(path)
        registered = service.agent
        sign = SigningKey(base64.b64decode(data["keys"]["sign_private_key"]))
        assert base64.b64decode(registered["sign_public_key"]) == sign.verify_key.encode()
        assert registered["directory_kind"] == "ad"
        assert (
            config.service_sign_public_key
            == base64.b64encode(service.key.verify_key.encode()).decode()
        )
        assert config.tenant == "contoso" and config.agent_id in service.agents
        assert config.directory.password() == BIND_PASSWORD
        assert directory.opened[0].bind_password == BIND_PASSWORD  # type: ignore[attr-defined]
        out = capsys.readouterr().out
        assert "bind ok" in out and "enrolled" in out and BIND_PASSWORD not in out

    def test_enroll_says_clearly_when_the_bind_fails(
        self,
        service: FakeService,
        tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str],
    ) -> None:
        """No registration and no file when the directory refuses the bind; exit 2, one line."""

        def refuse(config: DirectoryConfig) -> Any:
            raise ConnectionError(f"invalidCredentials for {config.bind_password}")

        monkeypatch.setattr(cli, "_open_directory", refuse)
        assert cli.main(enroll_args(service, tmp_path)) == 2
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and "cannot bind to the directory" in err
        assert BIND_PASSWORD not in err
        assert not (tmp_path / "agent.json").exists() and TOKEN in service.tokens

    def test_enroll_with_a_used_token_fails_without_a_config(
        self,
        service: FakeService,
        directory: FakeDirectory,
        tmp_path: Path,
        capsys: pytest.CaptureFixture[str],
    ) -> None:
        service.tokens.clear()
        assert cli.main(enroll_args(service, tmp_path)) == 1
        err = capsys.readouterr().err
        assert "invalid_token" in err and TOKEN not in err
        assert not (tmp_path / "agent.json").exists()

    def test_usage_errors_exit_2_in_one_line(
        self,
        service: FakeService,
        directory: FakeDirectory,
        tmp_path: Path,
        capsys: pytest.CaptureFixture[str],
    ) -> None:
        assert cli.main(enroll_args(service, tmp_path, **{"--kind": "novell"})) == 2
        assert capsys.readouterr().err.count("\n") == 1
        assert cli.main(["status", "--config", str(tmp_path / "missing.json")]) == 2
        assert "does not exist" in capsys.readouterr().err
        assert cli.main(enroll_args(service, tmp_path)) == 0
        assert cli.main(enroll_args(service, tmp_path)) == 2  # never overwrite keys silently
        assert "enrolled already" in capsys.readouterr().err


class TestWriteback:
    def test_a_signed_reset_is_executed_after_start_and_its_result_posted(
        self,
        service: FakeService,
        directory: FakeDirectory,
        executor: Executor,
    ) -> None:
        directory.timeline = service.timeline
        envelope = service.command(
            "reset_password", sealed={"new_password": NEW_PASSWORD}, options={"must_change": True}
        )
        result = executor.execute(envelope)
        assert result is not None and result.outcome == Outcome.OK
        assert directory.writes == [("reset_password", ALICE_DN)]
        assert directory.received == [NEW_PASSWORD]
        assert service.timeline == ["start", "directory:reset_password"]
        assert service.started == [envelope["command"]["id"]]
        assert [(r["command_id"], r["outcome"]) for r in service.results] == [
            (envelope["command"]["id"], "ok")
        ]

    def test_a_change_carries_old_and_new_and_the_directory_decides(
        self,
        service: FakeService,
        directory: FakeDirectory,
        executor: Executor,
    ) -> None:
        wrong = executor.execute(
            service.command(
                "change_password", sealed={"old_password": "nope", "new_password": NEW_PASSWORD}
            )
        )
        right = executor.execute(
            service.command(
                "change_password",
                sealed={"old_password": OLD_PASSWORD, "new_password": NEW_PASSWORD},
            )
        )
        assert wrong is not None and wrong.outcome == Outcome.WRONG_PASSWORD
        assert right is not None and right.outcome == Outcome.OK
        verified = executor.execute(
            service.command("verify_credentials", sealed={"password": NEW_PASSWORD})
        )
        assert verified is not None and verified.ok

    def test_a_bad_service_signature_is_refused_and_the_directory_untouched(
        self,
        service: FakeService,
        directory: FakeDirectory,
        executor: Executor,
    ) -> None:
        forged = service.command(
            "reset_password", sealed={"new_password": NEW_PASSWORD}, key=SigningKey.generate()
        )
        tampered = service.command("reset_password", sealed={"new_password": NEW_PASSWORD})
        tampered["command"]["target"]["dn"] = "CN=Administrator,DC=contoso,DC=com"
        for envelope in (forged, tampered):
            result = executor.execute(envelope)
            assert result is not None and result.outcome == Outcome.DIRECTORY_ERROR
            assert "signature" in result.message
        assert directory.writes == [] and directory.received == []
        assert service.started == []

    def test_an_expired_command_answers_expired_without_the_directory(
        self,
        service: FakeService,
        directory: FakeDirectory,
        executor: Executor,
    ) -> None:
        envelope = service.command(
            "reset_password", sealed={"new_password": NEW_PASSWORD}, expires_in=-1
        )
        result = executor.execute(envelope)
        assert result is not None and result.outcome == Outcome.EXPIRED
        assert [r["outcome"] for r in service.results] == ["command_expired"]
        assert directory.writes == [] and service.started == []

    def test_the_same_idempotency_key_writes_once_and_answers_twice(
        self,
        service: FakeService,
        directory: FakeDirectory,
        executor: Executor,
    ) -> None:
        first = service.command(
            "reset_password", sealed={"new_password": NEW_PASSWORD}, idempotency_key="idem-1"
        )
        again = service.command(
            "reset_password", sealed={"new_password": NEW_PASSWORD}, idempotency_key="idem-1"
        )
        one, two = executor.execute(first), executor.execute(again)
        assert directory.writes == [("reset_password", ALICE_DN)]
        assert one is not None and two is not None
        assert (one.outcome, one.message, one.details) == (two.outcome, two.message, two.details)
        posted = [(r["outcome"], r["message"]) for r in service.results]
        assert posted == [("ok", "password set")] * 2
        assert [r["command_id"] for r in service.results] == [
            first["command"]["id"],
            again["command"]["id"],
        ]

    def test_the_same_key_at_once_still_writes_once(
        self, service: FakeService, directory: FakeDirectory, executor: Executor
    ) -> None:
        """Two commands with one key in two workers: the second waits and replays."""
        directory.slow = 0.3
        envelopes = [
            service.command(
                "reset_password", sealed={"new_password": NEW_PASSWORD}, idempotency_key="k"
            )
            for _ in range(2)
        ]
        workers = [threading.Thread(target=executor.execute, args=(e,)) for e in envelopes]
        for worker in workers:
            worker.start()
        for worker in workers:
            worker.join(10)
        assert directory.writes == [("reset_password", ALICE_DN)]
        assert sorted(r["outcome"] for r in service.results) == ["ok", "ok"]

    def test_a_command_the_service_will_not_start_leaves_the_directory_alone(
        self,
        service: FakeService,
        directory: FakeDirectory,
        executor: Executor,
    ) -> None:
        envelope = service.command("unlock")
        service.refuse_start.add(envelope["command"]["id"])
        assert executor.execute(envelope) is None
        assert directory.writes == [] and service.results == []

    def test_an_interrupted_write_is_not_repeated(
        self,
        service: FakeService,
        directory: FakeDirectory,
        config: AgentConfig,
    ) -> None:
        """Journalled as started but never finished (the agent died mid-write), then a restart:
        the outcome is unknown, and there is no second write."""
        StateStore(config.state_path).journal_start("idem-crash", "old-id", "reset_password")
        fresh = runtime.Agent(
            config,
            state=StateStore(config.state_path),
            channel=make_channel(config),
            directory=lambda: directory,
        ).executor
        result = fresh.execute(
            service.command(
                "reset_password",
                sealed={"new_password": NEW_PASSWORD},
                idempotency_key="idem-crash",
            )
        )
        assert result is not None and result.outcome == Outcome.DIRECTORY_ERROR
        assert directory.writes == []


class TestSync:
    def test_a_full_sync_posts_batches_with_final_on_the_last_and_stores_the_cursor(
        self,
        service: FakeService,
        directory: FakeDirectory,
        syncer: Syncer,
        config: AgentConfig,
    ) -> None:
        directory.users = FakeDirectory(2500).users
        service.object_errors = {"anchor-7", "anchor-2001"}
        assert syncer.initial_mode() == (FULL, "")
        report = syncer.run(FULL)
        batches = service.batches
        assert [len(b["users"]) for b in batches] == [1000, 1000, 500]
        assert [b["final"] for b in batches] == [False, False, True]
        assert len({b["sync_id"] for b in batches}) == 1
        assert all(b["mode"] == "full" for b in batches)
        # The cursor was taken before reading: the changes made during the read come again.
        assert batches[-1]["cursor"] == "100" and directory.usn == 103
        assert [b["cursor"] for b in batches[:-1]] == ["", ""]
        assert (report.objects, report.batches, report.errors) == (2500, 3, 2)
        state = json.loads(config.state_path.read_text())
        assert state["sync"]["cursor"] == "100"
        assert state["sync"]["last_full"]["objects"] == 2500
        assert "in_progress" not in state["sync"]
        assert stat.S_IMODE(config.state_path.stat().st_mode) == 0o600

        directory.changed = [directory.users[5]]
        assert syncer.initial_mode() == (DELTA, "100")
        delta = syncer.run(DELTA)
        assert directory.changes_since == ["100"]
        assert service.batches[-1]["mode"] == "delta" and not service.batches[-1]["final"]
        assert service.batches[-1]["deleted_anchors"] == ["gone-1"]
        assert service.batches[-1]["cursor"] == "103" and delta.objects == 2

    def test_an_empty_directory_still_ends_with_a_final_batch(
        self,
        service: FakeService,
        directory: FakeDirectory,
        syncer: Syncer,
    ) -> None:
        directory.users = []
        syncer.run(FULL)
        assert [(b["final"], b["cursor"]) for b in service.batches] == [(True, "100")]

    def test_an_interrupted_full_sync_resumes_with_the_same_sync_id(
        self,
        service: FakeService,
        directory: FakeDirectory,
        config: AgentConfig,
    ) -> None:
        directory.users = FakeDirectory(2500).users
        stop = threading.Event()
        first = Syncer(
            channel=make_channel(config),
            state=StateStore(config.state_path),
            directory=lambda: directory,
            progress=lambda line: stop.set(),
            stop=stop,
        )
        with pytest.raises(SyncInterrupted):
            first.run(FULL)
        assert len(service.batches) == 1
        again = Syncer(
            channel=make_channel(config),
            state=StateStore(config.state_path),
            directory=lambda: directory,
        )
        assert again.initial_mode() == (FULL, "")
        again.run(FULL)
        assert len({b["sync_id"] for b in service.batches}) == 1
        assert service.batches[-1]["final"] and service.batches[-1]["cursor"] == "100"

    def test_a_heartbeat_asking_for_a_full_sync_schedules_one(
        self,
        service: FakeService,
        directory: FakeDirectory,
        config: AgentConfig,
    ) -> None:
        agent = make_agent(config, directory)
        service.heartbeat_answer = "full"
        agent.heartbeat()
        assert agent._sync_request == FULL and agent._sync_wake.is_set()
        (beat,) = service.heartbeats
        assert beat["state"] == "idle" and "writeback" in beat["capabilities"]
        # Told again (the service has not seen the sync begin yet): not a second sync.
        agent._sync_request = None
        agent.heartbeat()
        assert agent._sync_request is None


class TestRunAndStatus:
    def test_run_serves_until_sigterm_and_status_tells_what_happened(
        self,
        service: FakeService,
        directory: FakeDirectory,
        config: AgentConfig,
        capsys: pytest.CaptureFixture[str],
        caplog: pytest.LogCaptureFixture,
    ) -> None:
        """The main loop: heartbeat, full sync, a command; SIGTERM stops it cleanly."""
        caplog.set_level(logging.DEBUG)
        envelope = service.command(
            "reset_password", sealed={"new_password": NEW_PASSWORD}, expires_in=30
        )

        def drive() -> None:
            service.wait_for(
                lambda: service.heartbeats and any(b["final"] for b in service.batches)
            )
            with service.cond:
                service.queue.append(envelope)
                service.cond.notify_all()
            service.wait_for(lambda: service.results)
            os.kill(os.getpid(), signal.SIGTERM)

        driver = threading.Thread(target=drive, daemon=True)
        driver.start()
        assert cli.main(["run", "--config", str(config.path), "--sync-interval", "10"]) == 0
        driver.join(5)
        assert [r["outcome"] for r in service.results] == ["ok"]
        assert directory.writes == [("reset_password", ALICE_DN)]
        assert service.auth_failures == []
        out = capsys.readouterr().out
        assert "sync full" in out and "3 objects" in out and "stopped" in out
        assert service.heartbeats[-1]["state"] == "stopped"  # the service stops counting on it

        assert cli.main(["status", "--config", str(config.path)]) == 0
        status = capsys.readouterr().out
        assert config.agent_id in status and "not running (stopped" in status
        assert "commands   1 executed (reset_password 1); last reset_password ok" in status
        assert "last full" in status and "3 objects" in status and "cursor     100" in status
        assert cli.main(["status", "--config", str(config.path), "--json"]) == 0
        report = json.loads(capsys.readouterr().out)
        assert report["running"] is False and report["sync"]["cursor"] == "100"
        assert report["agent"]["commands"] == {"reset_password": 1}

    def test_the_next_poll_waits_until_the_command_it_brought_has_started(
        self, service: FakeService, directory: FakeDirectory, config: AgentConfig
    ) -> None:
        """A poll sent at once would only compete with the command's `start` in the service."""
        agent = make_agent(config, directory, poll_wait=1)
        service.start_seconds = 0.3
        with service.cond:
            service.queue.append(
                service.command("reset_password", sealed={"new_password": NEW_PASSWORD})
            )
        runner = threading.Thread(target=agent.run, daemon=True)
        runner.start()
        try:
            service.wait_for(lambda: service.results)
        finally:
            agent.stop.set()
            runner.join(10)
        polls_then_start = [e for e in service.timeline if e in ("poll", "start")]
        assert polls_then_start[:3] == ["poll", "start", "poll"]

    def test_status_of_an_agent_that_never_ran(
        self,
        config: AgentConfig,
        capsys: pytest.CaptureFixture[str],
    ) -> None:
        assert cli.main(["status", "--config", str(config.path)]) == 0
        out = capsys.readouterr().out
        assert "never run" in out and "no sync completed yet" in out


class TestNoSecrets:
    def test_no_secret_in_logs_state_or_status(
        self,
        service: FakeService,
        directory: FakeDirectory,
        config: AgentConfig,
        executor: Executor,
        syncer: Syncer,
        caplog: pytest.LogCaptureFixture,
        capsys: pytest.CaptureFixture[str],
    ) -> None:
        caplog.set_level(logging.DEBUG)
        executor.execute(service.command("reset_password", sealed={"new_password": NEW_PASSWORD}))
        executor.execute(
            service.command(
                "change_password",
                sealed={"old_password": OLD_PASSWORD, "new_password": NEW_PASSWORD},
            )
        )
        executor.execute(service.command("verify_credentials", sealed={"password": "Wr0ng-Guess!"}))
        executor.execute(
            service.command(
                "reset_password", expires_in=-1, sealed={"new_password": "Expired-Secret-1"}
            )
        )
        executor.execute(
            service.command(
                "reset_password",
                key=SigningKey.generate(),
                sealed={"new_password": "Forged-Secret-1"},
            )
        )
        syncer.run(FULL)
        assert cli.main(["status", "--config", str(config.path), "--json"]) == 0
        assert cli.main(["status", "--config", str(config.path)]) == 0
        printed = capsys.readouterr()
        secrets = [
            NEW_PASSWORD,
            OLD_PASSWORD,
            "Wr0ng-Guess!",
            "Expired-Secret-1",
            "Forged-Secret-1",
            BIND_PASSWORD,
            TOKEN,
            config.sign_private_key,
            config.box_private_key,
        ]
        journal_text = journal_path_for(config.state_path).read_text()
        state_text = config.state_path.read_text() + journal_text
        state = json.loads(config.state_path.read_text())
        # Two writes journalled; the verify_credentials bind is a read and is not.
        assert len(journal.read(journal_path_for(config.state_path))[0]) == 2
        assert state["sync"]["cursor"] == "100"
        assert any("signature" in e["message"] for e in state["errors"])
        for secret in secrets:
            assert secret not in caplog.text
            assert secret not in state_text
            assert secret not in printed.out + printed.err
        assert "agent.command.done" in caplog.text  # the logs do say what happened
        assert len(service.results) == 5
        results = json.dumps(service.results)
        assert NEW_PASSWORD not in results and OLD_PASSWORD not in results

    def test_the_config_and_channel_reprs_hide_the_keys(self, config: AgentConfig) -> None:
        text = repr(config) + repr(make_channel(config))
        assert config.sign_private_key not in text and config.box_private_key not in text
        assert BIND_PASSWORD not in text
        assert asdict(config.directory_config())["bind_password"] == BIND_PASSWORD

    def test_the_default_policy_entry_named_in_the_config_reaches_the_directory(
        self, config: AgentConfig
    ) -> None:
        assert config.directory_config().default_policy_dn == ""  # found by the agent
        data = json.loads(config.path.read_text())
        data["directory"]["default_policy_dn"] = "cn=default,ou=policies,dc=example,dc=test"
        config.path.write_text(json.dumps(data))
        again = AgentConfig.load(config.path)
        wanted = "cn=default,ou=policies,dc=example,dc=test"
        assert again.directory_config().default_policy_dn == wanted
        again.save()
        assert json.loads(config.path.read_text())["directory"]["default_policy_dn"] == wanted
