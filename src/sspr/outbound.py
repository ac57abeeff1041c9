"""Calls the service makes to other services (SMS gateways, Have I Been Pwned): one policy.

Redirects are never followed, so credentials and lookups go only where they were meant to; plain
HTTP is refused except to loopback, where the tests' local receivers listen.
"""

from __future__ import annotations

import urllib.parse
import urllib.request
from email.message import Message
from typing import IO

LOOPBACK = frozenset({"127.0.0.1", "localhost", "::1"})


class _NoRedirects(urllib.request.HTTPRedirectHandler):
    def redirect_request(
        self,
        req: urllib.request.Request,
        fp: IO[bytes],
        code: int,
        msg: str,
        headers: Message,
        newurl: str,
    ) -> urllib.request.Request | None:
        return None  # urllib then raises HTTPError for the 3xx


opener = urllib.request.build_opener(_NoRedirects)


def secure_base(url: str) -> bool:
    """HTTPS, or plain HTTP to this machine only."""
    parts = urllib.parse.urlsplit(url)
    return parts.scheme == "https" or (parts.scheme == "http" and parts.hostname in LOOPBACK)
