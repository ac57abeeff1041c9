from __future__ import annotations

import json
from typing import Any

from django.core.management.base import CommandParser

from sspr.access import temporary_pass
from sspr.cli.management.commands._base import SsprCommand
from sspr.directory.lookups import get_user
from sspr.directory.tenants import get_tenant

ACTOR = "sspr command line"


class Command(SsprCommand):
    help = "Temporary Access Passes: issue one for a user (shown once), list, revoke."

    def add_arguments(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(dest="action", required=True)
        issue = sub.add_parser("issue", help="Issue a pass; an earlier one stops working.")
        issue.add_argument("tenant")
        issue.add_argument("upn")
        issue.add_argument("--lifetime", default="1h", help="10m to 30d (default 1h).")
        issue.add_argument("--uses", type=int, default=1, help="1 (one-time) to 100.")
        listing = sub.add_parser("list", help="A user's passes, without the passcodes.")
        listing.add_argument("tenant")
        listing.add_argument("upn")
        revoke = sub.add_parser("revoke", help="Revoke a pass (by id), or all of the user's.")
        revoke.add_argument("tenant")
        revoke.add_argument("upn")
        revoke.add_argument("id", nargs="?")

    def handle(self, *args: Any, **options: Any) -> None:
        user = get_user(get_tenant(options["tenant"]), options["upn"])
        action = options["action"]
        if action == "issue":
            issued = temporary_pass.issue(
                ACTOR, user, lifetime=options["lifetime"], max_uses=options["uses"]
            )
            until = issued.access_pass.expires_at.isoformat(timespec="minutes")
            self.stdout.write(issued.passcode)
            self.stderr.write(
                f"Temporary Access Pass for {user.upn}, good until {until} for "
                f"{issued.access_pass.max_uses} use(s). It is shown only now."
            )
        elif action == "list":
            for found in temporary_pass.list_passes(ACTOR, user):
                self.stdout.write(json.dumps(temporary_pass.as_dict(found), default=str))
        else:
            count = temporary_pass.revoke(ACTOR, user, options["id"])
            self.stdout.write(f"Revoked {count} Temporary Access Pass(es) of {user.upn}.")
