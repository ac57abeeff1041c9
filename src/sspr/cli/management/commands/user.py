from __future__ import annotations

from typing import Any

from django.core.management.base import CommandParser

from sspr.cli.management.commands._base import SsprCommand
from sspr.directory.models import User
from sspr.directory.roles import Role
from sspr.directory.tenants import get_tenant
from sspr.directory.users import create_user


class Command(SsprCommand):
    help = "Manage users."

    def add_arguments(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(dest="action", required=True)
        create = sub.add_parser("create", help="Create a cloud user.")
        create.add_argument("tenant")
        create.add_argument("upn")
        create.add_argument("--password")
        create.add_argument("--email", default="")
        create.add_argument("--mobile", default="")
        create.add_argument("--office-phone", default="")
        create.add_argument("--display-name", default="")
        create.add_argument("--given-name", default="")
        create.add_argument("--family-name", default="")
        create.add_argument(
            "--role", action="append", default=[], dest="roles", choices=[r.value for r in Role]
        )
        create.add_argument(
            "--must-change", action="store_true", help="Ask for a new password at the next sign-in."
        )
        listing = sub.add_parser("list", help="List the users of a tenant.")
        listing.add_argument("tenant")

    def handle(self, *args: Any, **options: Any) -> None:
        tenant = get_tenant(options["tenant"])
        if options["action"] == "list":
            for user in User.objects.filter(tenant=tenant).order_by("upn"):
                roles = ",".join(r.value for r in user.roles) or "-"
                self.stdout.write(f"{user.upn}\t{user.source}\t{roles}")
            return
        user = create_user(
            tenant,
            options["upn"],
            password=options["password"],
            mail=options["email"],
            mobile_phone=options["mobile"],
            office_phone=options["office_phone"],
            display_name=options["display_name"],
            given_name=options["given_name"],
            family_name=options["family_name"],
            roles=options["roles"],
            must_change_password=options["must_change"],
            actor="sspr command line",
        )
        self.stdout.write(f"Created user {user.upn} in {tenant.slug}.")
