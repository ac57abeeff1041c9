from __future__ import annotations

from typing import Any

from django.core.management.base import CommandParser

from sspr.cli.management.commands._base import SsprCommand
from sspr.directory.models import Tenant
from sspr.directory.plans import Plan
from sspr.directory.tenants import create_tenant


class Command(SsprCommand):
    help = "Manage tenants (organisations)."

    def add_arguments(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(dest="action", required=True)
        create = sub.add_parser("create", help="Create a tenant.")
        create.add_argument("slug")
        create.add_argument("--name", required=True)
        create.add_argument("--plan", required=True, choices=[p.value for p in Plan])
        create.add_argument("--domain", action="append", default=[], dest="domains")
        sub.add_parser("list", help="List tenants.")

    def handle(self, *args: Any, **options: Any) -> None:
        if options["action"] == "create":
            tenant = create_tenant(
                options["slug"], options["name"], options["plan"], options["domains"]
            )
            self.stdout.write(
                f"Created tenant {tenant.slug} ({tenant.name}) on plan {tenant.plan}."
            )
        else:
            for tenant in Tenant.objects.order_by("slug"):
                self.stdout.write(f"{tenant.slug}\t{tenant.plan}\t{tenant.name}")
