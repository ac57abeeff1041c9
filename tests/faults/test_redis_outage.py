"""Redis taken away and given back: throttling never lets work through unchecked.

With `SSPR_REDIS_FAILURE=database` the same limits are counted in the database while Redis is
away; with `closed` the work that needs a counter is refused with 503 before anything is
checked. Once Redis is back, counting goes back to it. The agents' nonces (replay protection)
are refused rather than guessed at, and the wake-ups of waiting requests fall back to their next
look at the database. A real redis-server is stopped and started in the middle of each test.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import Any

import pytest
import redis
from django.test import Client

from sspr.directory.models import Tenant, User
from sspr.flows.models import ResetFlow
from sspr.hybrid import wakeup
from sspr.policy.sspr_policy import update_policy
from sspr.redis_client import options
from sspr.throttling.models import Counter
from tests.conftest import PASSWORD, Api, browser
from tests.integration.test_hybrid_channel import TestAgent, new_token
from tests.redis_server import RedisServer
from tests.reset_helpers import last_code_to, register_email
from tests.secrets_scan import assert_not_logged

WRONG = "00000000"
# A call that waits for a Redis that is not there must not hold a request for long.
FAIL_FAST = 1.0
PATIENCE = 20.0


def verify_key(tenant: Tenant, upn: str) -> str:
    return f"sspr:throttle:{tenant.pk}:verify:{upn}"


class Reset:
    """One self-service reset through the API, as a client drives it."""

    def __init__(self, tenant: Tenant, user: User) -> None:
        self.client = Client()
        self.tenant = tenant
        self.user = user
        self.id = ""

    def post(self, path: str, body: dict[str, Any]) -> Any:
        return self.client.post(f"/api/v1{path}", body, content_type="application/json")

    def start(self) -> Any:
        started = self.post(
            f"/tenants/{self.tenant.slug}/password-resets", {"username": self.user.upn}
        )
        if started.status_code == 201:
            self.id = started.json()["id"]
        return started

    def challenge(self) -> Any:
        return self.post(f"/password-resets/{self.id}/challenges", {"method": "email"})

    def verify(self, code: str) -> Any:
        began = time.monotonic()
        answer = self.post(
            f"/password-resets/{self.id}/verifications", {"method": "email", "code": code}
        )
        assert time.monotonic() - began < FAIL_FAST
        return answer


@pytest.fixture
def open_reset(tenant: Tenant) -> Callable[[User], Reset]:
    """A reset of `user` with its email code sent; the policy lets everyone reset with email."""
    update_policy(tenant, {"enabled_for": "all", "captcha_enabled": False}, actor="test")

    def make(user: User) -> Reset:
        register_email(user)
        reset = Reset(tenant, user)
        assert reset.start().status_code == 201
        assert reset.challenge().status_code == 202
        return reset

    return make


def outage_lines(caplog: pytest.LogCaptureFixture, user: str) -> tuple[list[str], list[str]]:
    messages = [r.getMessage() for r in caplog.records]
    return (
        [m for m in messages if m.startswith(f"redis_unavailable user={user}")],
        [m for m in messages if m.startswith(f"redis_available_again user={user}")],
    )


class TestFallBackToTheDatabase:
    def test_the_limits_hold_counted_in_the_database(
        self,
        tenant: Tenant,
        alice: User,
        make_user: Callable[..., User],
        open_reset: Callable[[User], Reset],
        redis_server: RedisServer,
        settings: Any,
        every_log_record: pytest.LogCaptureFixture,
    ) -> None:
        """Five wrong codes are checked and the sixth is refused, as with Redis; then Redis
        counts again."""
        settings.REDIS_URL = redis_server.url
        settings.REDIS_FAILURE = "database"
        reset = open_reset(alice)
        code = last_code_to(alice.upn)
        redis_server.stop()

        answers = [reset.verify(WRONG) for _ in range(6)]
        assert [a.status_code for a in answers] == [422] * 5 + [429]
        assert answers[-1].json()["code"] == "sspr_blocked"
        assert reset.verify(code).status_code == 429  # blocked means blocked, right or wrong
        row = Counter.objects.get(tenant_id=tenant.pk, name="verify", key=alice.upn)
        assert row.hits == 5 and row.blocked_until is not None

        redis_server.start()
        bob = make_user(tenant, "bob@contoso.com")
        other = open_reset(bob)
        assert other.verify(WRONG).status_code == 422
        assert redis.Redis.from_url(redis_server.url).get(verify_key(tenant, bob.upn)) == b"1"
        assert not Counter.objects.filter(name="verify", key=bob.upn).exists()

        down, up = outage_lines(every_log_record, "throttling")
        assert down == ["redis_unavailable user=throttling then=database error=ConnectionError"]
        assert len(up) == 1
        assert_not_logged(every_log_record.records, {"the code": code, "the password": PASSWORD})

    def test_a_success_gives_its_hit_back_where_it_was_taken(
        self,
        tenant: Tenant,
        alice: User,
        open_reset: Callable[[User], Reset],
        redis_server: RedisServer,
        settings: Any,
    ) -> None:
        """A hit taken in the database while Redis was away is given back there, not in Redis
        (where it would take off a failure counted before the outage)."""
        settings.REDIS_URL = redis_server.url
        reset = open_reset(alice)
        code = last_code_to(alice.upn)
        assert reset.verify(WRONG).status_code == 422  # counted in Redis
        redis_server.stop()
        assert reset.verify(code).status_code == 200
        row = Counter.objects.get(tenant_id=tenant.pk, name="verify", key=alice.upn)
        assert row.hits == 0
        redis_server.start()
        # Without persistence, the restarted Redis starts empty; nothing was given back to it.
        assert redis.Redis.from_url(redis_server.url).get(verify_key(tenant, alice.upn)) is None


class TestFailClosed:
    def test_work_that_needs_a_counter_is_refused_and_nothing_is_checked(
        self,
        tenant: Tenant,
        alice: User,
        open_reset: Callable[[User], Reset],
        redis_server: RedisServer,
        settings: Any,
        every_log_record: pytest.LogCaptureFixture,
    ) -> None:
        settings.REDIS_URL = redis_server.url
        settings.REDIS_FAILURE = "closed"
        reset = open_reset(alice)
        code = last_code_to(alice.upn)
        redis_server.stop()

        refused = reset.verify(code)  # the right code: refused all the same
        assert refused.status_code == 503
        assert refused.json()["code"] == "throttling_unavailable"
        assert "Nothing was changed" in refused.json()["message"]
        flow = ResetFlow.objects.get(pk=reset.id)
        assert flow.state == ResetFlow.State.AWAITING_VERIFICATION and flow.gates_passed == []
        another = Reset(tenant, alice)
        assert another.start().status_code == 503
        assert not Counter.objects.exists()  # nothing was counted anywhere else either

        redis_server.start()
        assert reset.verify(code).status_code == 200  # the code was never used up
        down, up = outage_lines(every_log_record, "throttling")
        assert down == ["redis_unavailable user=throttling then=closed error=ConnectionError"]
        assert len(up) == 1

    def test_a_page_that_needs_a_counter_answers_with_the_error_page(
        self,
        tenant: Tenant,
        alice: User,
        make_user: Callable[..., User],
        redis_server: RedisServer,
        settings: Any,
    ) -> None:
        """The service desk's view of a user asks whether a limit blocks them: it cannot tell,
        and says so, rather than fail or guess "not blocked"."""
        settings.REDIS_URL = redis_server.url
        settings.REDIS_FAILURE = "closed"
        make_user(tenant, "ga@contoso.com", roles=["global-administrator"])
        admin = browser("ga@contoso.com")
        assert admin.get(f"/t/contoso/admin/users/{alice.upn}").status_code == 200
        redis_server.stop()
        page = admin.get(f"/t/contoso/admin/users/{alice.upn}")
        assert page.status_code == 503
        assert "cannot count attempts right now" in page.content.decode()


class TestAgentNonces:
    def test_agent_requests_are_refused_while_no_nonce_can_be_kept(
        self,
        tenant: Tenant,
        make_user: Callable[..., User],
        redis_server: RedisServer,
        settings: Any,
    ) -> None:
        """Without the nonce store a request cannot be told from a replay: 503, which the
        agent retries. Never accepted unchecked."""
        settings.REDIS_URL = redis_server.url
        settings.CACHES = {
            "default": {
                "BACKEND": "django.core.cache.backends.redis.RedisCache",
                "LOCATION": redis_server.url,
                "OPTIONS": options(),
            }
        }
        make_user(tenant, "ga@contoso.com", roles=["global-administrator"])
        admin = Api()
        assert admin.sign_in("contoso", "ga@contoso.com").status_code == 201
        agent = TestAgent()
        assert agent.enroll(new_token(admin)).status_code == 201
        beat = {
            "agent_version": "0.1.0",
            "capabilities": agent.capabilities,
            "state": "idle",
            "detail": {},
        }
        assert agent.call("POST", "/agent/heartbeats", beat).status_code == 200

        redis_server.stop()
        refused = agent.call("POST", "/agent/heartbeats", beat)
        assert refused.status_code == 503
        assert refused.json()["code"] == "replay_check_unavailable"

        redis_server.start()
        headers = agent.headers("POST", "/api/v1/agent/heartbeats", json.dumps(beat).encode())
        assert agent.call("POST", "/agent/heartbeats", beat, headers=headers).status_code == 200
        replayed = agent.call("POST", "/agent/heartbeats", beat, headers=headers)
        assert replayed.status_code == 401


@pytest.mark.django_db(transaction=True)
def test_wakeups_go_on_in_this_process_and_come_back_across_processes(
    redis_server: RedisServer, settings: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """While Redis is away an announcement still wakes this process's waiters, at once and
    without an error (other processes' waiters see the change at their next look); when it is
    back, announcements from other processes arrive again."""
    settings.REDIS_URL = redis_server.url
    monkeypatch.setattr(wakeup._relay, "_client", None)  # not one left by an earlier test
    other_process = redis.Redis.from_url(redis_server.url)
    with wakeup.listening("agents:77") as waiter:
        for _ in range(200):
            other_process.publish(wakeup.CHANNEL, "agents:77")
            if waiter.wait(0.1):
                break
        else:
            pytest.fail("the Redis relay never woke the waiter")
        other_process.close()

        redis_server.stop()
        began = time.monotonic()
        wakeup.announce("agents:77")
        assert time.monotonic() - began < FAIL_FAST
        assert waiter.wait(PATIENCE) is True

        redis_server.start()
        other_process = redis.Redis.from_url(redis_server.url)
        deadline = time.monotonic() + PATIENCE
        while time.monotonic() < deadline:
            other_process.publish(wakeup.CHANNEL, "agents:77")
            if waiter.wait(0.1):
                break
        else:
            pytest.fail("the relay did not come back with Redis")
        other_process.close()
