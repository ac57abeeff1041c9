"""`sspr`: one entry point in front of Django's management commands.

Every command works on a fresh data directory: pending migrations are applied first.
"""

from __future__ import annotations

import os
import sys

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


def migrate_if_needed() -> None:
    from django.core.management import call_command
    from django.db import connection
    from django.db.migrations.executor import MigrationExecutor

    executor = MigrationExecutor(connection)
    if executor.migration_plan(executor.loader.graph.leaf_nodes()):
        call_command("migrate", interactive=False, verbosity=0)


def main(argv: list[str] | None = None) -> None:
    args = list(sys.argv if argv is None else ["sspr", *argv])
    if len(args) > 1 and args[1] == "agent-token":  # a module name cannot have a hyphen
        args[1] = "agent_token"
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "sspr.settings")
    import django
    from django.core.management import execute_from_command_line

    django.setup()
    if len(args) > 1 and args[1] not in _NO_AUTO_MIGRATE:
        migrate_if_needed()
    execute_from_command_line(args)


if __name__ == "__main__":
    main()
