"""The agent channel, through its real HTTP endpoints, with an agent played by the test.

The test agent holds its own PyNaCl keys and signs each request as docs/agent-channel.md says;
the service side is the real one: enrolment, signature checks, the command queue that a
flow's `commands.run` waits on (in a thread, as a web request would), and the admin views.
"""

from __future__ import annotations

import hashlib
import json
import os
import secrets
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from django.db import connection
from django.test import Client
from django.utils import timezone
from nacl.encoding import Base64Encoder
from nacl.public import PrivateKey, SealedBox
from nacl.signing import SigningKey, VerifyKey

from sspr.audit.models import AuditEvent
from sspr.directory.models import Tenant, User
from sspr.hybrid import commands
from sspr.hybrid.commands import AgentUnavailable, WritebackTimeout
from sspr.hybrid.models import Agent, Command, EnrollmentToken
from sspr.hybrid.status import UP_AND_RUNNING
from sspr_protocol.messages import CommandKind, Result, Target, canonical
from tests.conftest import Api, browser, csrf_token
from tests.secrets_scan import assert_not_logged

NEW_PASSWORD = "Quartz-Meadow-6142"  # the password that travels to the agent
TARGET = Target(
    anchor="3f1c9a52-0d7e-4b1a-9a55-6f7e2b9c1d00",
    dn="CN=Bob,OU=Staff,DC=corp,DC=test",
    upn="bob@contoso.com",
)


def b64(data: bytes) -> str:
    return Base64Encoder.encode(data).decode()


class TestAgent:
    """An agent as the contract describes it: its keys, signed requests, and a record of the
    directory writes it made (by idempotency key), so a test can tell what was applied."""

    __test__ = False  # not a test class

    def __init__(
        self,
        name: str = "dc-host-1",
        capabilities: tuple[str, ...] = ("sync", "writeback", "unlock", "passthrough"),
    ) -> None:
        self.client = Client()
        self.name = name
        self.capabilities = list(capabilities)
        self.sign_key = SigningKey.generate()
        self.box_key = PrivateKey.generate()
        self.agent_id = ""
        self.service_key: VerifyKey | None = None
        self.applied: list[str] = []

    # -- enrolment and signed requests ---------------------------------------------------

    def enroll(self, token: str, **overrides: Any) -> Any:
        body = {
            "token": token,
            "name": self.name,
            "agent_version": "0.1.0",
            "directory_kind": "ad",
            "sign_public_key": b64(bytes(self.sign_key.verify_key)),
            "box_public_key": b64(bytes(self.box_key.public_key)),
            "capabilities": self.capabilities,
            **overrides,
        }
        response = self.client.post(
            "/api/v1/agent/enrollments", json.dumps(body), content_type="application/json"
        )
        if response.status_code == 201:
            answer = response.json()
            self.agent_id = answer["agent_id"]
            self.service_key = VerifyKey(
                answer["service_sign_public_key"].encode(), encoder=Base64Encoder
            )
        return response

    def headers(
        self,
        method: str,
        path: str,
        body: bytes,
        *,
        timestamp: int | None = None,
        nonce: str | None = None,
        key: SigningKey | None = None,
    ) -> dict[str, str]:
        timestamp = int(time.time()) if timestamp is None else timestamp
        nonce = nonce or secrets.token_hex(16)
        message = "\n".join(
            [method, path, str(timestamp), nonce, hashlib.sha256(body).hexdigest()]
        ).encode()
        signature = (key or self.sign_key).sign(message).signature
        return {
            "X-SSPR-Agent": self.agent_id,
            "X-SSPR-Timestamp": str(timestamp),
            "X-SSPR-Nonce": nonce,
            "X-SSPR-Signature": b64(signature),
        }

    def call(
        self,
        method: str,
        path: str,
        body: Any = None,
        *,
        headers: dict[str, str] | None = None,
        **signing: Any,
    ) -> Any:
        full = f"/api/v1{path}"
        data = b"" if body is None else json.dumps(body).encode()
        headers = headers or self.headers(method, full, data, **signing)
        if method == "GET":
            return self.client.get(full, headers=headers)
        return self.client.post(full, data, content_type="application/json", headers=headers)

    # -- the operations ------------------------------------------------------------------

    def heartbeat(self, state: str = "idle", **detail: Any) -> Any:
        response = self.call(
            "POST",
            "/agent/heartbeats",
            {
                "agent_version": "0.1.0",
                "capabilities": self.capabilities,
                "state": state,
                "detail": detail,
            },
        )
        assert response.status_code == 200, response.content
        return response.json()

    def poll(self, wait: int = 0) -> list[dict[str, Any]]:
        """Claimed commands, each checked against the service's pinned signature."""
        response = self.call("GET", f"/agent/commands?wait={wait}")
        assert response.status_code == 200, response.content
        commands_ = []
        assert self.service_key is not None
        for item in response.json()["commands"]:
            signature = Base64Encoder.decode(item["signature"].encode())
            self.service_key.verify(canonical(item["command"]), signature)  # raises if forged
            commands_.append(item["command"])
        return commands_

    def open(self, command: dict[str, Any]) -> dict[str, str]:
        box = SealedBox(self.box_key)
        return {
            name: box.decrypt(Base64Encoder.decode(value.encode())).decode()
            for name, value in command["sealed"].items()
        }

    def start(self, command_id: str) -> Any:
        return self.call("POST", f"/agent/commands/{command_id}/start")

    def answer(self, command_id: str, outcome: str = "ok", message: str = "") -> Any:
        return self.call(
            "POST",
            "/agent/results",
            {"command_id": command_id, "outcome": outcome, "message": message},
        )

    def carry_out(self, command: dict[str, Any], outcome: str = "ok", message: str = "") -> Any:
        """What the real agent does: refuse if expired, start, write, answer."""
        assert command["expires_at"] > time.time(), "the agent never starts an expired command"
        started = self.start(command["id"])
        if started.status_code != 200:
            return started
        self.open(command)  # the directory write would use these
        self.applied.append(command["idempotency_key"])
        return self.answer(command["id"], outcome, message)


