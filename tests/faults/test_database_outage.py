"""PostgreSQL taken away in the middle of a load, and given back.

A real `sspr serve` on a throwaway cluster, driven as a black box over HTTP by concurrent
clients that sign in, change their passwords and reset them (the codes come by real SMTP).
While they run, the cluster is stopped as in a crash (`pg_ctl stop -m immediate`: every
connection cut at once), then started again. What must hold:

- every answer is a success or a 503 `database_unavailable`, never a 500, never a trace, in
  the answers or in the server's log; the pages answer 503 too, and so does the health check;
- the service serves again by itself once the database is back, without a restart;
- every change answered with success is the password that signs in; every change answered 503
  left the old one. Where the connection broke during the commit itself the answer says
  `"outcome": "unknown"`, and the client finds out which password holds.
"""

from __future__ import annotations

import json
import logging
import re
import secrets
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import psycopg
import pytest
from django.db import OperationalError, connection
from django.test import Client

from sspr.directory.models import User
from sspr.flows import change
from tests.conftest import PASSWORD, Api
from tests.e2e.conftest import Instance, Mailbox, http, mail_server, new_instance, serving
from tests.postgres_server import PostgresCluster

TENANT = "contoso"
DOMAIN = "contoso.com"
ADMIN = f"ga@{DOMAIN}"
ADMIN_PASSWORD = "Admin-Quartz-4417"
WORKERS = 8
OUTAGE_SECONDS = 3.0
# Reset starts and codes are limited to 30 an hour per client address, and every client here
# is 127.0.0.1.
RESET_BUDGET = 16
CODE = re.compile(r"Your code: (\d{6,8})\b")
UNAVAILABLE = "The service cannot reach its database right now."
SUCCESS = {200, 201, 202}


def fresh_password() -> str:
    return f"Fault-{secrets.token_hex(5)}-Aq7"


@dataclass(frozen=True)
class Answer:
    worker: int
    step: str
    sent: float
    received: float
    status: int
    body: bytes

    def json(self) -> Any:
        try:
            return json.loads(self.body)
        except ValueError:
            return {}


@dataclass
class Account:
    upn: str
    password: str
    previous: str = ""
    # (old, new) after an answer that could not say whether the change was made.
    unsure: tuple[str, str] | None = None
    changes: int = 0
    done_at: list[float] = field(default_factory=list)
    token: str = ""


def code_for(mailbox: Mailbox, to: str, since: int, timeout: float = 10.0) -> str:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for mail in mailbox.received(since):
            found = CODE.search(mail.body)
            if to in mail.to and found:
                return found.group(1)
        time.sleep(0.02)
    pytest.fail(f"no code reached {to} within {timeout:.0f} s")


