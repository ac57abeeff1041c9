"""Database triggers that keep the counts insights read, on SQLite and PostgreSQL alike.

Insights at a million users cannot pass over every user, registration and audit event on each
view (seconds on PostgreSQL), so the database keeps two tables of counts current itself, in the
transaction of every change, whatever makes it: the flows, a directory sync's bulk writes,
Django's cascades, a bulk load with COPY, a test's queryset update.

- `methods_registrationstanding`: one row per enabled user *with at least one active method*,
  with the sorted list of them (a user's "standing"). Triggers on `methods_registeredmethod`
  add, rewrite and remove the row; a trigger on a change of `enabled` or of the tenant of a
  `directory_user` row adds, moves or removes it.
- `methods_registrationcount`: for each change of a standing row, a -1 row for what it was and
  a +1 row for what it is, per tenant and list of methods.
- `audit_activitycount`: +1 for each audit event insights count (resets, unlocks, changes,
  blocks; not the progress steps that went well), -1 for each one deleted (retention), by UTC
  day, activity, result, reason and the details insights group by.

Creating a user costs nothing here: they have no method yet (a method refers to its user, so it
comes after it), hence no standing. Nor does any change to a user but `enabled` and the tenant
(a sync rewriting names and mail addresses). The enabled users with no active method are the
tenant's enabled users (one count on an index, `user_enabled`) less those with a standing.

The count tables are only ever appended to by the triggers, never updated: concurrent changes
never wait on one another for a counter (changes to one user's standing take turns, on the
user's row). `sspr.insights.counts` sums the rows and folds them into one per key. Roles are not
in the standing: role holders are few and counted live.

`install` is run by the migrations (methods 0002, audit 0003); a change to the SQL here needs a
new migration that runs `install` again (every statement replaces what it finds). So does a
migration that makes SQLite rebuild one of these tables (most field changes do): the table's
triggers go with the old table.
"""

# ruff: noqa: S608 -- SQL built from table and column names of our own, never from input

from __future__ import annotations

from django.db.backends.base.base import BaseDatabaseWrapper

from sspr.audit.events import Activity

COUNTED_ACTIVITIES = (
    Activity.RESET_PASSWORD,
    Activity.RESET_PROGRESS,
    Activity.UNLOCK,
    Activity.CHANGE_PASSWORD,
    Activity.RESET_BLOCKED,
)
_USER = "directory_user"
_METHOD = "methods_registeredmethod"
_STANDING = "methods_registrationstanding"
_COUNT = "methods_registrationcount"
_AUDIT = "audit_auditevent"
_ACTIVITY = "audit_activitycount"


