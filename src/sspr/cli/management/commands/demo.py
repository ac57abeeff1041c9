from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.management.base import CommandParser

from sspr.cli.management.commands._base import SsprCommand
from sspr.cli.management.commands.serve import add_server_arguments, run_server
from sspr.directory.demo import DEMO_USERS, ensure_demo


class Command(SsprCommand):
    help = "Create the demo tenant 'contoso' (once), say who can sign in, then serve."

    def add_arguments(self, parser: CommandParser) -> None:
        add_server_arguments(parser)
        parser.add_argument(
            "--no-serve",
            action="store_true",
            help="Set up the demo and print the sign-ins, but do not serve.",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        tenant, created = ensure_demo()
        base = f"http://{options['host']}:{options['port']}"
        out = self.stdout
        out.write(
            ("Created" if created else "Using") + f" the demo tenant '{tenant.slug}' "
            f"(plan {tenant.plan}); data in {settings.DATA_DIR}."
        )
        out.write("\nWho can sign in (passwords as first set; a user may have changed theirs):")
        width = max(len(u.upn) for u in DEMO_USERS)
        for user in DEMO_USERS:
            note = ", ".join(
                [*user.roles, *(["must change at sign-in"] if user.must_change else [])]
            )
            out.write(f"  {user.upn.ljust(width)}  {user.password.ljust(18)}  {note}".rstrip())
        out.write("\nWhere:")
        out.write(f"  Sign in         {base}/t/{tenant.slug}/sign-in")
        out.write(f"  Change password {base}/t/{tenant.slug}/change")
        out.write(f"  API             {base}/api/v1/  (OpenAPI: {base}/api/v1/openapi.json)")
        out.write("  Sent messages   sspr outbox   (with .venv/bin on your PATH)\n")
        out.flush()
        if not options["no_serve"]:
            run_server(options["host"], options["port"], options["workers"])
