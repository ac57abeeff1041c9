"""Any app process serves any request: a flow keeps its state in PostgreSQL and its counters in
Redis or the database, never in one process's memory, so a load balancer needs no stickiness.

Requests go through nginx (round-robin over two `sspr serve` processes); nginx's access log
names the process that served each one, by the request id the test sent.
"""

from __future__ import annotations

import json
import re
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

import pytest

from tests.topology.conftest import PASSWORD, TENANT
from tests.topology.stack import Reply, Stack

pytestmark = pytest.mark.topology

NEW_PASSWORD = "Brand-New-Start-77"
CODE = re.compile(r"\b(\d{8})\b")
LOCKOUT_THRESHOLD = 10  # sspr.directory.lockout.THRESHOLD, as the API shows it
VERIFY_FAILURES = 5  # sspr.throttling.limits.VERIFY_FAILURES, Entra's number


def request_id() -> str:
    return uuid.uuid4().hex


def code_sent_to(stack: Stack, address: str) -> str:
    """The code in the newest message to `address`, read with `sspr outbox`."""
    for message in stack.outbox(address):
        found = CODE.search(message["body"])
        if found:
            return found.group(1)
    pytest.fail(f"no code was sent to {address}")


class Steps:
    """API calls made one after another, each with a request id of its own."""

    def __init__(self, stack: Stack) -> None:
        self.stack = stack
        self.ids: list[str] = []
        self.names: list[str] = []

    def call(
        self, name: str, method: str, path: str, payload: object = None, token: str = ""
    ) -> Reply:
        rid = request_id()
        self.ids.append(rid)
        self.names.append(name)
        reply = self.stack.api(method, path, payload, token=token, request_id=rid)
        assert reply.headers.get("x-request-id") == rid, "the app did not get nginx's request id"
        return reply

    def served_by(self) -> list[str]:
        upstreams = self.stack.nginx.upstreams_of(self.ids)
        return [upstreams[rid] for rid in self.ids]


def sign_in(stack: Stack, upn: str, password: str = PASSWORD) -> str:
    reply = stack.api(
        "POST", f"/tenants/{TENANT}/sessions", {"username": upn, "password": password}
    )
    assert reply.status == 201, reply.text
    return str(reply.json()["token"])


def register_email(steps: Steps, upn: str) -> None:
    """The user proves their address, as the registration page or an app would."""
    reply = steps.call(
        "sign in", "POST", f"/tenants/{TENANT}/sessions", {"username": upn, "password": PASSWORD}
    )
    assert reply.status == 201, reply.text
    token = reply.json()["token"]
    added = steps.call("add email", "POST", "/me/methods", {"method": "email", "value": upn}, token)
    assert added.status == 201, added.text
    confirmed = steps.call(
        "confirm email",
        "POST",
        f"/me/methods/{added.json()['id']}/verification",
        {"code": code_sent_to(steps.stack, upn)},
        token,
    )
    assert confirmed.status == 200, confirmed.text


def served_by_nginx(stack: Stack, path: str) -> str:
    """Which process served one GET of `path` through nginx."""
    rid = request_id()
    stack.call("GET", path, headers={"X-Request-ID": rid})
    return stack.nginx.upstreams_of([rid])[rid]


def at_once(count: int, attempt: Callable[[int], Reply]) -> list[Reply]:
    with ThreadPoolExecutor(max_workers=25) as pool:
        return list(pool.map(attempt, range(count)))


def error_codes(replies: list[Reply]) -> Counter[str]:
    return Counter(str(r.json().get("code", r.status)) for r in replies)


class TestStart:
    def test_processes_started_together_on_an_empty_database_migrate_it_once(
        self, stack: Stack
    ) -> None:
        """Both app processes started at once on a fresh database (stack.py): they took turns
        at the migrations, both serve, and nothing is left to apply."""
        stack.sspr("migrate", "--check")
        for app in stack.apps:
            assert "Traceback" not in app.log.read_text(errors="replace")


