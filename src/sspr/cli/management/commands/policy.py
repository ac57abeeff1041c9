from __future__ import annotations

import json
from typing import Any

from django.core.management.base import CommandError, CommandParser

from sspr.cli.management.commands._base import SsprCommand
from sspr.directory.tenants import get_tenant
from sspr.policy.sspr_policy import as_dict, get_policy, update_policy


class Command(SsprCommand):
    help = "Show or change a tenant's self-service password reset policy."

    def add_arguments(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(dest="action", required=True)
        show = sub.add_parser("show", help="Print the policy as JSON.")
        show.add_argument("tenant")
        change = sub.add_parser("set", help="Change settings: KEY=VALUE ...")
        change.add_argument("tenant")
        change.add_argument("pairs", nargs="+", metavar="KEY=VALUE")

    def handle(self, *args: Any, **options: Any) -> None:
        tenant = get_tenant(options["tenant"])
        if options["action"] == "set":
            changes: dict[str, str] = {}
            for item in options["pairs"]:
                key, sep, value = item.partition("=")
                if not sep or not key:
                    raise CommandError(f"Write settings as KEY=VALUE, not '{item}'.", returncode=2)
                changes[key.strip()] = value
            policy = update_policy(tenant, changes, actor="sspr command line")
        else:
            policy = get_policy(tenant)
        self.stdout.write(json.dumps(as_dict(policy), indent=2))
