"""The hybrid scenarios, the same against each directory (test_writeback_*.py run them).

A `Hybrid` is one served opensspr (tenant `contoso` on plan p1, set up with the `sspr` command
line), one or two `sspr-agent run` processes enrolled with `sspr agent-token`, and a directory
(onprem.py) holding the people the scenarios use. Everything is done through the public HTTP API
and the directory itself (ldap3); the service's SQLite file is only read, to look for what the API
does not show (commands stuck, secrets at rest).
"""

from __future__ import annotations

import contextlib
import json
import secrets
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tests.hybrid.harness import TENANT, AgentProcess, Reply, Service, wait_for
from tests.hybrid.onprem import OnPrem, Person

UP_AND_RUNNING = "Your on-premises writeback client is up and running."
UNLOCK_ACTIVITY = "Unlock user account (self-service)"
SYNC_TIMEOUT = 45.0  # a delta comes within the agent's 10 s interval, or when asked for
# Who the scenarios need in the directory, with their given and family names.
PEOPLE = {
    "ada": ("Ada", "Lovelace"),  # sync
    "bob": ("Bob", "Marley"),  # sync
    "pat": ("Pat", "Through"),  # pass-through
    "lou": ("Lou", "Locked"),  # locked on premises at sign-in
    "rita": ("Rita", "Reset"),  # self-service reset
    "hal": ("Hal", "History"),  # self-service reset to a password in the history
    "rex": ("Rex", "Short"),  # self-service reset to a password too short for the directory
    "chad": ("Chad", "Change"),  # self-service change
    "adam": ("Adam", "Admin"),  # admin reset
    "una": ("Una", "Unlock"),  # unlock
    "dora": ("Dora", "Down"),  # agent down
    **{f"c{i:02}": ("Cora", f"Concurrent{i:02}") for i in range(1, 21)},  # two agents
}
CONCURRENT = [f"c{i:02}" for i in range(1, 21)]


def new_password() -> str:
    """A fresh password that the service's rules accept (and the directory's: 15 characters)."""
    return f"Pw#{secrets.token_hex(4)}-Xy7"


@dataclass
class Hybrid:
    service: Service
    side: OnPrem
    root: Path
    admin_upn: str = ""
    admin_token: str = ""
    agents: list[AgentProcess] = field(default_factory=list)
    people: dict[str, Person] = field(default_factory=dict)
    groups: dict[str, str] = field(default_factory=dict)  # key → group name
    secrets: set[str] = field(default_factory=set)  # every password the test used
    notes: list[str] = field(default_factory=list)

    # ------------------------------------------------------------------ set-up
    def password(self) -> str:
        value = new_password()
        self.secrets.add(value)
        return value

    def add_person(self, key: str) -> Person:
        given, family = PEOPLE.get(key, (key.title(), "Person"))
        person = self.side.add_person(key, self.password(), given, family)
        self.people[key] = person
        return person

    def add_agent(self, name: str) -> AgentProcess:
        token = json.loads(self.service.sspr("agent-token", TENANT, "--json"))["token"]
        agent = AgentProcess(self.root, name)
        agent.enroll(self.service, token, self.side.access)
        agent.start(sync_interval=10)
        self.agents.append(agent)
        return agent

    # ------------------------------------------------------------------ the API
    def api(self, method: str, path: str, payload: Any = None, token: str = "") -> Reply:
        return self.service.api(method, path, payload, token)

    def admin(self, method: str, path: str, payload: Any = None) -> Reply:
        return self.api(method, f"/tenants/{TENANT}{path}", payload, self.admin_token)

    def sign_in(self, upn: str, password: str) -> Reply:
        return self.api(
            "POST", f"/tenants/{TENANT}/sessions", {"username": upn, "password": password}
        )

    def token_of(self, person: Person) -> str:
        reply = self.sign_in(person.upn, person.password)
        assert reply.status == 201, reply
        return str(reply.json()["token"])

    def users(self) -> dict[str, dict[str, Any]]:
        reply = self.admin("GET", "/users?limit=500")
        assert reply.status == 200, reply
        return {u["upn"]: u for u in reply.json()["items"]}

    def register_email(self, person: Person, token: str) -> None:
        started = self.api("POST", "/me/methods", {"method": "email", "value": person.mail}, token)
        assert started.status == 201, started
        code = self.service.new_code(person.mail)
        confirmed = self.api(
            "POST", f"/me/methods/{started.json()['id']}/verification", {"code": code}, token
        )
        assert confirmed.status == 200 and confirmed.json()["state"] == "active", confirmed

    def verified_reset(self, person: Person) -> str:
        """A self-service reset flow of `person`, through the email gate; returns its id."""
        started = self.api("POST", f"/tenants/{TENANT}/password-resets", {"username": person.upn})
        assert started.status == 201, started
        flow = started.json()
        assert [m["method"] for m in flow["methods"]] == ["email"], flow
        sent = self.api("POST", f"/password-resets/{flow['id']}/challenges", {"method": "email"})
        assert sent.status == 202, sent
        # A decoy flow (a user who may not reset) sends nothing: the wait would say so.
        code = self.service.new_code(person.mail)
        verified = self.api(
            "POST",
            f"/password-resets/{flow['id']}/verifications",
            {"method": "email", "code": code},
        )
        assert verified.status == 200 and verified.json()["state"] == "verified", verified
        return str(flow["id"])

    def complete(self, flow_id: str, payload: dict[str, Any]) -> Reply:
        return self.api("POST", f"/password-resets/{flow_id}/completion", payload)

    def change(self, token: str, current: str, new: str) -> Reply:
        return self.api(
            "POST", "/me/password", {"current_password": current, "new_password": new}, token
        )

    def table(self, suffix: str) -> str:
        names = [
            row[0]
            for row in self.service.query("SELECT name FROM sqlite_master WHERE type = 'table'")
            if row[0].endswith(suffix)
        ]
        assert len(names) == 1, (suffix, names)
        return str(names[0])


