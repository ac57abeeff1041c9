"""Reading the counts the database keeps for insights (see sspr.insights.triggers).

The triggers only ever append +1 and -1 rows. A read first folds a tenant's rows into one per
key (their sum), in a way that cannot lose or double a row while changes go on, then sums what
is there: the answer is exact whatever ran at the same time, and the rows to read stay few.
"""

# ruff: noqa: S608 -- SQL built from table and column names of our own, never from input

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from typing import Any

from django.db import connection, transaction
from django.db.models import Model

from sspr.audit.models import ActivityCount
from sspr.directory.models import Tenant, User
from sspr.insights import triggers
from sspr.methods.models import RegistrationCount


def _fold(
    model: type[Model],
    keys: Sequence[str],
    value: str,
    where: str,
    params: list[Any],
    plus: tuple[str, list[Any]] | None = None,
) -> list[tuple[Any, ...]]:
    """Fold the rows of `model` matching `where` into one per key, then return each key with
    its sum (keys whose sum is 0 are left out); and the row of `plus` (SQL of one more row of
    the same columns), read by the same statement, as of the same moment."""
    qn = connection.ops.quote_name
    table = qn(model._meta.db_table)
    # Field names here are their columns' names.
    columns = ", ".join(qn(k) for k in ("tenant_id", *keys))
    total = qn(value)
    pk = qn("id")
    summed = (
        f"SELECT {columns}, SUM({total}) FROM {{rows}} GROUP BY {columns} HAVING SUM({total}) <> 0"
    )
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            # One statement: each row is taken by exactly one fold, even two at once.
            cursor.execute(
                f"WITH gone AS (DELETE FROM {table} WHERE {where} "
                f"RETURNING {columns}, {total}) "
                f"INSERT INTO {table} ({columns}, {total}) {summed.format(rows='gone')}",
                params,
            )
        else:
            # SQLite has one writer at a time and numbers new rows above the highest: the
            # folded rows are the last changes() ones, everything below them is folded.
            with transaction.atomic(savepoint=False):
                cursor.execute(
                    f"INSERT INTO {table} ({columns}, {total}) "
                    + summed.format(rows=f"{table} WHERE {where}"),
                    params,
                )
                cursor.execute(
                    f"DELETE FROM {table} WHERE {where} "
                    f"AND {pk} <= (SELECT MAX({pk}) FROM {table}) - changes()",
                    params,
                )
        read = summed.format(rows=f"{table} WHERE {where}")
        if plus is not None:
            read, params = f"{read} UNION ALL {plus[0]}", [*params, *plus[1]]
        cursor.execute(read, params)
        return [tuple(row[1:]) for row in cursor.fetchall()]


def registration_counts(tenant: Tenant) -> dict[frozenset[str], int]:
    """How many enabled users of the tenant have each set of active methods (the empty set:
    those with none)."""
    qn = connection.ops.quote_name
    # The enabled users, from the index `user_enabled` alone: the users with no method are
    # those the counts do not hold.
    enabled = (
        f"SELECT %s, NULL, COUNT(*) FROM {qn(User._meta.db_table)} "
        f"WHERE {qn('tenant_id')} = %s AND {qn('enabled')}",
        [tenant.pk, tenant.pk],
    )
    counts: dict[frozenset[str], int] = {}
    users = 0
    for methods, n in _fold(
        RegistrationCount, ["methods"], "users", "tenant_id = %s", [tenant.pk], plus=enabled
    ):
        if methods is None:
            users = int(n)
            continue
        # SQLite does not promise the order of group_concat: the same set may come in two
        # spellings, which count together.
        key = frozenset(m for m in str(methods).split(",") if m)
        counts[key] = counts.get(key, 0) + int(n)
    if none := users - sum(counts.values()):
        counts[frozenset()] = counts.get(frozenset(), 0) + none
    return counts


ACTIVITY_KEYS = ("day", "activity", "result", "reason", "gates", "gate", "why_not")


def activity_counts(tenant: Tenant, first: date, after: date) -> list[dict[str, Any]]:
    """The counted audit events of the tenant on the UTC days from `first` up to `after`
    (excluded), by day and every key insights group by."""
    adapt = connection.ops.adapt_datefield_value
    rows = _fold(
        ActivityCount,
        ACTIVITY_KEYS,
        "events",
        "tenant_id = %s AND day >= %s AND day < %s",
        [tenant.pk, adapt(first), adapt(after)],
    )
    out = []
    for row in rows:
        values = dict(zip((*ACTIVITY_KEYS, "n"), row, strict=True))
        values["day"] = _day(values["day"])
        values["n"] = int(values["n"])
        out.append(values)
    return out


def _day(value: Any) -> date:
    """A day as the database hands it back: a date, or its ISO text (SQLite's date())."""
    return value if isinstance(value, date) else date.fromisoformat(str(value))


def rebuild(tenant: Tenant) -> None:
    """Work the tenant's counts out again from its users, registrations and audit events."""
    with transaction.atomic():
        triggers.refill(connection, only="registrations", tenant_id=tenant.pk)
        triggers.refill(connection, only="activity", tenant_id=tenant.pk)


def _summed(rows: list[tuple[Any, ...]]) -> dict[tuple[Any, ...], int]:
    out: dict[tuple[Any, ...], int] = {}
    for *key, n in rows:
        out[tuple(key)] = out.get(tuple(key), 0) + int(n)
    return {k: n for k, n in out.items() if n}


def differences(tenant: Tenant) -> list[str]:
    """Where the counts kept for the tenant differ from the same counts worked out from its
    users, registrations and audit events (nothing when they agree)."""
    with connection.cursor() as cursor:
        select, params = triggers.standings(connection.vendor, tenant.pk)
        cursor.execute(select, params)
        registered = _summed(
            [(frozenset(filter(None, m.split(","))), 1) for _, _, m in cursor if m]
        )
        select, params = triggers.events(connection.vendor, tenant.pk)
        cursor.execute(select, params)
        events = _summed([(_day(row[1]), *row[2:]) for row in cursor.fetchall()])
    # Users with no method are not kept but counted (the enabled users less the others): only
    # the users with methods can differ.
    kept_registered = _summed([(k, n) for k, n in registration_counts(tenant).items() if k])
    kept_events = _summed(
        [
            (_day(row[0]), *row[1:])
            for row in _fold(ActivityCount, ACTIVITY_KEYS, "events", "tenant_id = %s", [tenant.pk])
        ]
    )
    out = []
    for what, kept, actual in (
        ("users with methods", kept_registered, registered),
        ("audit events", kept_events, events),
    ):
        for key in sorted(set(kept) | set(actual), key=str):
            if kept.get(key, 0) != actual.get(key, 0):
                out.append(f"{what} {key}: kept {kept.get(key, 0)}, actual {actual.get(key, 0)}")
    return out