class Load:
    """Concurrent clients, one account each, every answer recorded with its times."""

    def __init__(self, site: Instance, mailbox: Mailbox, accounts: list[Account]) -> None:
        self.site = site
        self.mailbox = mailbox
        self.accounts = accounts
        self.answers: list[Answer] = []
        self.settled: list[str] = []  # what each unsure change turned out to be
        self.lost: list[str] = []  # accounts neither password signs in to
        self.crashed: list[str] = []  # clients that met something they could not handle
        self.stopping = threading.Event()
        self._lock = threading.Lock()
        self._resets_left = RESET_BUDGET
        self._threads = [
            threading.Thread(target=self._run, args=(i, a), name=f"client-{i}", daemon=True)
            for i, a in enumerate(accounts)
        ]

    def __enter__(self) -> Load:
        for thread in self._threads:
            thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stopping.set()
        for thread in self._threads:
            thread.join(timeout=30)

    def wait_until(self, condition: Callable[[], bool], timeout: float, what: str) -> None:
        deadline = time.monotonic() + timeout
        while not condition():
            if time.monotonic() > deadline:
                pytest.fail(f"{what} did not happen within {timeout:.0f} s")
            time.sleep(0.05)

    # -- one client -----------------------------------------------------------------------

    def call(
        self, worker: int, step: str, method: str, path: str, payload: Any, token: str = ""
    ) -> Answer:
        sent = time.monotonic()
        try:
            reply = self.site.api(method, path, payload, token=token)
            status, body = reply.status, reply.body
        except OSError as error:  # the server stopped answering at all: recorded, and fails
            status, body = 0, repr(error).encode()
        answer = Answer(worker, step, sent, time.monotonic(), status, body)
        with self._lock:
            self.answers.append(answer)
        return answer

    def _run(self, worker: int, account: Account) -> None:
        try:
            self._loop(worker, account)
        except BaseException as error:  # noqa: BLE001 -- reported by the test, not the thread
            self.crashed.append(f"client {worker}: {error!r}")
            self.stopping.set()

    def _loop(self, worker: int, account: Account) -> None:
        rounds = 0
        while not self.stopping.is_set():
            if account.unsure is not None:
                self._settle(worker, account)
                continue
            rounds += 1
            if rounds % 4 == 0:
                account.token = ""  # sign in afresh now and then, not only after a reset
            done = (
                self._reset(worker, account)
                if rounds % 3 == 0 and self._may_reset()
                else self._change(worker, account)
            )
            if not done:
                time.sleep(0.05)

    def _may_reset(self) -> bool:
        with self._lock:
            return self._resets_left > 0

    def resets_done(self) -> int:
        return sum(1 for a in self.answers if a.step == "reset-complete" and a.status == 200)

    def _changed(self, account: Account, answer: Answer, new: str) -> bool:
        if answer.status == 200:
            account.previous, account.password = account.password, new
            account.changes += 1
            account.done_at.append(answer.sent)
            return True
        if answer.status == 503 and answer.json().get("outcome") == "unknown":
            account.unsure = (account.password, new)
        return False

    def _change(self, worker: int, account: Account) -> bool:
        if not account.token:
            signed_in = self.call(
                worker,
                "sign-in",
                "POST",
                f"/tenants/{TENANT}/sessions",
                {"username": account.upn, "password": account.password},
            )
            if signed_in.status != 201:
                return False
            account.token = signed_in.json()["token"]
        new = fresh_password()
        changed = self.call(
            worker,
            "change",
            "POST",
            "/me/password",
            {"current_password": account.password, "new_password": new},
            token=account.token,  # a change keeps the session it was made in
        )
        return self._changed(account, changed, new)

    def _reset(self, worker: int, account: Account) -> bool:
        account.token = ""  # a completed reset ends every session
        started = self.call(
            worker,
            "reset-start",
            "POST",
            f"/tenants/{TENANT}/password-resets",
            {"username": account.upn},
        )
        if started.status != 503:  # refused before it counted, or counted
            with self._lock:
                self._resets_left -= 1
        if started.status != 201:
            return False
        flow = started.json()["id"]
        since = len(self.mailbox)
        asked = self.call(
            worker, "reset-challenge", "POST", f"/password-resets/{flow}/challenges",
            {"method": "email"},
        )  # fmt: skip
        if asked.status != 202:
            return False
        code = code_for(self.mailbox, account.upn, since)
        verified = self.call(
            worker, "reset-verify", "POST", f"/password-resets/{flow}/verifications",
            {"method": "email", "code": code},
        )  # fmt: skip
        if verified.status != 200:
            return False
        new = fresh_password()
        completed = self.call(
            worker, "reset-complete", "POST", f"/password-resets/{flow}/completion",
            {"new_password": new},
        )  # fmt: skip
        return self._changed(account, completed, new)

    def _settle(self, worker: int, account: Account) -> None:
        """Which of the two passwords holds: one of them must, never both."""
        assert account.unsure is not None
        old, new = account.unsure
        for candidate in (new, old):
            answer = self.call(
                worker,
                "settle",
                "POST",
                f"/tenants/{TENANT}/sessions",
                {"username": account.upn, "password": candidate},
            )
            if answer.status == 503:  # the database is not back yet
                time.sleep(0.1)
                return
            if answer.status == 201:
                if candidate == new:
                    account.previous, account.password = old, new
                    account.changes += 1
                    account.done_at.append(answer.sent)
                self.settled.append("made" if candidate == new else "not made")
                account.unsure = None
                return
        self.lost.append(account.upn)
        account.unsure = None
        self.stopping.set()


