from __future__ import annotations

import json
from typing import Any

from django.core.management.base import CommandError, CommandParser

from sspr.access import access_policies
from sspr.cli.management.commands._base import SsprCommand
from sspr.directory.tenants import get_tenant

ACTOR = "sspr command line"


def _pairs(items: list[str]) -> dict[str, str]:
    changes: dict[str, str] = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise CommandError(f"Write settings as KEY=VALUE, not '{item}'.", returncode=2)
        changes[key.strip()] = value
    return changes


class Command(SsprCommand):
    help = (
        "Manage conditional access policies. Settings as KEY=VALUE: "
        + ", ".join(access_policies.SETTINGS[1:])
        + " (lists comma-separated)."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(dest="action", required=True)
        create = sub.add_parser(
            "create",
            help="Add a policy, e.g. include_all=true where=untrusted decision=require_method "
            "state=on (new policies start report_only).",
        )
        create.add_argument("tenant")
        create.add_argument("name")
        create.add_argument("pairs", nargs="*", metavar="KEY=VALUE")
        listing = sub.add_parser("list", help="The policies as JSON lines.")
        listing.add_argument("tenant")
        show = sub.add_parser("show", help="One policy as JSON.")
        show.add_argument("tenant")
        show.add_argument("name")
        change = sub.add_parser("set", help="Change settings: KEY=VALUE ...")
        change.add_argument("tenant")
        change.add_argument("name")
        change.add_argument("pairs", nargs="+", metavar="KEY=VALUE")
        delete = sub.add_parser("delete", help="Delete a policy.")
        delete.add_argument("tenant")
        delete.add_argument("name")

    def handle(self, *args: Any, **options: Any) -> None:
        tenant = get_tenant(options["tenant"])
        action = options["action"]
        if action == "list":
            for policy in access_policies.list_policies(tenant):
                self.stdout.write(json.dumps(access_policies.as_dict(policy)))
            return
        if action == "delete":
            access_policies.delete_access_policy(tenant, options["name"], actor=ACTOR)
            self.stdout.write(f"Deleted policy {options['name']}.")
            return
        if action == "create":
            settings = {"name": options["name"], **_pairs(options["pairs"])}
            policy = access_policies.create_access_policy(tenant, settings, actor=ACTOR)
        elif action == "set":
            policy = access_policies.update_access_policy(
                tenant, options["name"], _pairs(options["pairs"]), actor=ACTOR
            )
        else:
            policy = access_policies.get_access_policy(tenant, options["name"])
        self.stdout.write(json.dumps(access_policies.as_dict(policy), indent=2))
