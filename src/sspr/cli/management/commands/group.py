from __future__ import annotations

from typing import Any

from django.core.management.base import CommandParser

from sspr.cli.management.commands._base import SsprCommand
from sspr.directory.groups import create_group, effective_members, get_group
from sspr.directory.models import User
from sspr.directory.tenants import get_tenant


class Command(SsprCommand):
    help = "Manage groups."

    def add_arguments(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(dest="action", required=True)
        create = sub.add_parser("create", help="Create a group with members.")
        create.add_argument("tenant")
        create.add_argument("name")
        create.add_argument("--member", action="append", default=[], dest="members", metavar="UPN")
        create.add_argument(
            "--subgroup",
            action="append",
            default=[],
            dest="subgroups",
            metavar="GROUP",
            help="A group whose members belong to this one.",
        )
        members = sub.add_parser("members", help="Everyone in a group, nested groups included.")
        members.add_argument("tenant")
        members.add_argument("name")

    def handle(self, *args: Any, **options: Any) -> None:
        tenant = get_tenant(options["tenant"])
        if options["action"] == "create":
            group = create_group(tenant, options["name"], options["members"], options["subgroups"])
            self.stdout.write(f"Created group {group.name} in {tenant.slug}.")
            return
        ids = effective_members([get_group(tenant, options["name"])])
        for upn in User.objects.filter(pk__in=ids).order_by("upn").values_list("upn", flat=True):
            self.stdout.write(upn)