def _quoted(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def counted_event(row: str) -> str:
    """SQL: whether the audit event `row` (NEW or OLD) is one insights count."""
    names = ", ".join(_quoted(a) for a in COUNTED_ACTIVITIES)
    return (
        f"({row}.activity IN ({names}) AND NOT ({row}.activity = "
        f"{_quoted(Activity.RESET_PROGRESS)} AND {row}.result = 'success'))"
    )


def methods_of(vendor: str, user_id: str) -> str:
    """SQL: the sorted, comma-separated active methods of the user `user_id`."""
    if vendor == "postgresql":
        return (
            f"COALESCE((SELECT string_agg(method, ',' ORDER BY method) FROM {_METHOD} "
            f"WHERE user_id = {user_id} AND state = 'active'), '')"
        )
    return (
        f"COALESCE((SELECT group_concat(method, ',') FROM (SELECT method FROM {_METHOD} "
        f"WHERE user_id = {user_id} AND state = 'active' ORDER BY method)), '')"
    )


def event_columns(vendor: str, row: str) -> str:
    """SQL: tenant, UTC day, activity, result, reason, gates, gate, why_not of event `row`."""
    if vendor == "postgresql":
        day = f"({row}.occurred_at AT TIME ZONE 'UTC')::date"
        key = f"{row}.details ->> '%s'"
    else:
        # As Django's KeyTextTransform reads a key on SQLite.
        day = f"date({row}.occurred_at)"
        path = "'$.\"%s\"'"
        key = (
            f"(CASE WHEN json_type({row}.details, {path}) IN ('null', 'true', 'false') "
            f"THEN json_type({row}.details, {path}) ELSE json_extract({row}.details, {path}) END)"
        )
    keys = ", ".join(key.replace("%s", k) for k in ("methods", "method", "cannot_reset"))
    return f"{row}.tenant_id, {day}, {row}.activity, {row}.result, {row}.reason, {keys}"


ACTIVITY_COLUMNS = "tenant_id, day, activity, result, reason, gates, gate, why_not"


def _function(name: str, body: str) -> str:
    """SQL: the PostgreSQL trigger function `name` doing `body`."""
    return (
        f"CREATE OR REPLACE FUNCTION {name}() RETURNS trigger LANGUAGE plpgsql "
        f"AS $$ BEGIN {body} RETURN NULL; END $$"
    )


def _postgresql() -> list[str]:
    counted = counted_event
    return [
        # The standing of one user worked out again: a row while they are enabled and have an
        # active method, none otherwise. The user's row is locked first: two changes to one
        # user's standing at once take turns, the second reading what the first committed.
        f"""CREATE OR REPLACE FUNCTION sspr_insights_restand(uid bigint) RETURNS void
        LANGUAGE plpgsql AS $$
        DECLARE
          tenant bigint;
          enabled boolean;
          methods text := '';
        BEGIN
          SELECT u.tenant_id, u.enabled INTO tenant, enabled FROM {_USER} u WHERE u.id = uid
          FOR NO KEY UPDATE;
          IF FOUND AND enabled THEN
            methods := {methods_of("postgresql", "uid")};
          END IF;
          IF methods = '' THEN
            DELETE FROM {_STANDING} WHERE user_id = uid;
          ELSE
            INSERT INTO {_STANDING} AS s (user_id, tenant_id, methods)
            VALUES (uid, tenant, methods)
            ON CONFLICT (user_id) DO UPDATE
            SET tenant_id = EXCLUDED.tenant_id, methods = EXCLUDED.methods
            WHERE (s.tenant_id, s.methods) IS DISTINCT FROM (EXCLUDED.tenant_id, EXCLUDED.methods);
          END IF;
        END $$""",
        _function(
            "sspr_insights_user",
            f"IF TG_OP = 'DELETE' THEN DELETE FROM {_STANDING} WHERE user_id = OLD.id; "
            "ELSE PERFORM sspr_insights_restand(NEW.id); END IF;",
        ),
        _function(
            "sspr_insights_method",
            "IF TG_OP IN ('UPDATE', 'DELETE') THEN "
            "PERFORM sspr_insights_restand(OLD.user_id); END IF; "
            "IF TG_OP = 'INSERT' OR (TG_OP = 'UPDATE' AND NEW.user_id <> OLD.user_id) THEN "
            "PERFORM sspr_insights_restand(NEW.user_id); END IF;",
        ),
        _function(
            "sspr_insights_standing",
            "IF TG_OP IN ('UPDATE', 'DELETE') THEN "
            f"INSERT INTO {_COUNT} (tenant_id, methods, users) "
            "VALUES (OLD.tenant_id, OLD.methods, -1); END IF; "
            "IF TG_OP IN ('INSERT', 'UPDATE') THEN "
            f"INSERT INTO {_COUNT} (tenant_id, methods, users) "
            "VALUES (NEW.tenant_id, NEW.methods, 1); END IF;",
        ),
        _function(
            "sspr_insights_event",
            f"IF TG_OP = 'INSERT' THEN INSERT INTO {_ACTIVITY} ({ACTIVITY_COLUMNS}, events) "
            f"VALUES ({event_columns('postgresql', 'NEW')}, 1); "
            f"ELSE INSERT INTO {_ACTIVITY} ({ACTIVITY_COLUMNS}, events) "
            f"VALUES ({event_columns('postgresql', 'OLD')}, -1); END IF;",
        ),
        # No trigger on a new user: they have no method yet (methods refer to the user, so
        # they come after it). Deleting a user deletes their methods first (Django's cascade),
        # which removes the standing; the trigger on the user is for a delete made otherwise.
        f"DROP TRIGGER IF EXISTS sspr_insights_user_removed ON {_USER}",
        f"""CREATE TRIGGER sspr_insights_user_removed AFTER DELETE ON {_USER}
        FOR EACH ROW WHEN (OLD.enabled) EXECUTE FUNCTION sspr_insights_user()""",
        # Only a change of `enabled` or of the tenant fires: a sync rewriting names and mail
        # addresses does no work here.
        f"DROP TRIGGER IF EXISTS sspr_insights_user_changed ON {_USER}",
        f"""CREATE TRIGGER sspr_insights_user_changed AFTER UPDATE OF enabled, tenant_id
        ON {_USER} FOR EACH ROW WHEN (OLD.enabled IS DISTINCT FROM NEW.enabled
        OR OLD.tenant_id IS DISTINCT FROM NEW.tenant_id)
        EXECUTE FUNCTION sspr_insights_user()""",
        f"DROP TRIGGER IF EXISTS sspr_insights_method_added ON {_METHOD}",
        f"""CREATE TRIGGER sspr_insights_method_added AFTER INSERT ON {_METHOD}
        FOR EACH ROW WHEN (NEW.state = 'active') EXECUTE FUNCTION sspr_insights_method()""",
        f"DROP TRIGGER IF EXISTS sspr_insights_method_removed ON {_METHOD}",
        f"""CREATE TRIGGER sspr_insights_method_removed AFTER DELETE ON {_METHOD}
        FOR EACH ROW WHEN (OLD.state = 'active') EXECUTE FUNCTION sspr_insights_method()""",
        f"DROP TRIGGER IF EXISTS sspr_insights_method_changed ON {_METHOD}",
        f"""CREATE TRIGGER sspr_insights_method_changed AFTER UPDATE OF state, method, user_id
        ON {_METHOD} FOR EACH ROW WHEN ((OLD.state = 'active' OR NEW.state = 'active')
        AND (OLD.state, OLD.method, OLD.user_id) IS DISTINCT FROM
        (NEW.state, NEW.method, NEW.user_id)) EXECUTE FUNCTION sspr_insights_method()""",
        f"DROP TRIGGER IF EXISTS sspr_insights_standing_added ON {_STANDING}",
        f"""CREATE TRIGGER sspr_insights_standing_added AFTER INSERT OR DELETE ON {_STANDING}
        FOR EACH ROW EXECUTE FUNCTION sspr_insights_standing()""",
        f"DROP TRIGGER IF EXISTS sspr_insights_standing_changed ON {_STANDING}",
        f"""CREATE TRIGGER sspr_insights_standing_changed AFTER UPDATE ON {_STANDING}
        FOR EACH ROW WHEN ((OLD.methods, OLD.tenant_id) IS DISTINCT FROM
        (NEW.methods, NEW.tenant_id)) EXECUTE FUNCTION sspr_insights_standing()""",
        f"DROP TRIGGER IF EXISTS sspr_insights_event_added ON {_AUDIT}",
        f"""CREATE TRIGGER sspr_insights_event_added AFTER INSERT ON {_AUDIT}
        FOR EACH ROW WHEN {counted("NEW")} EXECUTE FUNCTION sspr_insights_event()""",
        f"DROP TRIGGER IF EXISTS sspr_insights_event_removed ON {_AUDIT}",
        f"""CREATE TRIGGER sspr_insights_event_removed AFTER DELETE ON {_AUDIT}
        FOR EACH ROW WHEN {counted("OLD")} EXECUTE FUNCTION sspr_insights_event()""",
    ]


def _sqlite() -> list[str]:
    def restand(user_id: str) -> str:
        """The standing of the user `user_id` worked out again (SQLite has one writer at a
        time: nothing changes between the two statements)."""
        active = f"EXISTS (SELECT 1 FROM {_METHOD} WHERE user_id = {user_id} AND state = 'active')"
        return (
            f"DELETE FROM {_STANDING} WHERE user_id = {user_id} AND NOT EXISTS (SELECT 1 "
            f"FROM {_USER} WHERE id = {user_id} AND enabled AND {active}); "
            f"INSERT INTO {_STANDING} (user_id, tenant_id, methods) SELECT u.id, u.tenant_id, "
            f"{methods_of('sqlite', 'u.id')} FROM {_USER} u WHERE u.id = {user_id} "
            f"AND u.enabled AND {active} ON CONFLICT (user_id) DO UPDATE "
            "SET tenant_id = excluded.tenant_id, methods = excluded.methods "
            "WHERE tenant_id IS NOT excluded.tenant_id OR methods IS NOT excluded.methods;"
        )

    def count(row: str, users: int) -> str:
        return (
            f"INSERT INTO {_COUNT} (tenant_id, methods, users) "
            f"VALUES ({row}.tenant_id, {row}.methods, {users});"
        )

    def event(row: str, events: int) -> str:
        return (
            f"INSERT INTO {_ACTIVITY} ({ACTIVITY_COLUMNS}, events) "
            f"VALUES ({event_columns('sqlite', row)}, {events});"
        )

    triggers = {
        # As on PostgreSQL: nothing on a new user, nothing on a change of anything else than
        # `enabled` or the tenant.
        "user_removed": f"AFTER DELETE ON {_USER} WHEN OLD.enabled BEGIN "
        f"DELETE FROM {_STANDING} WHERE user_id = OLD.id; END",
        "user_changed": f"AFTER UPDATE OF enabled, tenant_id ON {_USER} "
        "WHEN OLD.enabled IS NOT NEW.enabled OR OLD.tenant_id IS NOT NEW.tenant_id "
        f"BEGIN {restand('NEW.id')} END",
        "method_added": f"AFTER INSERT ON {_METHOD} WHEN NEW.state = 'active' "
        f"BEGIN {restand('NEW.user_id')} END",
        "method_removed": f"AFTER DELETE ON {_METHOD} WHEN OLD.state = 'active' "
        f"BEGIN {restand('OLD.user_id')} END",
        "method_changed": f"AFTER UPDATE OF state, method, user_id ON {_METHOD} "
        "WHEN (OLD.state = 'active' OR NEW.state = 'active') AND (OLD.state IS NOT NEW.state "
        "OR OLD.method IS NOT NEW.method OR OLD.user_id IS NOT NEW.user_id) "
        f"BEGIN {restand('OLD.user_id')} {restand('NEW.user_id')} END",
        "standing_added": f"AFTER INSERT ON {_STANDING} BEGIN {count('NEW', 1)} END",
        "standing_removed": f"AFTER DELETE ON {_STANDING} BEGIN {count('OLD', -1)} END",
        "standing_changed": f"AFTER UPDATE ON {_STANDING} WHEN OLD.methods IS NOT NEW.methods "
        f"OR OLD.tenant_id IS NOT NEW.tenant_id BEGIN {count('OLD', -1)} {count('NEW', 1)} END",
        "event_added": f"AFTER INSERT ON {_AUDIT} WHEN {counted_event('NEW')} "
        f"BEGIN {event('NEW', 1)} END",
        "event_removed": f"AFTER DELETE ON {_AUDIT} WHEN {counted_event('OLD')} "
        f"BEGIN {event('OLD', -1)} END",
    }
    statements = []
    for name, body in triggers.items():
        statements.append(f"DROP TRIGGER IF EXISTS sspr_insights_{name}")
        statements.append(f"CREATE TRIGGER sspr_insights_{name} {body}")
    return statements


def _names(connection: BaseDatabaseWrapper, only: str) -> list[str]:
    wanted = ("event",) if only == "activity" else ("restand", "user", "method", "standing")
    statements = _postgresql() if connection.vendor == "postgresql" else _sqlite()
    return [s for s in statements if any(f"sspr_insights_{w}" in s for w in wanted)]


def install(connection: BaseDatabaseWrapper, *, only: str) -> None:
    """Create or replace the triggers on the tables of `only`: "registrations" (users,
    registered methods, standings) or "activity" (audit events)."""
    with connection.cursor() as cursor:
        for statement in _names(connection, only):
            cursor.execute(statement)
    refill(connection, only=only)


def uninstall(connection: BaseDatabaseWrapper, *, only: str) -> None:
    with connection.cursor() as cursor:
        for statement in _names(connection, only):
            if statement.startswith("DROP TRIGGER"):
                cursor.execute(statement)


def _where(tenant_id: int | None, alias: str) -> tuple[str, list[int]]:
    if tenant_id is None:
        return "1 = 1", []
    return f"{alias}.tenant_id = %s", [tenant_id]


def standings(vendor: str, tenant_id: int | None) -> tuple[str, list[int]]:
    """SQL: user_id, tenant_id, methods of every enabled user (of one tenant, or all), from
    the users and registrations themselves; methods is '' for a user with no active method."""
    where, params = _where(tenant_id, "u")
    return (
        f"SELECT u.id AS user_id, u.tenant_id AS tenant_id, {methods_of(vendor, 'u.id')} "
        f"AS methods FROM {_USER} u WHERE {where} AND u.enabled",
        params,
    )


def events(vendor: str, tenant_id: int | None) -> tuple[str, list[int]]:
    """SQL: the activity counts of one tenant (or all), from the audit trail itself."""
    where, params = _where(tenant_id, "e")
    return (
        f"SELECT {event_columns(vendor, 'e')}, COUNT(*) FROM {_AUDIT} e "
        f"WHERE {where} AND {counted_event('e')} GROUP BY 1, 2, 3, 4, 5, 6, 7, 8",
        params,
    )


def refill(connection: BaseDatabaseWrapper, *, only: str, tenant_id: int | None = None) -> None:
    """Work the standings or the activity counts of one tenant (or all) out again from what
    the database holds: the first fill, and the repair if they were ever wrong."""
    where, params = _where(tenant_id, "t")
    with connection.cursor() as cursor:
        if only == "activity":
            cursor.execute(f"DELETE FROM {_ACTIVITY} AS t WHERE {where}", params)
            select, params = events(connection.vendor, tenant_id)
            cursor.execute(f"INSERT INTO {_ACTIVITY} ({ACTIVITY_COLUMNS}, events) {select}", params)
            return
        # Removing the standings appends their -1 rows, removed with the rest.
        cursor.execute(f"DELETE FROM {_STANDING} AS t WHERE {where}", params)
        cursor.execute(f"DELETE FROM {_COUNT} AS t WHERE {where}", params)
        select, params = standings(connection.vendor, tenant_id)
        cursor.execute(
            f"INSERT INTO {_STANDING} (user_id, tenant_id, methods) "
            f"SELECT user_id, tenant_id, methods FROM ({select}) s WHERE methods <> ''",
            params,
        )