# --- The instance ---------------------------------------------------------------------------


@dataclass
class Site:
    instance: Instance
    mailbox: Mailbox
    accounts: list[Account]
    cluster: PostgresCluster


def _register_email(site: Instance, mailbox: Mailbox, upn: str, password: str) -> None:
    token = site.api_sign_in(upn, password).json()["token"]
    since = len(mailbox)
    added = site.api("POST", "/me/methods", {"method": "email", "value": upn}, token=token)
    assert added.status == 201, added.text
    code = code_for(mailbox, upn, since)
    confirmed = site.api(
        "POST", f"/me/methods/{added.json()['id']}/verification", {"code": code}, token=token
    )
    assert confirmed.status == 200, confirmed.text


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory, postgres: PostgresCluster) -> Iterator[Site]:
    with mail_server() as mailbox:
        instance = new_instance(
            tmp_path_factory.mktemp("sspr-faults"),
            extra_env={
                **mailbox.env,
                "DATABASE_URL": postgres.url,
                # Cheaper hashing: the load is about the database, not about Argon2.
                "SSPR_ARGON2_TIME_COST": "1",
                "SSPR_ARGON2_MEMORY_KIB": "8192",
            },
        )
        instance.sspr("tenant", "create", TENANT, "--name", "Contoso", "--plan", "p1")
        instance.sspr(
            "policy", "set", TENANT, "enabled_for=all", "captcha_enabled=false",
            "methods_enabled=email", "methods_required=1",
        )  # fmt: skip
        instance.sspr(
            "user", "create", TENANT, ADMIN, "--password", ADMIN_PASSWORD,
            "--role", "global-administrator",
        )  # fmt: skip
        with serving(instance):
            admin = instance.api_sign_in(ADMIN, ADMIN_PASSWORD).json()["token"]
            accounts = []
            for i in range(WORKERS):
                account = Account(f"load{i}@{DOMAIN}", fresh_password())
                created = instance.api(
                    "POST", f"/tenants/{TENANT}/users",
                    {"upn": account.upn, "password": account.password, "mail": account.upn,
                     "must_change_password": False},
                    token=admin,
                )  # fmt: skip
                assert created.status == 201, created.text
                _register_email(instance, mailbox, account.upn, account.password)
                accounts.append(account)
            yield Site(instance, mailbox, accounts, postgres)


# --- The test -------------------------------------------------------------------------------


def _acceptable(answer: Answer) -> bool:
    if answer.status in SUCCESS:
        return True
    if answer.status == 401 and answer.step == "settle":  # the password that did not hold
        return answer.json().get("code") == "invalid_credentials"
    return answer.status == 503 and answer.json().get("code") == "database_unavailable"


def _audited_changes(cluster: PostgresCluster) -> Counter[str]:
    with psycopg.connect(cluster.url.replace("postgres://", "postgresql://")) as db:
        rows = db.execute(
            "SELECT target, count(*) FROM audit_auditevent WHERE result = 'success' "
            "AND activity IN ('Change password (self-service)', 'Reset password (self-service)') "
            "GROUP BY target"
        ).fetchall()
        stuck = db.execute(
            "SELECT count(*) FROM flows_resetflow WHERE state = 'completing'"
        ).fetchone()
    assert stuck == (0,), "a reset was left half-completed"
    return Counter({str(target): int(count) for target, count in rows})


