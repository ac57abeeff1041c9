"""Benchmark: a tenant of a million users against one of a thousand, on PostgreSQL.

Run from the repository root:

    .venv/bin/python bench/scale.py [--users 1000000] [--events 1000000] [--calls 200] [--no-write]

Without DATABASE_URL it runs itself under scripts/with-postgres (a throwaway cluster on
loopback, removed afterwards). Two tenants are bulk-loaded with COPY: `small` with 1,000 users
and `large` with --users, every user with a registered email, SSPR on for all; the large one
also gets --events audit events spread over the last 30 days (resets, failed verifications,
unlocks and changes, as the flows record them). All users share one Argon2id hash of a known
password: the hash costs the same to check whichever row it sits in, and hashing a million
passwords would take hours.

Measured through the real views (Django's test client, no network) for both tenants, each the
median and p99 of --calls calls on different users:
- the start of a self-service reset (`POST .../password-resets`, CAPTCHA off);
- a sign-in (`POST .../sessions`), against one Argon2id verification in the same run (the
  physical limit of a sign-in);
- the eligibility explainer (`GET .../users/{upn}/eligibility`, as an administrator);
then the insights of the admin page (`GET .../insights`, last 30 days) for both tenants: the
first call after the load on its own (it folds the +1 rows the database's triggers appended for
every registered method loaded, see sspr.insights.triggers; users cost them nothing), then the
best and median of three; and the database's size per user (users, methods, the standing the
triggers keep, and their indexes).

Prints a table and writes the section "Scale" of bench/RESULTS.md.
"""

from __future__ import annotations

import argparse
import io
import os
import random
import statistics
import sys
import time
from collections.abc import Callable, Iterable, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from bench.common import (
    RESULTS,
    ROOT,
    git_commit,
    machine,
    percentile,
    setup_django,
    write_section,
)

SECTION = "## Scale"
SEED = 20260101
PASSWORD = "Scale-Bench-Pass-42"
ADMIN_PASSWORD = "Orchid-Quartz-9137"
SMALL = 1000


def under_postgres() -> None:
    """Run again under a throwaway PostgreSQL cluster unless DATABASE_URL names one."""
    if os.environ.get("DATABASE_URL", "").startswith("postgres"):
        return
    script = str(ROOT / "scripts" / "with-postgres")
    os.execv(script, [script, sys.executable, *sys.argv])  # noqa: S606 -- our own script


def copy_rows(model: Any, columns: Sequence[str], rows: Iterable[Sequence[Any]]) -> None:
    """COPY rows into the model's table; every other column gets the field's default."""
    from django.db import connection

    fields = [f for f in model._meta.concrete_fields if not f.primary_key or f.name in columns]
    given = [model._meta.get_field(c) for c in columns]
    rest = [f for f in fields if f.name not in columns and f.attname not in columns]
    defaults = [f.get_db_prep_save(f.get_default(), connection) for f in rest]
    names = ", ".join(connection.ops.quote_name(f.column) for f in [*given, *rest])
    table = connection.ops.quote_name(model._meta.db_table)
    with connection.cursor() as cursor:
        raw = cursor.cursor  # psycopg's own cursor: COPY is not in the DB-API
        with raw.copy(f"COPY {table} ({names}) FROM STDIN") as copy:
            for row in rows:
                copy.write_row((*row, *defaults))