@contextlib.contextmanager
def running(root: Path, side: OnPrem) -> Iterator[Hybrid]:
    """The directory populated, the service served and set up, one agent running and synced."""
    service = Service(root)
    hy = Hybrid(service=service, side=side, root=root)
    hy.secrets.add(side.bind_password)
    for key in PEOPLE:
        hy.add_person(key)
    p = hy.people
    staff = side.add_group("staff", [p["ada"].dn, p["bob"].dn])
    side.add_group("everyone", [staff, p["pat"].dn])  # nested: staff is a member
    hy.groups = {"staff": f"{side.prefix}-staff", "everyone": f"{side.prefix}-everyone"}

    service.sspr(
        "tenant", "create", TENANT, "--name", "Contoso", "--plan", "p1",
        "--domain", "contoso.com", "--domain", p["ada"].upn.split("@")[1],
    )  # fmt: skip
    service.sspr(
        "policy", "set", TENANT, "enabled_for=all", "captcha_enabled=false",
        "writeback_enabled=true", "unlock_enabled=true", "methods_enabled=email,sms,totp",
        "methods_required=1",
    )  # fmt: skip
    hy.admin_upn = "ga@contoso.com"
    admin_password = hy.password()
    service.sspr(
        "user", "create", TENANT, hy.admin_upn, "--password", admin_password,
        "--email", hy.admin_upn, "--role", "global-administrator",
    )  # fmt: skip
    try:
        service.start()
        signed_in = hy.sign_in(hy.admin_upn, admin_password)
        assert signed_in.status == 201, signed_in
        hy.admin_token = signed_in.json()["token"]
        hy.add_agent("agent-1")

        expected = {person.upn for person in p.values()}

        def synced() -> bool:
            users = hy.users()
            return expected <= {u for u, item in users.items() if item["source"] == "synced"}

        wait_for("the directory's people synced to the tenant", synced, SYNC_TIMEOUT, 0.5)
        yield hy
    finally:
        for agent in hy.agents:
            agent.stop()
        service.stop()
        print("\n".join(hy.notes))


