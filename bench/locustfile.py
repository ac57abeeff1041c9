"""The load that bench/load.py puts on opensspr, as a locust file: sign-ins or whole resets.

bench/load.py runs it (`locust --headless`) with BENCH_LOAD_PLAN naming a JSON file:

- scenario: "sign-in" (`POST /api/v1/tenants/{tenant}/sessions`, the right password) or
  "reset" (start, an email code, the code read from the outbox table, verification, completion
  with a new password);
- targets: the base URLs; each simulated client keeps to one of them (round robin);
- tenant, domain, password, first_account, accounts: every iteration takes the next account
  u{n:07d}@{domain} of the range, so that no two iterations act on the same user;
- client_addresses: "bind" (each client connects from a loopback address of its own,
  127.{prefix}.{client}.{serial}: nginx passes the connection's address on) or "header" (the
  clients connect from 127.0.0.1, an address the app trusts as a proxy, and name the same
  addresses in X-Forwarded-For, with X-Forwarded-Proto https, as nginx would); a client moves to
  its next address after `per_address` resets, below the per-address limits;
- ca: the CA file to verify TLS with; database_url: where the outbox table is;
- records: the file every iteration's timings are written to when locust quits (JSON lines).
"""

from __future__ import annotations

import itertools
import json
import os
import re
import secrets
import time
from pathlib import Path
from typing import Any

import psycopg
from locust import HttpUser, constant, events, task
from requests.adapters import HTTPAdapter

PLAN: dict[str, Any] = json.loads(Path(os.environ["BENCH_LOAD_PLAN"]).read_text())
CODE = re.compile(r"Your code: (\S+)")
RECORDS: list[list[Any]] = []
_clients = itertools.count()
_accounts = itertools.count()


class FromAddress(HTTPAdapter):
    """Connections from one local address."""

    def __init__(self, source: str) -> None:
        self.source = source  # before super().__init__, which makes the pool
        super().__init__(pool_connections=1, pool_maxsize=1)

    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        kwargs["source_address"] = (self.source, 0)
        super().init_poolmanager(*args, **kwargs)


@events.quitting.add_listener
def _write_records(**_: Any) -> None:
    with Path(PLAN["records"]).open("w") as out:
        out.writelines(json.dumps(record) + "\n" for record in RECORDS)


class Client(HttpUser):
    wait_time = constant(0)
    host = PLAN["targets"][0]

    def on_start(self) -> None:
        self.index = next(_clients)
        self.base = PLAN["targets"][self.index % len(PLAN["targets"])]
        if PLAN.get("ca"):
            self.client.verify = PLAN["ca"]
        self.serial = 0
        self.used = 0
        self._next_address()
        self.outbox: psycopg.Connection[Any] | None = None

    def _next_address(self) -> None:
        self.serial += 1
        self.used = 0
        address = f"127.{PLAN['address_prefix']}.{self.index % 250 + 1}.{self.serial % 250 + 1}"
        if PLAN["client_addresses"] == "bind":
            self.client.close()
            adapter = FromAddress(address)
            self.client.mount("https://", adapter)
            self.client.mount("http://", adapter)
        else:
            self.client.headers["X-Forwarded-For"] = address
            self.client.headers["X-Forwarded-Proto"] = "https"

    def _account(self) -> str:
        n = PLAN["first_account"] + next(_accounts) % PLAN["accounts"]
        return f"u{n:07d}@{PLAN['domain']}"

    def _post(self, path: str, payload: dict[str, Any], name: str, expected: int) -> Any:
        response = self.client.post(
            self.base + path, json=payload, name=name, headers={"Accept": "application/json"}
        )
        if response.status_code != expected:
            raise Failed(f"{name}: HTTP {response.status_code} {response.text[:160]}")
        return response.json()

    @task
    def one(self) -> None:
        began = time.time()
        steps: list[float] = []
        error = ""
        try:
            if PLAN["scenario"] == "sign-in":
                self._sign_in(steps)
            else:
                self._reset(steps)
        except Failed as failed:
            error = str(failed)
        RECORDS.append([began, time.time(), error, steps])

    def _sign_in(self, steps: list[float]) -> None:
        self._post(
            f"/api/v1/tenants/{PLAN['tenant']}/sessions",
            {"username": self._account(), "password": PLAN["password"]},
            "sign-in",
            201,
        )

    def _reset(self, steps: list[float]) -> None:
        if self.used >= PLAN["per_address"]:
            self._next_address()
        self.used += 1
        upn = self._account()
        mark = time.perf_counter()

        def step() -> None:
            nonlocal mark
            now = time.perf_counter()
            steps.append(now - mark)
            mark = now

        flow = self._post(
            f"/api/v1/tenants/{PLAN['tenant']}/password-resets", {"username": upn}, "start", 201
        )
        step()
        base = f"/api/v1/password-resets/{flow['id']}"
        self._post(f"{base}/challenges", {"method": "email"}, "challenge", 202)
        step()
        code = self._code(upn)
        step()
        self._post(f"{base}/verifications", {"method": "email", "code": code}, "verify", 200)
        step()
        new_password = f"Lantern-{secrets.token_urlsafe(9)}-7q"
        self._post(f"{base}/completion", {"new_password": new_password}, "completion", 200)
        step()

    def _code(self, upn: str) -> str:
        """The code of the email just "sent" to `upn`, from the outbox table."""
        if self.outbox is None:
            self.outbox = psycopg.connect(PLAN["database_url"], autocommit=True)
        row = self.outbox.execute(
            'SELECT body FROM messaging_outboxmessage WHERE "to" = %s ORDER BY id DESC LIMIT 1',
            (upn,),
        ).fetchone()
        found = CODE.search(row[0]) if row else None
        if found is None:
            raise Failed(f"no code in the outbox for {upn}")
        return found.group(1)

    def on_stop(self) -> None:
        if self.outbox is not None:
            self.outbox.close()


class Failed(Exception):
    pass
