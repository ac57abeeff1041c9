from __future__ import annotations

import json
import os
import sys
from typing import Any

from django.core.management.base import CommandParser

from sspr.cli.management.commands._base import SsprCommand
from sspr.messaging.models import OutboxMessage


class Command(SsprCommand):
    help = "What the outbox 'sent' (email, SMS, voice), newest first."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--to", help="Only messages to this address or number.")
        parser.add_argument("--json", action="store_true", help="One JSON object per line.")
        parser.add_argument("--limit", type=int, default=50)

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            self._print(options)
        except BrokenPipeError:
            # `sspr outbox --json | head -1`: the reader has what it wanted.
            sys.stdout = open(os.devnull, "w")  # noqa: SIM115 -- silences the exit-time flush

    def _print(self, options: dict[str, Any]) -> None:
        messages = OutboxMessage.objects.all()
        if options["to"]:
            messages = messages.filter(to=options["to"].strip().lower())
        for message in messages[: options["limit"]]:
            if options["json"]:
                self.stdout.write(json.dumps(message.as_dict()))
            else:
                self.stdout.write(
                    f"--- {message.sent_at:%Y-%m-%d %H:%M:%S} {message.channel} "
                    f"to {message.to}: {message.subject}\n{message.body}"
                )