# ---------------------------------------------------------------------------------- scenarios
def sync(hy: Hybrid) -> None:
    """Users and groups arrive from the directory; the agent is up and running."""
    hy.add_person("late")  # after the full sync: it comes with a delta
    users = hy.users()
    for key, person in hy.people.items():
        if key == "late":
            continue
        user = users[person.upn]
        assert user["source"] == "synced", user
        assert user["enabled"] is True
        assert (user["given_name"], user["family_name"]) == (person.given_name, person.family_name)
        assert user["display_name"] == person.display_name
        assert user["mail"] == person.mail
    assert users[hy.admin_upn]["source"] == "cloud"

    members = hy.service.sspr("group", "members", TENANT, hy.groups["staff"]).split()
    assert members == sorted([hy.people["ada"].upn, hy.people["bob"].upn])
    everyone = hy.service.sspr("group", "members", TENANT, hy.groups["everyone"]).split()
    assert everyone == sorted(hy.people[k].upn for k in ("ada", "bob", "pat"))  # nested too

    # Asked for now: the agent's waiting long poll is told at once (see delta()).
    asked = hy.admin("POST", "/sync-requests", {"mode": "delta"})
    assert asked.status == 202, asked
    assert asked.json()["requested"] == "delta"

    status = hy.admin("GET", "/agents")
    assert status.status == 200, status
    body = status.json()
    assert body["healthy"] is True and body["status"] == UP_AND_RUNNING, body
    (agent,) = body["agents"]
    assert agent["state"] == "online" and agent["name"] == "agent-1", agent
    assert agent["directory_kind"] == hy.side.kind
    assert {"sync", "writeback", "unlock", "passthrough"} <= set(agent["capabilities"])
    assert body["sync"]["last_full"], body["sync"]

    report = hy.agents[0].status()
    assert report["running"] is True and report["tenant"] == TENANT, report
    assert report["sync"]["last_full"]["status"] == "done", report


def delta(hy: Hybrid) -> None:
    """The person added to the directory after the full sync (in sync()) arrives by a delta."""
    late = hy.people["late"]
    wait_for(f"{late.upn} synced by a delta", lambda: late.upn in hy.users(), SYNC_TIMEOUT, 0.5)
    arrived = hy.users()[late.upn]
    assert arrived["source"] == "synced" and arrived["display_name"] == late.display_name
    wait_for(
        "the agent's status tells of a delta",
        lambda: hy.agents[0].status()["sync"]["last_delta"],
        10,
    )
    assert hy.sign_in(late.upn, late.password).status == 201


def pass_through(hy: Hybrid) -> None:
    """A synced user signs in with the directory's password; wrong is 401; locked is told."""
    pat = hy.people["pat"]
    signed_in = hy.sign_in(pat.upn, pat.password)
    assert signed_in.status == 201, signed_in
    assert signed_in.json()["user"]["source"] == "synced"
    assert signed_in.json()["must_change_password"] is False
    me = hy.api("GET", "/me", token=signed_in.json()["token"])
    assert me.status == 200 and me.json()["upn"] == pat.upn, me

    wrong = hy.password()
    refused = hy.sign_in(pat.upn, wrong)
    assert refused.status == 401, refused
    assert refused.json() == {
        "code": "invalid_credentials",
        "message": "Your account or password is incorrect.",
    }
    nobody = hy.sign_in(f"nobody@{pat.upn.split('@')[1]}", wrong)
    assert nobody.status == 401 and nobody.json() == refused.json(), nobody  # generic
    assert hy.side.binds(pat, pat.password)  # the failure was the directory's, once

    lou = hy.people["lou"]
    hy.side.lock(lou, hy.password())
    locked = hy.sign_in(lou.upn, lou.password)
    assert locked.status == 423, locked
    assert locked.json()["code"] == "account_locked_on_premises"
    assert "locked in your organisation's directory" in locked.json()["message"]


def self_service_reset(hy: Hybrid) -> None:
    """Register email, reset through the password-resets API; the directory has the new one."""
    rita = hy.people["rita"]
    token = hy.token_of(rita)
    hy.register_email(rita, token)
    flow = hy.verified_reset(rita)
    new = hy.password()
    done = hy.complete(flow, {"new_password": new})
    assert done.status == 200 and done.json()["state"] == "completed", done
    old, rita.password = rita.password, new
    assert hy.side.password_state(rita, new) == "ok"
    assert hy.side.password_state(rita, old) == "wrong"
    assert hy.side.binds(rita, new)
    assert hy.api("GET", "/me", token=token).status == 401  # every session ended
    again = hy.sign_in(rita.upn, new)
    assert again.status == 201 and again.json()["must_change_password"] is False, again
    assert hy.sign_in(rita.upn, old).status == 401
    assert hy.side.binds(rita, new)


def reset_to_a_password_in_history(hy: Hybrid) -> None:
    """A second reset to a password the directory's history holds is refused by the directory."""
    hal = hy.people["hal"]
    hy.register_email(hal, hy.token_of(hal))
    first = hy.password()
    done = hy.complete(hy.verified_reset(hal), {"new_password": first})
    assert done.status == 200, done
    initial, hal.password = hal.password, first
    assert hy.side.binds(hal, first)

    refused = hy.complete(hy.verified_reset(hal), {"new_password": initial})
    assert refused.status == 422, refused
    assert refused.json()["code"] == "directory_password_in_history", refused
    assert "used it before" in refused.json()["message"]
    assert hy.side.binds(hal, first)  # nothing changed
    assert hy.side.password_state(hal, initial) == "wrong"