def load_tenant(slug: str, users: int, events: int, password_hash: str) -> Any:
    from django.db import connection

    from sspr.audit.models import AuditEvent
    from sspr.directory.models import User
    from sspr.directory.tenants import create_tenant
    from sspr.directory.users import create_user
    from sspr.methods.models import RegisteredMethod
    from sspr.policy.sspr_policy import update_policy

    tenant = create_tenant(slug, slug.title(), "p1", [f"{slug}.test"])
    update_policy(tenant, {"enabled_for": "all", "captcha_enabled": False}, actor="bench")
    create_user(
        tenant, f"admin@{slug}.test", password=ADMIN_PASSWORD, roles=["global-administrator"]
    )
    now = datetime.now(UTC)
    began = time.perf_counter()
    copy_rows(
        User,
        ["tenant", "upn", "display_name", "mail", "password_hash", "password_last_set", "enabled"],
        (
            (tenant.pk, f"u{i:07d}@{slug}.test", f"User {i}", f"u{i:07d}@{slug}.test",
             password_hash, now, True)
            for i in range(users)
        ),
    )  # fmt: skip
    users_loaded = time.perf_counter()
    ids = list(
        User.objects.filter(tenant=tenant, upn__startswith="u")
        .order_by("pk")
        .values_list("pk", flat=True)
    )
    copy_rows(
        RegisteredMethod,
        ["user", "method", "state", "value", "created_at", "verified_at", "confirmed_at"],
        ((pk, "email", "active", f"u{n:07d}@{slug}.test", now, now, now)
         for n, pk in enumerate(ids)),
    )  # fmt: skip
    methods_loaded = time.perf_counter()
    rng = random.Random(SEED)  # noqa: S311 -- reproducible test data, not secrets
    kinds = [
        ("Reset password (self-service)", "success", "", {"methods": ["email"]}),
        ("Self-service password reset flow activity progress", "failure",
         "The code is not right.", {"method": "email"}),
        ("Unlock user account (self-service)", "success", "", {"methods": ["email"]}),
        ("Change password (self-service)", "success", "", {}),
    ]  # fmt: skip
    from psycopg.types.json import Jsonb

    copy_rows(
        AuditEvent,
        ["tenant", "occurred_at", "category", "activity", "target", "result", "reason", "details"],
        (
            (tenant.pk, now - timedelta(seconds=rng.uniform(0, 30 * 86400)), "UserManagement",
             activity, f"u{rng.randrange(users):07d}@{slug}.test", result, reason, Jsonb(details))
            for activity, result, reason, details in (rng.choice(kinds) for _ in range(events))
        ),
    )  # fmt: skip
    events_loaded = time.perf_counter()
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")
    print(
        f"{slug}: users {users_loaded - began:.1f} s, "
        f"methods {methods_loaded - users_loaded:.1f} s, "
        f"events {events_loaded - methods_loaded:.1f} s, ANALYZE "
        f"{time.perf_counter() - events_loaded:.1f} s",
        flush=True,
    )
    return tenant, time.perf_counter() - began


