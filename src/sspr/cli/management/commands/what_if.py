from __future__ import annotations

import json
from typing import Any

from django.core.management.base import CommandParser

from sspr.access.access_policies import ACTIONS
from sspr.access.what_if import what_if
from sspr.cli.management.commands._base import SsprCommand
from sspr.directory.tenants import get_tenant


class Command(SsprCommand):
    help = "Which conditional access policies would apply to a user from an address, and why."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("tenant")
        parser.add_argument("upn")
        parser.add_argument("--address", required=True, help="An IPv4 or IPv6 address.")
        parser.add_argument("--action", default=ACTIONS[0], choices=ACTIONS)

    def handle(self, *args: Any, **options: Any) -> None:
        answer = what_if(
            get_tenant(options["tenant"]), options["upn"], options["address"], options["action"]
        )
        self.stdout.write(json.dumps(answer.as_dict(), indent=2))