def short_password(hy: Hybrid) -> str:
    """11 characters of 4 kinds: the service's rules (8, 3 kinds) accept it, the directory's
    minimum of 12 does not."""
    value = f"Sh#{secrets.token_hex(3)}Z9"
    hy.secrets.add(value)
    return value


def reset_to_a_password_too_short_for_the_directory(hy: Hybrid) -> None:
    """The directory's own minimum length refuses a reset; the flow stays verified."""
    rex = hy.people["rex"]
    hy.register_email(rex, hy.token_of(rex))
    flow = hy.verified_reset(rex)
    short = short_password(hy)
    refused = hy.complete(flow, {"new_password": short})
    assert refused.status == 422, refused
    assert refused.json()["code"] == "directory_password_too_short", refused
    assert "directory refused the password: it is too short" in refused.json()["message"]
    assert hy.side.password_state(rex, short) == "wrong"
    assert hy.side.binds(rex, rex.password)  # nothing changed

    new = hy.password()  # the same flow, another password
    done = hy.complete(flow, {"new_password": new})
    assert done.status == 200, done
    rex.password = new
    assert hy.side.binds(rex, new)


def self_service_change(hy: Hybrid) -> None:
    """The user's own change: accepted; wrong current; the directory's length and history."""
    chad = hy.people["chad"]
    token = hy.token_of(chad)
    new = hy.password()
    changed = hy.change(token, chad.password, new)
    assert changed.status == 200, changed
    old, chad.password = chad.password, new
    assert hy.side.password_state(chad, old) == "wrong"
    assert hy.side.binds(chad, new)
    assert hy.api("GET", "/me", token=token).status == 200  # this session is kept
    assert hy.users()[chad.upn]["password_last_set"]
    writes = hy.side.password_writes(chad)

    wrong = hy.change(token, hy.password(), hy.password())
    assert wrong.status == 422, wrong
    assert wrong.json()["code"] == "current_password_incorrect"
    assert wrong.json()["message"] == "Your current password is incorrect."
    assert hy.side.binds(chad, new)

    # The service's rules accept it, the directory's minimum does not: its refusal reaches the
    # user in its own words.
    short = short_password(hy)
    too_short = hy.change(token, chad.password, short)
    assert too_short.status == 422, too_short
    assert too_short.json()["code"] == "directory_password_too_short", too_short
    assert "directory refused the password: it is too short" in too_short.json()["message"]
    assert hy.side.password_state(chad, short) == "wrong"
    assert hy.side.binds(chad, new)

    in_history = hy.change(token, chad.password, old)
    assert in_history.status == 422, in_history
    assert in_history.json()["code"] == "directory_password_in_history", in_history
    assert "used it before" in in_history.json()["message"]
    assert hy.side.binds(chad, new)
    assert hy.side.password_writes(chad) == writes  # no refused change wrote anything


def admin_reset(hy: Hybrid) -> None:
    """A Global Administrator resets a synced user: a temporary password, must change."""
    adam = hy.people["adam"]
    token = hy.token_of(adam)
    reply = hy.admin("POST", f"/users/{adam.upn}/password-reset", {})
    assert reply.status == 200, reply
    temporary = reply.json()["temporary_password"]
    hy.secrets.add(temporary)
    assert reply.json()["must_change_password"] is True
    old, adam.password = adam.password, temporary
    assert hy.side.must_change_flag(adam)  # OpenLDAP pwdReset TRUE, AD pwdLastSet 0
    assert hy.side.password_state(adam, temporary) == "must_change"  # AD: bind answers 773
    assert hy.side.password_state(adam, old) == "wrong"
    assert hy.api("GET", "/me", token=token).status == 401  # every session ended
    assert hy.users()[adam.upn]["must_change_password"] is True

    signed_in = hy.sign_in(adam.upn, temporary)
    assert signed_in.status == 201, signed_in
    assert signed_in.json()["must_change_password"] is True
    chosen = hy.password()
    changed = hy.change(signed_in.json()["token"], temporary, chosen)
    assert changed.status == 200, changed
    adam.password = chosen
    assert hy.side.binds(adam, chosen)
    assert not hy.side.must_change_flag(adam)
    assert hy.users()[adam.upn]["must_change_password"] is False