class TestOneFlowAcrossProcesses:
    def test_a_whole_reset_moves_between_processes_at_every_step(
        self, stack: Stack, user: str
    ) -> None:
        """Registration, then reset: every step is served by the other process than the step
        before, and the new password signs in (on both)."""
        steps = Steps(stack)
        register_email(steps, user)
        started = steps.call(
            "start", "POST", f"/tenants/{TENANT}/password-resets", {"username": user}
        )
        assert started.status == 201, started.text
        flow = started.json()
        assert [m["method"] for m in flow["methods"]] == ["email"]
        base = f"/password-resets/{flow['id']}"
        challenged = steps.call("challenge", "POST", f"{base}/challenges", {"method": "email"})
        assert challenged.status == 202, challenged.text
        verified = steps.call(
            "verify",
            "POST",
            f"{base}/verifications",
            {"method": "email", "code": code_sent_to(stack, user)},
        )
        assert verified.status == 200, verified.text
        done = steps.call("complete", "POST", f"{base}/completion", {"new_password": NEW_PASSWORD})
        assert done.status == 200, done.text
        for name in ("new password", "new password again"):
            signed_in = steps.call(
                name,
                "POST",
                f"/tenants/{TENANT}/sessions",
                {"username": user, "password": NEW_PASSWORD},
            )
            assert signed_in.status == 201, signed_in.text
        old = steps.call(
            "old password",
            "POST",
            f"/tenants/{TENANT}/sessions",
            {"username": user, "password": PASSWORD},
        )
        assert old.status == 401, old.text

        served = steps.served_by()
        assert set(served) == {app.address for app in stack.apps}
        same = [
            f"{a} -> {b} on {where}"
            for a, b, where, before in zip(
                steps.names[:-1], steps.names[1:], served[1:], served[:-1], strict=True
            )
            if where == before
        ]
        assert same == [], f"consecutive steps on one process: {same} ({served})"


class TestLimitsHoldAcrossProcesses:
    def test_fifty_wrong_codes_at_once_get_five_checks(self, stack: Stack, user: str) -> None:
        """Entra's 5 failed verifications, counted in Redis: 50 guesses at once, spread over
        both processes, and only 5 are checked. Then even the right code is refused on both."""
        register_email(Steps(stack), user)
        flow = stack.api("POST", f"/tenants/{TENANT}/password-resets", {"username": user}).json()
        base = f"/password-resets/{flow['id']}"
        assert stack.api("POST", f"{base}/challenges", {"method": "email"}).status == 202
        right = code_sent_to(stack, user)
        wrong = [c for c in (f"{n:08d}" for n in range(1, 52)) if c != right][:50]
        ids = [request_id() for _ in wrong]

        def guess(i: int) -> Reply:
            return stack.api(
                "POST",
                f"{base}/verifications",
                {"method": "email", "code": wrong[i]},
                request_id=ids[i],
            )

        outcomes = error_codes(at_once(50, guess))
        assert outcomes == {
            "verification_failed": VERIFY_FAILURES,
            "sspr_blocked": 50 - VERIFY_FAILURES,
        }
        assert set(stack.nginx.upstreams_of(ids).values()) == {a.address for a in stack.apps}

        ids = [request_id(), request_id()]
        late = [
            stack.api(
                "POST", f"{base}/verifications", {"method": "email", "code": right}, request_id=rid
            )
            for rid in ids
        ]
        assert error_codes(late) == {"sspr_blocked": 2}
        assert set(stack.nginx.upstreams_of(ids).values()) == {a.address for a in stack.apps}

    def test_thirty_wrong_passwords_at_once_get_the_lockout_threshold_of_checks(
        self, stack: Stack, user: str
    ) -> None:
        """Smart lockout, counted in PostgreSQL: 30 wrong passwords at once over both
        processes, exactly 10 reach the password check; then the right one is locked out too."""
        ids = [request_id() for _ in range(30)]

        def guess(i: int) -> Reply:
            return stack.api(
                "POST",
                f"/tenants/{TENANT}/sessions",
                {"username": user, "password": f"Guess-{i:03d}-xY"},
                request_id=ids[i],
            )

        replies = at_once(30, guess)
        assert error_codes(replies) == {
            "invalid_credentials": LOCKOUT_THRESHOLD,
            "account_locked": 30 - LOCKOUT_THRESHOLD,
        }
        assert {r.status for r in replies} == {401, 429}
        assert set(stack.nginx.upstreams_of(ids).values()) == {a.address for a in stack.apps}
        for _ in stack.apps:
            locked = stack.api(
                "POST", f"/tenants/{TENANT}/sessions", {"username": user, "password": PASSWORD}
            )
            assert locked.status == 429, locked.text


