"""`sspr insights check|rebuild [tenant]`: compare the counts insights read with the same counts
worked out from the users, registrations and audit events, or work them out again."""

from __future__ import annotations

from typing import Any

from django.core.management.base import CommandError, CommandParser

from sspr.cli.management.commands._base import SsprCommand
from sspr.directory.models import Tenant
from sspr.directory.tenants import get_tenant
from sspr.insights.counts import differences, rebuild


class Command(SsprCommand):
    help = "Check or rebuild the counts behind usage & insights."

    def add_arguments(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(dest="action", required=True)
        check = sub.add_parser(
            "check", help="Compare the kept counts with a recount (exit 1 if they differ)."
        )
        check.add_argument("tenant", nargs="?", help="Only this tenant.")
        again = sub.add_parser("rebuild", help="Work the counts out again from the tables.")
        again.add_argument("tenant", nargs="?", help="Only this tenant.")

    def handle(self, *args: Any, **options: Any) -> None:
        slug = options["tenant"]
        tenants = [get_tenant(slug)] if slug else list(Tenant.objects.order_by("slug"))
        wrong = 0
        for tenant in tenants:
            if options["action"] == "rebuild":
                rebuild(tenant)
                self.stdout.write(f"{tenant.slug}: rebuilt")
                continue
            found = differences(tenant)
            wrong += bool(found)
            for line in found:
                self.stderr.write(f"{tenant.slug}: {line}")
            self.stdout.write(f"{tenant.slug}: {'DIFFERENT' if found else 'ok'}")
        if wrong:
            raise CommandError(f"{wrong} tenant(s) with counts that differ", returncode=1)