def unlock(hy: Hybrid) -> None:
    """Locked on premises by failed binds; a reset flow ending in "unlock" unlocks, audited."""
    una = hy.people["una"]
    hy.register_email(una, hy.token_of(una))
    hy.side.lock(una, hy.password())
    assert hy.side.password_state(una, una.password) == "locked"
    assert hy.sign_in(una.upn, una.password).status == 423

    done = hy.complete(hy.verified_reset(una), {"action": "unlock"})
    assert done.status == 200 and done.json()["state"] == "completed", done
    assert not hy.side.is_locked(una)
    assert hy.side.binds(una, una.password)  # the password is the old one, unlocked
    assert hy.sign_in(una.upn, una.password).status == 201

    audit = hy.table("auditevent")
    rows = hy.service.query(
        f'SELECT result, actor, target FROM "{audit}" WHERE activity = ?',  # noqa: S608
        UNLOCK_ACTIVITY,
    )
    assert ("success", una.upn, una.upn) in rows, rows


def agent_down(hy: Hybrid) -> None:
    """No agent: a reset completion and a change fail cleanly; the directory is untouched."""
    dora = hy.people["dora"]
    token = hy.token_of(dora)
    hy.register_email(dora, token)
    flow = hy.verified_reset(dora)
    agent = hy.agents[0]
    agent.stop()
    assert agent.state()["agent"]["state"] == "stopped"

    first, second = hy.password(), hy.password()
    with ThreadPoolExecutor(2) as pool:
        completing = pool.submit(hy.complete, flow, {"new_password": first})
        changing = pool.submit(hy.change, token, dora.password, second)
        replies = [completing.result(), changing.result()]
    for reply in replies:
        # 503 when the service knows no agent is live; 504 while the stopped one still counts
        # as live (90 s after its last heartbeat) and nobody takes the command.
        assert reply.status in (503, 504), reply
        assert reply.json()["code"] in ("writeback_unavailable", "writeback_timeout"), reply
        assert "Nothing was changed" in reply.json()["message"], reply
    hy.notes.append(f"agent down: {[r.status for r in replies]}")
    assert hy.side.password_state(dora, first) == "wrong"
    assert hy.side.binds(dora, dora.password)
    assert hy.side.password_state(dora, second) == "wrong"
    assert hy.side.binds(dora, dora.password)

    # The agent comes back: the same flow, still verified, goes through.
    agent.start(sync_interval=10)
    done = hy.complete(flow, {"new_password": first})
    assert done.status == 200, done
    dora.password = first
    assert hy.side.binds(dora, first)


def two_agents(hy: Hybrid) -> None:
    """20 admin resets at once over two agents, one killed midway: none lost or applied twice."""
    first = hy.agents[0]
    second = hy.add_agent("agent-2")

    def both_online() -> bool:
        agents = hy.admin("GET", "/agents").json()["agents"]
        return sorted((a["name"], a["state"]) for a in agents) == [
            ("agent-1", "online"),
            ("agent-2", "online"),
        ]

    wait_for("both agents online", both_online, 30)
    people = [hy.people[key] for key in CONCURRENT]
    writes_before = {p.key: hy.side.password_writes(p) for p in people}
    journal_before = len(first.journal())

    def reset(person: Person) -> Reply:
        return hy.admin("POST", f"/users/{person.upn}/password-reset", {})

    with ThreadPoolExecutor(len(people)) as pool:
        futures = [(person, pool.submit(reset, person)) for person in people]
        wait_for(
            "agent-1 carried out part of the batch",
            lambda: len(first.journal()) > journal_before or all(f.done() for _, f in futures),
            30,
            interval=0.02,
        )
        first.kill()
        replies = [(person, future.result()) for person, future in futures]

    succeeded: list[tuple[Person, str]] = []
    not_started: list[Person] = []
    unknown: list[Person] = []
    for person, reply in replies:
        if reply.status == 200:
            temporary = reply.json()["temporary_password"]
            hy.secrets.add(temporary)
            succeeded.append((person, temporary))
            continue
        assert reply.status in (503, 504), reply  # never a 500, never a hang
        body = reply.json()
        assert body["code"] in ("writeback_unavailable", "writeback_timeout"), body
        if "not known whether" in body["message"]:
            unknown.append(person)
        else:
            assert "Nothing was changed" in body["message"], body
            not_started.append(person)
    hy.notes.append(
        f"two agents: {len(succeeded)} succeeded, {len(not_started)} not started, "
        f"{len(unknown)} unknown"
    )
    assert succeeded, "no reset went through the surviving agent"

    users = hy.users()
    for person, temporary in succeeded:
        assert hy.side.password_writes(person) == writes_before[person.key] + 1, person.upn
        assert hy.side.password_state(person, temporary) == "must_change", person.upn
        assert users[person.upn]["must_change_password"] is True
        person.password = temporary
    for person in not_started:
        assert hy.side.password_writes(person) == writes_before[person.key], person.upn
        assert hy.side.binds(person, person.password), person.upn
        assert users[person.upn]["must_change_password"] is False
    for person in unknown:
        assert hy.side.password_writes(person) - writes_before[person.key] in (0, 1), person.upn

    # No command was carried out by both agents, and none is left hanging in the service.
    journals = [first.journal(), second.journal()]
    assert not set(journals[0]) & set(journals[1])
    ids = [{entry["command_id"] for entry in journal.values()} for journal in journals]
    assert not ids[0] & ids[1]
    commands = hy.table("_command")
    states = dict(hy.service.query(f'SELECT state, COUNT(*) FROM "{commands}" GROUP BY state'))  # noqa: S608
    assert not {"queued", "claimed", "started"} & set(states), states
    sealed = hy.service.query(f"SELECT COUNT(*) FROM \"{commands}\" WHERE sealed != '{{}}'")  # noqa: S608
    assert sealed == [(0,)], sealed
    status = hy.admin("GET", "/agents").json()
    assert status["healthy"] is True and status["status"] == UP_AND_RUNNING, status