class TestSessionsAcrossProcesses:
    def test_an_api_token_from_one_process_works_on_the_other(
        self, stack: Stack, user: str
    ) -> None:
        steps = Steps(stack)
        token = sign_in(stack, user)
        for _ in range(12):
            me = steps.call("me", "GET", "/me", token=token)
            assert me.status == 200, me.text
            assert me.json()["upn"] == user
        assert set(steps.served_by()) == {app.address for app in stack.apps}

    def test_a_browser_session_and_its_csrf_token_work_on_either_process(
        self, stack: Stack, user: str
    ) -> None:
        """The sign-in form comes from one process and is posted to the other: the CSRF token
        and the session are signed with the shared SECRET_KEY and stored in the database."""
        origin = {"Origin": stack.base_url}
        form = stack.call("GET", f"/t/{TENANT}/sign-in")
        assert form.status == 200, form.text
        csrf_cookie = next(v for k, v in form.cookies.items() if k.endswith("sspr_csrf"))
        found = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', form.text)
        assert found, form.text
        cookie_name = next(k for k in form.cookies if k.endswith("sspr_csrf"))
        assert cookie_name.startswith("__Host-"), "https base URL: __Host- cookies"
        body = (
            f"csrfmiddlewaretoken={found.group(1)}&username={user}&password={PASSWORD}"
        ).encode()
        posted = stack.call(
            "POST",
            f"/t/{TENANT}/sign-in",
            body,
            {
                **origin,
                "Content-Type": "application/x-www-form-urlencoded",
                "Cookie": f"{cookie_name}={csrf_cookie}",
            },
        )
        assert posted.status == 302, posted.text
        session = {k: v for k, v in posted.cookies.items() if k.endswith("sspr_session")}
        assert session, posted.headers
        cookie = "; ".join(f"{k}={v}" for k, v in session.items())
        ids = [request_id() for _ in range(8)]
        for rid in ids:
            page = stack.call(
                "GET", f"/t/{TENANT}/account", headers={"Cookie": cookie, "X-Request-ID": rid}
            )
            assert page.status == 200, (page.status, page.headers.get("location"))
            assert user in page.text
        served = stack.nginx.upstreams_of(ids)
        assert set(served.values()) == {app.address for app in stack.apps}


class TestTheProxy:
    def test_the_app_sees_the_client_address_and_the_request_id_through_nginx(
        self, stack: Stack, user: str
    ) -> None:
        """The audit trail names the client's address, not nginx's, and a forged
        X-Forwarded-For is not believed; nginx's request id is the audit event's."""
        rid = request_id()
        refused = stack.call(
            "POST",
            f"/api/v1/tenants/{TENANT}/sessions",
            json.dumps({"username": user, "password": "Not-The-Password-1"}).encode(),
            {
                "Content-Type": "application/json",
                "X-Forwarded-For": "203.0.113.9",
                "X-Request-ID": rid,
            },
            source="127.0.0.2",
        )
        assert refused.status == 401, refused.text
        assert refused.headers["x-request-id"] == rid
        exported = stack.sspr("audit", "export", TENANT, "--format", "jsonl")
        events = [json.loads(line) for line in exported.splitlines() if line.strip()]
        mine = [e for e in events if e["correlation_id"] == rid]
        assert mine, f"no audit event with the request id {rid}"
        assert {e["ip"] for e in mine} == {"127.0.0.2"}

    def test_only_agent_sync_pages_may_be_large(self, stack: Stack) -> None:
        """nginx lets a 2 MiB sync page through to the app (which wants a signature), and
        stops 2 MiB anywhere else."""
        page = b"{" + b" " * (2 * 1024 * 1024) + b"}"
        json_type = {"Content-Type": "application/json"}
        sync = stack.call("POST", "/api/v1/agent/sync", page, json_type)
        assert sync.status == 401, sync.text
        assert sync.json()["code"]
        other = stack.call("POST", f"/api/v1/tenants/{TENANT}/sessions", page, json_type)
        assert other.status == 413, other.text
        assert "nginx" in other.text


class TestRollingRestart:
    def test_restarting_one_process_under_load_fails_no_request(
        self, stack: Stack, user: str
    ) -> None:
        """A rolling upgrade's step: one process stops (requests in flight finish) and starts
        again while requests keep coming; nginx sends them to the other, none fails."""
        token = sign_in(stack, user)
        stop = threading.Event()
        restarting = threading.Event()
        answers: list[tuple[int, str, bool]] = []

        def load(_: int) -> None:
            while not stop.is_set():
                rid = request_id()
                reply = stack.api("GET", "/me", token=token, request_id=rid)
                answers.append((reply.status, rid, restarting.is_set()))

        first = stack.apps[0]
        with ThreadPoolExecutor(max_workers=4) as pool:
            running = [pool.submit(load, i) for i in range(4)]
            try:
                time.sleep(0.5)
                restarting.set()
                again = stack.restart(first)
            finally:
                stop.set()  # also when the restart fails: the pool waits for the load
            for future in running:
                future.result()
        assert [status for status, _, _ in answers if status != 200] == []
        before = stack.nginx.upstreams_of([rid for _, rid, during in answers if not during])
        assert first.address in before.values(), "the load reached both processes"
        assert sum(during for _, _, during in answers) > 20, "requests went on meanwhile"
        # nginx keeps a process that refused connections out for its fail_timeout (10 s),
        # after which it serves again, as the guide's upgrade loop waits for.
        deadline = time.monotonic() + 20
        while again.address not in served_by_nginx(stack, "/api/v1/health"):
            assert time.monotonic() < deadline, "nginx did not take the process back"
            time.sleep(0.5)