def test_a_database_restart_mid_load_answers_503_and_then_serves_again(site: Site) -> None:
    instance, cluster = site.instance, site.cluster
    health: list[tuple[int, Any]] = []
    pages: list[tuple[int, str, str]] = []
    started = time.monotonic()

    with Load(instance, site.mailbox, site.accounts) as load:
        load.wait_until(
            lambda: all(a.changes >= 2 for a in site.accounts) and load.resets_done() >= 2,
            30,
            "two changes for every client, and two resets",
        )
        resets_before = load.resets_done()
        stopping_at = time.monotonic()
        cluster.stop("immediate")
        down_at = time.monotonic()
        while time.monotonic() < down_at + OUTAGE_SECONDS:
            checked = http("GET", instance.url("/api/v1/health"))
            health.append((checked.status, checked.json()))
            page = http("GET", instance.page_url("sign-in"))
            pages.append((page.status, page.headers.get("content-type", ""), page.text))
            time.sleep(0.25)
        restarting_at = time.monotonic()
        cluster.start()
        back_at = time.monotonic()
        load.wait_until(
            lambda: (
                all(sum(t > back_at for t in a.done_at) >= 2 for a in site.accounts)
                or load.stopping.is_set()
            ),
            60,
            "two changes for every client after the database came back",
        )
        load.wait_until(
            lambda: load.resets_done() > resets_before or load.stopping.is_set(),
            30,
            "a reset after the database came back",
        )

    answers = load.answers
    before = [a for a in answers if a.received < stopping_at]
    during = [a for a in answers if a.sent >= down_at and a.received <= restarting_at]
    after = [a for a in answers if a.sent >= back_at]
    classified = {id(a) for a in (*before, *during, *after)}
    summary = {
        "answers": len(answers),
        "by step": Counter(f"{a.step} {a.status}" for a in answers),
        "before": Counter(a.status for a in before),
        "during": Counter(a.status for a in during),
        "across a boundary": Counter(a.status for a in answers if id(a) not in classified),
        "after": Counter(a.status for a in after),
        "unsure changes": Counter(load.settled),
        "seconds": round(time.monotonic() - started, 1),
    }
    print(f"\ndatabase outage under load: {summary}")

    assert not load.crashed, load.crashed
    assert not load.lost, f"neither the old nor the new password signs in: {load.lost}"
    unexpected = [(a.step, a.status, a.body[:300]) for a in answers if not _acceptable(a)]
    assert not unexpected, unexpected
    assert all(b"Traceback" not in a.body for a in answers)

    # The load met the outage, and every answer then was the 503.
    assert len(during) >= WORKERS, summary
    assert {a.status for a in during} == {503}, summary
    said = {a.json()["message"] for a in during if a.json().get("outcome") != "unknown"}
    assert all(message.startswith(UNAVAILABLE) for message in said), said
    assert 503 not in {a.status for a in after}, summary

    assert health and all(
        status == 503 and body["database"] == "unavailable" for status, body in health
    ), health
    assert http("GET", instance.url("/api/v1/health")).json()["database"] == "ok"
    for status, content_type, text in pages:
        assert status == 503 and content_type.startswith("text/html"), (status, text[:300])
        assert UNAVAILABLE in text and "Traceback" not in text
    assert http("GET", instance.page_url("sign-in")).status == 200

    served = (instance.data_dir / "serve.log").read_text(errors="replace")
    assert "Traceback" not in served, served[-3000:]
    assert "database_unavailable" in served

    # What was answered is what happened.
    audited = _audited_changes(cluster)
    for account in site.accounts:
        signed_in = instance.api_sign_in(account.upn, account.password)
        assert signed_in.status == 201, (account.upn, signed_in.text)
        if account.previous:
            assert instance.api_sign_in(account.upn, account.previous).status == 401
        assert audited[account.upn] == account.changes, (account.upn, audited, account.changes)


# --- At the edge, in process: the answers for each place an outage can strike ---------------

NEW = "Bright-Comet-77"
CUT = "server closed the connection unexpectedly"