def directory_down_at_sign_in(
    hy: Hybrid, stop: Callable[[], Any], start: Callable[[], Any]
) -> None:
    """The directory cannot be reached: a sign-in with the right password is not "wrong"."""
    pat = hy.people["pat"]
    stop()
    try:
        reply = hy.sign_in(pat.upn, pat.password)
    finally:
        start()
    assert reply.status == 503, reply
    assert reply.json()["code"] != "invalid_credentials", reply


def no_secret_at_rest(hy: Hybrid) -> None:
    """No password of the test in the service's database, any log, or the agents' files."""
    assert len(hy.secrets) > 40, len(hy.secrets)
    findings: list[str] = []

    seen: set[str] = set()  # where the scan found the GA's name: proof that it reads data

    def look(where: str, data: str | bytes, secrets_: set[str] | None = None) -> None:
        text = data if isinstance(data, str) else data.decode("latin-1")
        if hy.admin_upn in text:
            seen.add(where.split(" ")[0])
        for secret in secrets_ if secrets_ is not None else hy.secrets:
            found = secret in text
            if isinstance(data, bytes):
                found = found or secret.encode("utf-16-le") in data
            if found:
                findings.append(f"{secret!r} in {where}")

    with hy.service.db() as conn:
        tables = [r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")]
        for table in tables:
            for row in conn.execute(f'SELECT * FROM "{table}"'):  # noqa: S608
                for value in row:
                    if isinstance(value, str | bytes):
                        look(f"table {table}", value)
    assert len(tables) > 10, tables
    for path in sorted(hy.service.data_dir.glob("sspr.sqlite3*")):
        look(path.name, path.read_bytes())  # free pages and the WAL too
    look("serve.log", hy.service.log.read_bytes())
    user_passwords = hy.secrets - {hy.side.bind_password}
    for agent in hy.agents:
        look(agent.log.name, agent.log.read_bytes())
        look(agent.enroll_log.name, agent.enroll_log.read_bytes())
        look(agent.state_file.name, agent.state_file.read_bytes())
        look(f"{agent.name} status", json.dumps(agent.status()))
        config = json.loads(agent.config.read_text())
        config.pop("keys")
        # The bind password lives in the configuration by design (0600, documented); no
        # password of a user may.
        look(agent.config.name, json.dumps(config), user_passwords)
        bind = config["directory"].pop("bind_password")
        assert bind == hy.side.bind_password
        look(f"{agent.config.name} without directory.bind_password", json.dumps(config))
    assert {"table", "sspr.sqlite3"} <= seen, seen
    assert b"agent_command_answered" in hy.service.log.read_bytes()  # the log was written to
    assert all(b"agent.command.done" in agent.log.read_bytes() for agent in hy.agents)
    assert not findings, "\n".join(findings)
