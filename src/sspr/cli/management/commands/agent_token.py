"""`sspr agent-token TENANT`: a one-time enrolment token for an on-premises agent."""

from __future__ import annotations

import json
from typing import Any

from django.core.management.base import CommandParser

from sspr.cli.management.commands._base import SsprCommand
from sspr.directory.tenants import get_tenant
from sspr.hybrid.enrollment import create_token, enroll_command


class Command(SsprCommand):
    help = "Print a one-time enrolment token for an on-premises agent (valid one hour)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("tenant")
        parser.add_argument(
            "--json", action="store_true", help="Print one JSON object: token, expires_at."
        )

    def handle(self, *args: Any, **options: Any) -> None:
        tenant = get_tenant(options["tenant"])
        token, row = create_token(tenant, "sspr command line")
        expires = row.expires_at.strftime("%Y-%m-%dT%H:%M:%SZ")
        if options["json"]:
            self.stdout.write(
                json.dumps({"tenant": tenant.slug, "token": token, "expires_at": expires})
            )
            return
        self.stdout.write(token)
        self.stdout.write(f"Expires at {expires} (one hour); it can enrol one agent.")
        self.stdout.write(f"On the agent host run: {enroll_command(token)}")
