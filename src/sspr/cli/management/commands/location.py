from __future__ import annotations

import json
from typing import Any

from django.core.management.base import CommandParser

from sspr.access import locations
from sspr.cli.management.commands._base import SsprCommand
from sspr.directory.tenants import get_tenant

ACTOR = "sspr command line"


class Command(SsprCommand):
    help = "Manage named locations: IP ranges (IPv4 and IPv6 CIDR), trusted or not."

    def add_arguments(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(dest="action", required=True)
        create = sub.add_parser("create", help="Add a named location.")
        create.add_argument("tenant")
        create.add_argument("name")
        create.add_argument("--range", nargs="+", required=True, dest="ranges", metavar="CIDR")
        create.add_argument("--trusted", action="store_true")
        listing = sub.add_parser("list", help="The named locations, one a line (or --json).")
        listing.add_argument("tenant")
        listing.add_argument("--json", action="store_true")
        change = sub.add_parser("set", help="Change a location's ranges, trust or name.")
        change.add_argument("tenant")
        change.add_argument("name")
        change.add_argument("--range", nargs="+", dest="ranges", metavar="CIDR")
        trust = change.add_mutually_exclusive_group()
        trust.add_argument("--trusted", action="store_true", default=None)
        trust.add_argument("--untrusted", action="store_false", dest="trusted")
        change.add_argument("--rename", metavar="NAME")
        delete = sub.add_parser("delete", help="Delete a named location.")
        delete.add_argument("tenant")
        delete.add_argument("name")

    def handle(self, *args: Any, **options: Any) -> None:
        tenant = get_tenant(options["tenant"])
        action = options["action"]
        if action == "list":
            for loc in locations.list_locations(tenant):
                if options["json"]:
                    self.stdout.write(json.dumps(locations.as_dict(loc), default=str))
                else:
                    trust = "trusted" if loc.trusted else "untrusted"
                    self.stdout.write(f"{loc.name}\t{trust}\t{','.join(loc.ranges)}")
            return
        if action == "create":
            created = locations.create_location(
                tenant, options["name"], options["ranges"], options["trusted"], actor=ACTOR
            )
            self.stdout.write(f"Created named location {created.name} in {tenant.slug}.")
        elif action == "set":
            changes: dict[str, Any] = {}
            if options["ranges"]:
                changes["ranges"] = options["ranges"]
            if options["trusted"] is not None:
                changes["trusted"] = options["trusted"]
            if options["rename"]:
                changes["name"] = options["rename"]
            changed = locations.update_location(tenant, options["name"], changes, actor=ACTOR)
            self.stdout.write(json.dumps(locations.as_dict(changed), default=str, indent=2))
        else:
            locations.delete_location(tenant, options["name"], actor=ACTOR)
            self.stdout.write(f"Deleted named location {options['name']}.")
