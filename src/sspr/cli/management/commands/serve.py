from __future__ import annotations

from typing import Any

import uvicorn
from django.conf import settings
from django.core.management.base import CommandParser

from sspr.cli.management.commands._base import SsprCommand


def add_server_arguments(parser: CommandParser) -> None:
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8000)
    parser.add_argument("--workers", type=int, default=1)


def run_server(host: str, port: int, workers: int = 1) -> None:
    options: dict[str, Any] = {
        "host": host,
        "port": port,
        "log_level": "warning",
        "proxy_headers": bool(settings.TRUSTED_PROXIES),
        "forwarded_allow_ips": settings.TRUSTED_PROXIES or None,
        "server_header": False,
        # A reset waiting for its agent, at most; a stop never hangs on a client.
        "timeout_graceful_shutdown": 12,
    }
    # A stop ends the agents' long polls at once (sspr.web.serving.end_long_polls_on_stop).
    uvicorn.run("sspr.asgi:application", workers=workers, **options)


class Command(SsprCommand):
    help = "Serve the portals and the API (migrations are applied first)."

    def add_arguments(self, parser: CommandParser) -> None:
        add_server_arguments(parser)

    def handle(self, *args: Any, **options: Any) -> None:
        self.stdout.write(f"Serving on http://{options['host']}:{options['port']}/")
        self.stdout.flush()
        run_server(options["host"], options["port"], options["workers"])