@pytest.fixture
def global_admin(tenant: Tenant, make_user: Callable[..., User]) -> User:
    return make_user(tenant, "ga@contoso.com", roles=["global-administrator"])


@pytest.fixture
def admin_api(global_admin: User) -> Api:
    client = Api()
    assert client.sign_in("contoso", "ga@contoso.com").status_code == 201
    return client


def new_token(admin_api: Api) -> str:
    response = admin_api.call("POST", "/tenants/contoso/agents")
    assert response.status_code == 201, response.content
    return str(response.json()["token"])


@pytest.fixture
def enrolled(admin_api: Api) -> Callable[..., TestAgent]:
    def make(name: str = "dc-host-1", **kwargs: Any) -> TestAgent:
        agent = TestAgent(name, **kwargs)
        assert agent.enroll(new_token(admin_api)).status_code == 201
        agent.heartbeat()
        return agent

    return make


class Background:
    """`commands.run` in a thread with its own database connection, as a web request."""

    def __init__(self, target: Callable[[], Result]) -> None:
        self.result: Result | None = None
        self.error: BaseException | None = None
        self.seconds = 0.0

        def work() -> None:
            started = time.monotonic()
            try:
                self.result = target()
            except Exception as error:  # noqa: BLE001 - handed to the test
                self.error = error
            finally:
                self.seconds = time.monotonic() - started
                connection.close()

        self.thread = threading.Thread(target=work)
        self.thread.start()

    def join(self) -> Background:
        self.thread.join(timeout=30)
        assert not self.thread.is_alive()
        return self


def run_reset(tenant: Tenant, timeout: float = 8.0) -> Background:
    return Background(
        lambda: commands.run(
            tenant,
            CommandKind.RESET_PASSWORD,
            TARGET,
            {"new_password": NEW_PASSWORD},
            {"must_change": False},
            timeout=timeout,
        )
    )