def vacuum() -> None:
    """What autovacuum does soon after a bulk load: mark the pages all-visible, so that a count
    over an index (the enabled users, for insights) reads the index alone. Not in the load's
    time."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("VACUUM (ANALYZE)")


def timed(calls: int, one: Callable[[int], int], expected: int) -> tuple[float, float]:
    """Median and p99 in ms of `calls` calls of `one(i)`, each answering `expected`."""
    spent = []
    for i in range(calls):
        began = time.perf_counter()
        status = one(i)
        spent.append((time.perf_counter() - began) * 1000)
        if status != expected:
            raise SystemExit(f"call {i} answered {status}, not {expected}")
    spent.sort()
    return statistics.median(spent), percentile(spent, 0.99)


def measure(slug: str, users: int, calls: int) -> dict[str, Any]:
    import json

    from django.test import Client

    rng = random.Random(SEED)  # noqa: S311 -- reproducible test data, not secrets
    picks = rng.sample(range(users), min(users, 3 * calls))
    upns = [f"u{i:07d}@{slug}.test" for i in picks]
    client = Client()

    def post(path: str, body: dict[str, Any], **headers: str) -> Any:
        return client.post(
            f"/api/v1{path}", json.dumps(body), content_type="application/json", **headers
        )

    def address(i: int) -> str:
        """A client address of its own per call: the per-address limits are not measured."""
        return f"10.{i // 65536 % 256}.{i // 256 % 256}.{i % 256}"

    admin = post(
        f"/tenants/{slug}/sessions", {"username": f"admin@{slug}.test", "password": ADMIN_PASSWORD}
    ).json()["token"]
    bearer = {"HTTP_AUTHORIZATION": f"Bearer {admin}"}
    figures: dict[str, Any] = {}
    figures["reset_start"] = timed(
        calls,
        lambda i: (
            post(
                f"/tenants/{slug}/password-resets", {"username": upns[i]}, REMOTE_ADDR=address(i)
            ).status_code
        ),
        201,
    )
    figures["sign_in"] = timed(
        calls,
        lambda i: (
            post(
                f"/tenants/{slug}/sessions", {"username": upns[calls + i], "password": PASSWORD}
            ).status_code
        ),
        201,
    )
    figures["eligibility"] = timed(
        calls,
        lambda i: (
            client.get(
                f"/api/v1/tenants/{slug}/users/{upns[2 * calls + i]}/eligibility", **bearer
            ).status_code
        ),
        200,
    )
    began = time.perf_counter()
    answer = client.get(f"/api/v1/tenants/{slug}/insights", **bearer)
    figures["insights_first"] = time.perf_counter() - began
    if answer.status_code != 200:
        raise SystemExit(f"insights answered {answer.status_code}: {answer.content[:300]!r}")
    insights = []
    for _ in range(3):
        began = time.perf_counter()
        answer = client.get(f"/api/v1/tenants/{slug}/insights", **bearer)
        insights.append(time.perf_counter() - began)
        if answer.status_code != 200:
            raise SystemExit(f"insights answered {answer.status_code}: {answer.content[:300]!r}")
    figures["insights"] = (min(insights), statistics.median(insights))
    return figures


def database_size(slug: str) -> dict[str, int]:
    from django.db import connection

    with connection.cursor() as cursor:
        sizes = {}
        for table in (
            "directory_user",
            "methods_registeredmethod",
            "methods_registrationstanding",
            "audit_auditevent",
        ):
            cursor.execute("SELECT pg_total_relation_size(%s)", [table])
            sizes[table] = int(cursor.fetchone()[0])
    return sizes


def argon2_ms() -> float:
    from sspr.directory.passwords import hash_password, verify_password

    stored = hash_password(PASSWORD)
    spent = []
    for _ in range(30):
        began = time.perf_counter()
        verify_password(stored, PASSWORD)
        spent.append((time.perf_counter() - began) * 1000)
    return statistics.median(spent)


def main() -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--users", type=int, default=1_000_000)
    parser.add_argument("--events", type=int, default=1_000_000, help="audit events, large")
    parser.add_argument("--calls", type=int, default=200)
    parser.add_argument("--no-write", action="store_true", help="print only")
    args = parser.parse_args()
    under_postgres()
    setup_django()
    from django.core.management import call_command

    from sspr.directory.passwords import hash_password

    call_command("migrate", verbosity=0)
    shared_hash = hash_password(PASSWORD)
    _, small_load = load_tenant("small", SMALL, SMALL, shared_hash)
    print(f"small tenant: {SMALL:,} users loaded in {small_load:.1f} s", flush=True)
    _, large_load = load_tenant("large", args.users, args.events, shared_hash)
    print(f"large tenant: {args.users:,} users, {args.events:,} events in {large_load:.1f} s")
    vacuum()
    sizes_after = database_size("large")
    figures = {"small": measure("small", SMALL, args.calls)}
    figures["large"] = measure("large", args.users, args.calls)
    limit = argon2_ms()
    section = report(args, figures, limit, sizes_after, large_load)
    print(section)
    if not args.no_write:
        write_section(SECTION, section)
        print(f"written to {RESULTS.relative_to(ROOT)}")
    return 0


def report(
    args: argparse.Namespace,
    f: dict[str, Any],
    argon2: float,
    sizes: dict[str, int],
    load_seconds: float,
) -> str:
    n = args.users

    def row(name: str, key: str) -> str:
        (s50, s99), (l50, l99) = f["small"][key], f["large"][key]
        return (
            f"| {name} | {s50:.1f} / {s99:.1f} ms | {l50:.1f} / {l99:.1f} ms "
            f"| {l50 - s50:+.1f} ms |"
        )

    per_user = (sizes["directory_user"] + sizes["methods_registeredmethod"]) / (n + SMALL)
    standing = sizes["methods_registrationstanding"] / (n + SMALL)
    (si_best, si_med), (li_best, li_med) = f["small"]["insights"], f["large"]["insights"]
    out = io.StringIO()
    out.write(
        f"{SECTION}\n\n"
        f"- Date: {datetime.now(UTC):%Y-%m-%d %H:%M} UTC\n"
        f"- Machine: {machine()}\n"
        f"- Commit: {git_commit()}\n"
        f"- Command: `.venv/bin/python bench/scale.py --users {n} --events {args.events} "
        f"--calls {args.calls}` (PostgreSQL from scripts/with-postgres: fsync off)\n"
        f"- Data: tenant `small` with {SMALL:,} users, tenant `large` with {n:,} users and "
        f"{args.events:,} audit events over 30 days, loaded with COPY in {load_seconds:.0f} s, "
        "then vacuumed; "
        "every user has a registered email; SSPR on for all\n\n"
        f"| Call (median / p99 of {args.calls}, different users) | {SMALL:,} users "
        f"| {n:,} users | difference at the median |\n"
        "|---|---:|---:|---:|\n"
        f"{row('Start of a self-service reset', 'reset_start')}\n"
        f"{row('Sign-in (API)', 'sign_in')}\n"
        f"{row('Eligibility explainer (administrator)', 'eligibility')}\n"
        f"| Insights of the admin page, last 30 days (best / median of 3) "
        f"| {si_best * 1000:.0f} / {si_med * 1000:.0f} ms "
        f"| {li_best * 1000:.0f} / {li_med * 1000:.0f} ms | |\n"
        "| Insights, first call after the bulk load (folds the rows the load appended) "
        f"| {f['small']['insights_first'] * 1000:.0f} ms "
        f"| {f['large']['insights_first'] * 1000:.0f} ms | |\n\n"
        f"One Argon2id verification with the project's parameters, same run: {argon2:.1f} ms "
        "(the floor of a sign-in). Database size per user (the user row and one registered "
        f"method, with their indexes): {per_user:,.0f} bytes, and {standing:,.0f} bytes more for "
        "the standing the triggers keep for insights; the "
        f"{args.events:,} audit events "
        f"take {sizes['audit_auditevent'] / 2**20:,.0f} MiB.\n"
    )
    return out.getvalue()


if __name__ == "__main__":
    raise SystemExit(main())
