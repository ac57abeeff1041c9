"""`sspr`: one entry point in front of Django's management commands.

Every command works on a fresh data directory: pending migrations are applied first.
"""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Iterator

# Commands that must not trigger an automatic migration (they manage migrations themselves,
# or only print help).
_NO_AUTO_MIGRATE = {
    "migrate",
    "makemigrations",
    "showmigrations",
    "sqlmigrate",
    "help",
    "--help",
    "-h",
    "check",
    "version",
    "--version",
}


_HYPHENATED = {"agent-token", "access-policy", "what-if"}


# The key of the PostgreSQL advisory lock that migrations take turns under ("SSPR" in ASCII).
_MIGRATION_LOCK = 0x5353_5052


@contextlib.contextmanager
def migration_lock() -> Iterator[None]:
    """App processes started together (several hosts after an upgrade, or `sspr@.service`
    units at boot) would otherwise apply the same migration at once on PostgreSQL and all but
    one fail. Under the lock the first migrates and the others then find nothing to do.
    SQLite serves one host, whose write lock already lets one writer through at a time."""
    from django.db import connection

    if connection.vendor != "postgresql":
        yield
        return
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_lock(%s)", [_MIGRATION_LOCK])
    try:
        yield
    finally:
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_unlock(%s)", [_MIGRATION_LOCK])


def migrate_if_needed() -> None:
    from django.core.management import call_command
    from django.db import connection
    from django.db.migrations.executor import MigrationExecutor

    with migration_lock():
        executor = MigrationExecutor(connection)
        if executor.migration_plan(executor.loader.graph.leaf_nodes()):
            call_command("migrate", interactive=False, verbosity=0)


def main(argv: list[str] | None = None) -> None:
    args = list(sys.argv if argv is None else ["sspr", *argv])
    if len(args) > 1 and args[1] in _HYPHENATED:  # a module name cannot have a hyphen
        args[1] = args[1].replace("-", "_")
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "sspr.settings")
    import django
    from django.core.management import execute_from_command_line

    django.setup()
    if len(args) > 1 and args[1] not in _NO_AUTO_MIGRATE:
        migrate_if_needed()
    if len(args) > 1 and args[1] == "migrate":
        with migration_lock():
            execute_from_command_line(args)
        return
    execute_from_command_line(args)


if __name__ == "__main__":
    main()