def poll_until(agent: TestAgent, seconds: float = 5.0) -> list[dict[str, Any]]:
    """Long-poll until the command the thread queues arrives."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        found = agent.poll(wait=1)
        if found:
            return found
    raise AssertionError("no command arrived")


class TestEnrolment:
    def test_a_token_is_shown_once_and_enrols_one_agent(
        self, admin_api: Api, tenant: Tenant
    ) -> None:
        response = admin_api.call("POST", "/tenants/contoso/agents")
        assert response.status_code == 201
        body = response.json()
        token = body["token"]
        assert body["tenant"] == "contoso"
        assert token in body["enroll_command"] and "sspr-agent enroll" in body["enroll_command"]
        row = EnrollmentToken.objects.get()
        assert row.token_hash == hashlib.sha256(token.encode()).hexdigest()
        assert timedelta(minutes=59) < row.expires_at - timezone.now() <= timedelta(hours=1)

        agent = TestAgent()
        enrolled = agent.enroll(token)
        assert enrolled.status_code == 201, enrolled.content
        assert enrolled.json()["tenant"] == "contoso"
        stored = Agent.objects.get(pk=agent.agent_id)
        assert stored.tenant == tenant and stored.capabilities == agent.capabilities
        assert stored.box_public_key == b64(bytes(agent.box_key.public_key))

        again = TestAgent("dc-host-2").enroll(token)
        assert again.status_code == 401
        assert again.json()["code"] == "enrollment_token_invalid"
        assert Agent.objects.count() == 1
        assert AuditEvent.objects.filter(activity="Register on-premises agent").count() == 1

    def test_an_expired_token_is_refused(self, admin_api: Api) -> None:
        token = new_token(admin_api)
        EnrollmentToken.objects.update(expires_at=timezone.now() - timedelta(seconds=1))
        response = TestAgent().enroll(token)
        assert response.status_code == 401
        assert response.json()["code"] == "enrollment_token_invalid"
        assert "one hour" in response.json()["message"]

    def test_a_mistake_in_the_request_does_not_use_the_token_up(self, admin_api: Api) -> None:
        token = new_token(admin_api)
        agent = TestAgent()
        bad = agent.enroll(token, box_public_key="bm90IGEga2V5")
        assert bad.status_code == 422 and bad.json()["code"] == "invalid_value"
        assert agent.enroll(token).status_code == 201

    def test_only_global_administrators_create_tokens(
        self, tenant: Tenant, make_user: Callable[..., User], make_api: Callable[[], Api]
    ) -> None:
        make_user(tenant, "helpdesk@contoso.com", roles=["helpdesk-administrator"])
        helpdesk = make_api()
        helpdesk.sign_in("contoso", "helpdesk@contoso.com")
        assert helpdesk.call("POST", "/tenants/contoso/agents").status_code == 403
        assert helpdesk.call("GET", "/tenants/contoso/agents").status_code == 200
        assert EnrollmentToken.objects.count() == 0


class TestSignedRequests:
    def test_a_signed_request_is_accepted(self, enrolled: Callable[..., TestAgent]) -> None:
        agent = enrolled()
        assert agent.heartbeat() == {"sync": "none", "sync_request": ""}
        assert Agent.objects.get(pk=agent.agent_id).last_seen_at is not None

    def test_a_signature_by_another_key_is_refused(
        self, enrolled: Callable[..., TestAgent]
    ) -> None:
        agent = enrolled()
        response = agent.call("GET", "/agent/sync/state", key=SigningKey.generate())
        assert response.status_code == 401
        assert response.json()["code"] == "agent_unauthenticated"

    def test_a_body_changed_after_signing_is_refused(
        self, enrolled: Callable[..., TestAgent]
    ) -> None:
        agent = enrolled()
        signed_for = json.dumps({"command_id": "x", "outcome": "ok"}).encode()
        headers = agent.headers("POST", "/api/v1/agent/results", signed_for)
        response = agent.call(
            "POST", "/agent/results", {"command_id": "y", "outcome": "ok"}, headers=headers
        )
        assert response.status_code == 401

    def test_an_old_timestamp_is_refused(self, enrolled: Callable[..., TestAgent]) -> None:
        agent = enrolled()
        old = agent.call("GET", "/agent/sync/state", timestamp=int(time.time()) - 301)
        assert old.status_code == 401 and "clock" in old.json()["message"]
        future = agent.call("GET", "/agent/sync/state", timestamp=int(time.time()) + 301)
        assert future.status_code == 401
        assert (
            agent.call("GET", "/agent/sync/state", timestamp=int(time.time()) - 290).status_code
            == 200
        )

    def test_a_replayed_request_is_refused(self, enrolled: Callable[..., TestAgent]) -> None:
        agent = enrolled()
        headers = agent.headers("GET", "/api/v1/agent/sync/state", b"")
        assert agent.call("GET", "/agent/sync/state", headers=headers).status_code == 200
        replay = agent.call("GET", "/agent/sync/state", headers=headers)
        assert replay.status_code == 401 and "nonce" in replay.json()["message"]

    def test_the_query_string_is_signed(self, enrolled: Callable[..., TestAgent]) -> None:
        agent = enrolled()
        headers = agent.headers("GET", "/api/v1/agent/commands?wait=0", b"")
        assert agent.client.get("/api/v1/agent/commands?wait=1", headers=headers).status_code == 401

    def test_missing_headers_and_unknown_agents_are_refused(self, db: Any) -> None:
        assert Client().get("/api/v1/agent/sync/state").status_code == 401
        stranger = TestAgent()
        stranger.agent_id = secrets.token_hex(16)
        response = stranger.call("GET", "/agent/sync/state")
        assert response.status_code == 401
        assert response.json()["code"] == "agent_unauthenticated"

    def test_a_revoked_agent_is_refused(
        self, enrolled: Callable[..., TestAgent], admin_api: Api
    ) -> None:
        agent = enrolled()
        response = admin_api.call("POST", f"/tenants/contoso/agents/{agent.agent_id}/revocation")
        assert response.status_code == 200 and response.json()["state"] == "revoked"
        refused = agent.call("GET", "/agent/sync/state")
        assert refused.status_code == 401
        assert refused.json()["code"] == "agent_unauthenticated"


def database_text() -> Iterator[tuple[str, str]]:
    """(table, value) for every value of every column of every table."""
    with connection.cursor() as cursor:
        for table in connection.introspection.table_names(cursor):
            columns = [
                c.name for c in connection.introspection.get_table_description(cursor, table)
            ]
            quoted = ", ".join(connection.ops.quote_name(c) for c in columns)
            cursor.execute(f"SELECT {quoted} FROM {connection.ops.quote_name(table)}")  # noqa: S608
            for row in cursor.fetchall():
                for value in row:
                    if isinstance(value, bytes | memoryview):
                        yield table, bytes(value).decode("latin-1")
                    elif value is not None:
                        yield table, str(value)


@pytest.mark.django_db(transaction=True)
class TestCommands:
    def test_a_writeback_travels_sealed_and_its_result_comes_back(
        self,
        enrolled: Callable[..., TestAgent],
        tenant: Tenant,
        every_log_record: pytest.LogCaptureFixture,
    ) -> None:
        agent = enrolled()
        waiting = run_reset(tenant)
        polled = time.monotonic()
        [command] = poll_until(agent)
        delivered_in = time.monotonic() - polled
        assert command["kind"] == "reset_password"
        assert command["target"] == {"anchor": TARGET.anchor, "dn": TARGET.dn, "upn": TARGET.upn}
        assert command["options"] == {"must_change": False}
        assert command["expires_at"] - command["issued_at"] == pytest.approx(8.0, abs=0.01)
        assert NEW_PASSWORD not in json.dumps(command)
        assert agent.open(command) == {"new_password": NEW_PASSWORD}
        assert Command.objects.get().state == "claimed"

        answered = agent.carry_out(command)
        assert answered.status_code == 200 and answered.json()["state"] == "done"
        waiting.join()
        assert waiting.error is None
        assert waiting.result == Result(command_id=command["id"], outcome="ok")
        assert waiting.seconds < 3 and delivered_in < 3

        row = Command.objects.get()
        assert row.state == "done" and row.sealed == {} and row.finished_at is not None
        # The password is nowhere: no table, no column, no log line.
        values = list(database_text())
        assert any(TARGET.dn in value for _, value in values)  # the scan does see commands
        assert [table for table, value in values if NEW_PASSWORD in value] == []
        assert_not_logged(every_log_record.records, {"new password": NEW_PASSWORD})
        assert any("agent_command_answered" in r.getMessage() for r in every_log_record.records)

    def test_the_directorys_refusal_comes_back_as_it_is(
        self, enrolled: Callable[..., TestAgent], tenant: Tenant
    ) -> None:
        agent = enrolled()
        waiting = run_reset(tenant)
        [command] = poll_until(agent)
        agent.carry_out(command, "password_in_history", "The password was used recently.")
        waiting.join()
        assert waiting.result is not None
        assert waiting.result.outcome == "password_in_history" and not waiting.result.ok
        assert waiting.result.message == "The password was used recently."
        assert Command.objects.get().state == "failed"

    def test_no_live_agent_means_unavailable_at_once(
        self, enrolled: Callable[..., TestAgent], tenant: Tenant
    ) -> None:
        with pytest.raises(AgentUnavailable) as none:
            commands.run(
                tenant, CommandKind.RESET_PASSWORD, TARGET, {"new_password": NEW_PASSWORD}, {}
            )
        assert none.value.status == 503 and none.value.code == "writeback_unavailable"
        assert "Nothing was changed" in none.value.message

        agent = enrolled()
        Agent.objects.filter(pk=agent.agent_id).update(
            last_heartbeat_at=timezone.now() - timedelta(seconds=91)
        )
        with pytest.raises(AgentUnavailable):
            commands.run(tenant, CommandKind.RESET_PASSWORD, TARGET, {"new_password": "x"}, {})
        enrolled("sync-only", capabilities=("sync",))
        with pytest.raises(AgentUnavailable):
            commands.run(tenant, CommandKind.RESET_PASSWORD, TARGET, {"new_password": "x"}, {})
        assert Command.objects.count() == 0

    def test_an_agent_that_never_answers_times_out_and_its_late_result_is_refused(
        self, enrolled: Callable[..., TestAgent], tenant: Tenant
    ) -> None:
        agent = enrolled()
        waiting = run_reset(tenant, timeout=0.5)
        [command] = poll_until(agent)  # claimed, then the agent goes quiet
        waiting.join()
        assert isinstance(waiting.error, WritebackTimeout)
        assert waiting.error.status == 504 and waiting.error.code == "writeback_timeout"
        assert "Nothing was changed" in waiting.error.message
        assert 2.4 < waiting.seconds < 4

        late_start = agent.start(command["id"])
        assert late_start.status_code == 409
        late = agent.answer(command["id"], "ok")
        assert late.status_code == 409 and late.json()["code"] == "command_ended"
        row = Command.objects.get()
        assert row.state == "expired" and row.result is None and row.sealed == {}
        assert agent.applied == []

    def test_a_started_command_that_never_answers_fails_and_is_not_reissued(
        self, enrolled: Callable[..., TestAgent], tenant: Tenant
    ) -> None:
        first, second = enrolled("dc-host-1"), enrolled("dc-host-2")
        waiting = run_reset(tenant, timeout=0.5)
        [command] = poll_until(first)
        assert first.start(command["id"]).status_code == 200
        assert second.poll() == []  # started: nobody else gets it
        waiting.join()
        assert isinstance(waiting.error, WritebackTimeout)
        assert "not known" in waiting.error.message
        row = Command.objects.get()
        assert row.state == "failed" and row.sealed == {}
        assert first.answer(command["id"], "ok").status_code == 409

    def test_a_claim_by_an_agent_that_died_goes_to_another_and_is_applied_once(
        self, enrolled: Callable[..., TestAgent], tenant: Tenant
    ) -> None:
        dying, survivor = enrolled("dc-host-1"), enrolled("dc-host-2")
        waiting = run_reset(tenant)
        [claimed] = poll_until(dying)
        assert survivor.poll() == []  # claimed, and its agent still heart-beats
        # The first agent dies before it starts: no heartbeat for 40 s, its claim 11 s old.
        Agent.objects.filter(pk=dying.agent_id).update(
            last_heartbeat_at=timezone.now() - timedelta(seconds=40)
        )
        Command.objects.update(claimed_at=timezone.now() - timedelta(seconds=11))

        [command] = survivor.poll()
        assert command["id"] == claimed["id"]
        assert command["idempotency_key"] == claimed["idempotency_key"]
        assert survivor.open(command) == {"new_password": NEW_PASSWORD}  # its own sealed copy
        assert survivor.carry_out(command).status_code == 200
        waiting.join()
        assert waiting.result is not None and waiting.result.ok

        # The first agent comes back: it may neither start nor answer.
        assert dying.start(claimed["id"]).status_code == 409
        assert dying.answer(claimed["id"], "ok").status_code == 409
        assert survivor.applied == [claimed["idempotency_key"]] and dying.applied == []
        row = Command.objects.get()
        assert row.state == "done" and row.claimed_by_id == survivor.agent_id

    def test_revoking_an_agent_hands_its_unstarted_claims_to_another(
        self, enrolled: Callable[..., TestAgent], tenant: Tenant, admin_api: Api
    ) -> None:
        revoked, other = enrolled("dc-host-1"), enrolled("dc-host-2")
        waiting = run_reset(tenant)
        [claimed] = poll_until(revoked)
        admin_api.call("POST", f"/tenants/contoso/agents/{revoked.agent_id}/revocation")
        [command] = other.poll()
        assert command["id"] == claimed["id"]
        other.carry_out(command)
        waiting.join()
        assert waiting.result is not None and waiting.result.ok

    def test_a_long_poll_returns_as_soon_as_work_arrives(
        self, enrolled: Callable[..., TestAgent], tenant: Tenant
    ) -> None:
        agent = enrolled()
        waiting: list[Background] = []

        def later() -> None:
            time.sleep(0.5)
            waiting.append(run_reset(tenant, timeout=3))

        starter = threading.Thread(target=later)
        starter.start()
        began = time.monotonic()
        found = agent.poll(wait=10)
        took = time.monotonic() - began
        starter.join()
        assert len(found) == 1 and 0.4 < took < 2
        agent.carry_out(found[0])
        waiting[0].join()
        assert waiting[0].result is not None and waiting[0].result.ok
        empty_began = time.monotonic()
        assert agent.poll(wait=1) == []
        assert 0.9 < time.monotonic() - empty_began < 2


class TestStatus:
    def test_the_status_line_follows_the_heartbeats(
        self, enrolled: Callable[..., TestAgent], admin_api: Api, tenant: Tenant
    ) -> None:
        listing = admin_api.call("GET", "/tenants/contoso/agents").json()
        assert listing["status"] == "No on-premises writeback client is connected."
        assert listing["healthy"] is False and listing["agents"] == []

        agent = enrolled()
        listing = admin_api.call("GET", "/tenants/contoso/agents").json()
        assert listing["healthy"] is True and listing["status"] == UP_AND_RUNNING
        [summary] = listing["agents"]
        assert summary["name"] == "dc-host-1" and summary["state"] == "online"
        assert summary["agent_version"] == "0.1.0" and "writeback" in summary["capabilities"]

        agent.heartbeat("error", error="Cannot reach ldaps://dc1.corp.test:636")
        listing = admin_api.call("GET", "/tenants/contoso/agents").json()
        assert listing["healthy"] is False
        assert "reports a problem" in listing["status"]
        assert "Cannot reach ldaps://dc1.corp.test:636" in listing["status"]

        Agent.objects.update(last_heartbeat_at=timezone.now() - timedelta(minutes=12))
        listing = admin_api.call("GET", "/tenants/contoso/agents").json()
        assert listing["status"].startswith(
            "Your on-premises writeback client has not been heard from since "
        )
        assert "UTC (12 minutes ago)." in listing["status"]
        assert "Cannot reach" in listing["status"]  # its last error, with when
        assert listing["agents"][0]["state"] == "offline"

    def test_an_agent_that_says_it_stops_gets_no_more_work_at_once(
        self, enrolled: Callable[..., TestAgent], admin_api: Api, tenant: Tenant
    ) -> None:
        agent = enrolled()
        agent.heartbeat("stopped")
        listing = admin_api.call("GET", "/tenants/contoso/agents").json()
        assert listing["healthy"] is False and listing["agents"][0]["state"] == "stopped"
        assert listing["status"].startswith("Your on-premises writeback client was stopped at ")
        with pytest.raises(AgentUnavailable):  # not queued for an agent that is gone
            commands.run(tenant, CommandKind.PING, Target(anchor="", dn=""), {}, {}, timeout=1)
        agent.heartbeat()  # started again
        assert admin_api.call("GET", "/tenants/contoso/agents").json()["healthy"] is True

    def test_the_admin_page_shows_agents_and_makes_tokens(
        self,
        enrolled: Callable[..., TestAgent],
        global_admin: User,
        make_user: Callable[..., User],
        tenant: Tenant,
    ) -> None:
        enrolled()
        page = browser("ga@contoso.com")
        html = page.get("/t/contoso/admin/agents").content.decode()
        assert UP_AND_RUNNING in html and "dc-host-1" in html and "0.1.0" in html
        made = page.post(
            "/t/contoso/admin/agents",
            {"action": "create-token", "csrfmiddlewaretoken": csrf_token(html)},
        )
        assert made.status_code == 200
        shown = made.content.decode()
        assert "shown only this once" in shown and "sspr-agent enroll --url" in shown
        policy = page.get("/t/contoso/admin/password-reset").content.decode()
        assert UP_AND_RUNNING in policy
        html = page.get("/t/contoso/admin/agents").content.decode()
        assert "token-value" not in html  # shown once, in the answer to the POST only
        agent_id = Agent.objects.get().pk
        revoked = page.post(
            "/t/contoso/admin/agents",
            {"action": "revoke", "agent": agent_id, "csrfmiddlewaretoken": csrf_token(html)},
        )
        assert revoked.status_code == 302
        html = page.get("/t/contoso/admin/agents").content.decode()
        assert "The agent dc-host-1 was revoked." in html and "revoked" in html
        assert "No on-premises writeback client is connected." in html

        make_user(tenant, "helpdesk@contoso.com", roles=["helpdesk-administrator"])
        helpdesk = browser("helpdesk@contoso.com")
        html = helpdesk.get("/t/contoso/admin/agents").content.decode()
        assert "Create an enrolment token" not in html
        refused = helpdesk.post(
            "/t/contoso/admin/agents",
            {"action": "create-token", "csrfmiddlewaretoken": csrf_token(html)},
        )
        assert refused.status_code == 403
        assert EnrollmentToken.objects.count() == 2  # the fixture's and the page's


def test_sspr_agent_token_prints_a_token_and_its_expiry(tmp_path: Path) -> None:
    sspr = str(Path(sys.executable).with_name("sspr"))
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in ("DATABASE_URL", "DJANGO_SETTINGS_MODULE", "SECRET_KEY")
    }
    env["SSPR_DATA_DIR"] = str(tmp_path)

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sspr, *args], env=env, capture_output=True, text=True, timeout=120, check=False
        )

    assert run("tenant", "create", "contoso", "--name", "Contoso", "--plan", "p1").returncode == 0
    out = run("agent-token", "contoso")
    assert out.returncode == 0, out.stderr
    token, expiry, command = out.stdout.splitlines()
    assert len(token) >= 40 and " " not in token
    assert expiry.startswith("Expires at ") and "Z (one hour)" in expiry
    assert f"--token {token}" in command
    as_json = json.loads(run("agent-token", "contoso", "--json").stdout)
    assert set(as_json) == {"tenant", "token", "expires_at"}
    missing = run("agent-token", "nowhere")
    assert missing.returncode == 2 and "nowhere" in missing.stderr