def change_password(api: Api) -> Any:
    return api.call("POST", "/me/password", {"current_password": PASSWORD, "new_password": NEW})


class CutAfterCommit:
    """The driver's connection, whose next commit reaches the server and whose answer is then
    lost: what a crash between the two looks like from the service."""

    def __init__(self, real: Any) -> None:
        self.real = real

    def commit(self) -> None:
        self.real.commit()
        connection.connection = self.real
        raise connection.Database.OperationalError(CUT)  # the driver's own, as a real cut

    def __getattr__(self, name: str) -> Any:
        return getattr(self.real, name)


@pytest.mark.django_db
class TestAnswers:
    def test_an_outage_inside_the_transaction_changes_nothing(
        self, api: Api, alice: User, make_api: Callable[[], Api], monkeypatch: pytest.MonkeyPatch
    ) -> None:
        other = make_api()
        assert other.sign_in("contoso", alice.upn).status_code == 201
        api.sign_in("contoso", alice.upn)

        def cut(*args: Any, **kwargs: Any) -> None:
            raise OperationalError(CUT)

        monkeypatch.setattr(change, "record", cut)  # the last write of the change
        answer = change_password(api)
        assert answer.status_code == 503
        assert answer["Retry-After"] == "5"
        assert answer.json() == {
            "code": "database_unavailable",
            "message": "The service cannot reach its database right now. Nothing was changed. "
            "Try again in a moment.",
        }
        monkeypatch.undo()
        assert make_api().sign_in("contoso", alice.upn, PASSWORD).status_code == 201
        assert other.call("GET", "/me").status_code == 200  # no session was ended either

    def test_a_page_answers_with_the_error_page(
        self, alice: User, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        def cut(*args: Any, **kwargs: Any) -> None:
            raise OperationalError(CUT)

        monkeypatch.setattr("sspr.web.pages.get_tenant", cut)
        answer = Client().get("/t/contoso/sign-in")
        assert answer.status_code == 503
        assert answer["Content-Type"].startswith("text/html")
        page = answer.content.decode()
        assert "Sorry" in page and "cannot reach its database right now" in page
        assert CUT not in page

    def test_an_outage_after_the_view_answers_503_without_a_traceback_in_the_log(
        self, alice: User, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
    ) -> None:
        """Middleware that saves the session runs after the view: its failure reaches
        Django's 500 handler, which answers 503 for an outage, and Django's log line about it
        keeps no traceback."""

        def cut(*args: Any, **kwargs: Any) -> None:
            raise OperationalError(CUT)

        monkeypatch.setattr(
            "django.contrib.sessions.middleware.SessionMiddleware.process_response", cut
        )
        caplog.set_level(logging.INFO)
        answer = Client(raise_request_exception=False).get("/t/contoso/sign-in")
        assert answer.status_code == 503
        assert "cannot reach its database right now" in answer.content.decode()
        logged = [r for r in caplog.records if r.name == "django.request"]
        assert logged and all(r.exc_info is None for r in logged)


@pytest.mark.django_db(transaction=True)
def test_a_commit_cut_off_is_answered_as_unknown(
    api: Api, alice: User, make_api: Callable[[], Api], monkeypatch: pytest.MonkeyPatch
) -> None:
    """When the connection breaks during the commit itself the server may have committed:
    the answer does not claim that nothing was changed. Here it had."""
    api.sign_in("contoso", alice.upn)
    record = change.record

    def then_cut_the_commit(*args: Any, **kwargs: Any) -> Any:
        event = record(*args, **kwargs)
        connection.connection = CutAfterCommit(connection.connection)
        return event

    monkeypatch.setattr(change, "record", then_cut_the_commit)
    answer = change_password(api)
    assert answer.status_code == 503
    assert answer.json()["code"] == "database_unavailable"
    assert answer.json()["outcome"] == "unknown"
    assert "cannot tell whether your change was made" in answer.json()["message"]
    assert make_api().sign_in("contoso", alice.upn, NEW).status_code == 201
