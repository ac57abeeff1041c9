"""The online breached-password lookup, against a local receiver playing the Pwned Passwords API.

The receiver implements the range API as Have I Been Pwned documents it: GET /range/{5 hex},
answering 200 text/plain with one `SUFFIX:COUNT` line (35 upper-case hex characters) for every
known hash under that prefix; with the request header `Add-Padding: true` it adds made-up
suffixes with a count of 0 so that every answer has 800 to 1,000 lines. It records everything it
receives, so the tests can show that only the prefix ever leaves.
"""

from __future__ import annotations

import hashlib
import logging
import random
import re
import secrets
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from django.core.cache import cache

from sspr.policy.breached import hibp
from sspr.policy.breached.filter import is_breached
from sspr.policy.breached.hibp import BreachLookupUnavailable, is_pwned
from sspr.policy.rules.base import PasswordContext
from sspr.policy.rules.breached import BreachedPasswordRule

_RANGE = re.compile(r"^/range/(?P<prefix>[0-9A-Fa-f]{5})$")
TIMEOUT = 0.5


def sha1_hex(password: str) -> str:
    return hashlib.sha1(password.encode(), usedforsecurity=False).hexdigest().upper()


def fresh_password() -> str:
    """A password that neither the shipped filter nor the receiver knows until told.

    About 1 random password in 5,000 is a false positive of the shipped filter: skip those.
    """
    while True:
        password = "Zq7!" + secrets.token_urlsafe(12)
        if not is_breached(password):
            return password


@dataclass
class FakePwnedPasswords:
    url: str
    # Full SHA-1 (upper-case hex) -> the number of times seen in breaches.
    breached: dict[str, int] = field(default_factory=dict)
    # Suffixes to put among the padding (count 0) under a prefix.
    padding_with: dict[str, list[str]] = field(default_factory=dict)
    requests: list[dict[str, Any]] = field(default_factory=list)
    lines_sent: list[int] = field(default_factory=list)
    delay: float = 0.0
    force_status: int | None = None
    force_body: bytes | None = None
    # Send the answer's lines this many seconds apart, after the headers.
    trickle: float = 0.0
    release: threading.Event = field(default_factory=threading.Event)


def _handler(state: FakePwnedPasswords) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:
            pass  # keep the test output (and caplog) quiet

        def _answer(self, status: int, body: bytes) -> None:
            try:
                self.send_response(status)
                self.send_header("Content-Type", "text/plain")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)
            except OSError:
                pass  # the client gave up (the timeout tests)

        def do_GET(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            state.requests.append(
                {
                    "requestline": self.requestline,
                    "path": self.path,
                    "headers": dict(self.headers.items()),
                    "body": self.rfile.read(length) if length else b"",
                }
            )
            if state.delay:
                state.release.wait(state.delay)
            if state.force_status is not None or state.force_body is not None:
                self._answer(state.force_status or 200, state.force_body or b"Service Unavailable")
                return
            match = _RANGE.match(self.path)
            if not match:
                self._answer(400, b"The hash prefix was not in a valid format")
                return
            prefix = match["prefix"].upper()
            lines = [
                f"{full[5:]}:{count}"
                for full, count in state.breached.items()
                if full.startswith(prefix)
            ]
            if self.headers.get("Add-Padding") == "true":
                rng = random.Random(prefix)
                padding = [f"{s}:0" for s in state.padding_with.get(prefix, [])]
                target = rng.randint(800, 1000)
                while len(lines) + len(padding) < target:
                    padding.append(f"{rng.getrandbits(140):035X}:0")
                lines = sorted(lines + padding)
            state.lines_sent.append(len(lines))
            body = "".join(line + "\r\n" for line in lines).encode()
            if state.trickle:
                self._trickle(body)
                return
            self._answer(200, body)

        def _trickle(self, body: bytes) -> None:
            try:
                self.send_response(200)
                self.send_header("Content-Type", "text/plain")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                for start in range(0, len(body), 42):
                    self.wfile.write(body[start : start + 42])
                    self.wfile.flush()
                    if state.release.wait(state.trickle):
                        return
            except OSError:
                pass

    return Handler


@pytest.fixture
def receiver(settings: Any) -> Iterator[FakePwnedPasswords]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), BaseHTTPRequestHandler)
    server.daemon_threads = True
    state = FakePwnedPasswords(url=f"http://127.0.0.1:{server.server_address[1]}")
    server.RequestHandlerClass = _handler(state)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    settings.HIBP_BASE_URL = state.url
    settings.HIBP_TIMEOUT = TIMEOUT
    cache.clear()
    try:
        yield state
    finally:
        state.release.set()
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
        cache.clear()


def assert_only_prefixes_left(state: FakePwnedPasswords, *passwords: str) -> None:
    """Every request was GET /range/{5 upper-case hex} with padding asked for; nothing more."""
    assert state.requests
    for request in state.requests:
        assert re.fullmatch(r"/range/[0-9A-F]{5}", request["path"])
        assert request["requestline"] == f"GET {request['path']} HTTP/1.1"
        assert request["headers"].get("Add-Padding") == "true"
        assert request["headers"].get("User-Agent", "").startswith("opensspr/")
        assert request["body"] == b""
        seen = repr(request).upper()
        for password in passwords:
            full = sha1_hex(password)
            assert password.upper() not in seen
            assert full not in seen
            assert full[5:] not in seen
            assert full[5:15] not in seen


def assert_logs_clean(caplog: pytest.LogCaptureFixture, *passwords: str) -> None:
    text = "\n".join(r.getMessage() for r in caplog.records).upper()
    for password in passwords:
        assert password.upper() not in text
        assert sha1_hex(password)[5:] not in text


def test_a_breached_password_is_found(
    receiver: FakePwnedPasswords, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    password = fresh_password()
    receiver.breached[sha1_hex(password)] = 12345
    assert is_pwned(password) is True
    found = BreachedPasswordRule(online=True).check(password, PasswordContext())
    assert [v.code for v in found] == ["password_breached"]
    assert 800 <= receiver.lines_sent[0] <= 1000  # the answer really was padded
    assert_only_prefixes_left(receiver, password)
    assert_logs_clean(caplog, password)


def test_a_password_not_in_the_answer_is_accepted(receiver: FakePwnedPasswords) -> None:
    password = fresh_password()
    receiver.breached[sha1_hex(fresh_password())] = 3  # another hash, maybe another prefix
    assert is_pwned(password) is False
    assert (
        BreachedPasswordRule(online=True, fail_closed=True).check(password, PasswordContext()) == []
    )
    assert_only_prefixes_left(receiver, password)


def test_a_padding_line_with_a_count_of_0_is_not_a_breach(receiver: FakePwnedPasswords) -> None:
    password = fresh_password()
    full = sha1_hex(password)
    receiver.padding_with[full[:5]] = [full[5:]]
    assert is_pwned(password) is False
    assert BreachedPasswordRule(online=True).check(password, PasswordContext()) == []
    assert_only_prefixes_left(receiver, password)


def test_a_repeated_prefix_is_answered_from_the_cache(receiver: FakePwnedPasswords) -> None:
    password = fresh_password()
    receiver.breached[sha1_hex(password)] = 7
    assert is_pwned(password) is True
    assert len(receiver.requests) == 1
    assert is_pwned(password) is True
    assert len(receiver.requests) == 1
    # Another password under the same prefix: still no second request.
    seen: dict[str, str] = {}
    while True:
        candidate = fresh_password()
        other = seen.setdefault(sha1_hex(candidate)[:5], candidate)
        if other != candidate:
            first, second = other, candidate
            break
    assert is_pwned(first) is False
    assert is_pwned(second) is False
    assert len(receiver.requests) == 2
    assert receiver.requests[1]["path"] == f"/range/{sha1_hex(first)[:5]}"
    assert is_pwned(password) is True  # the first prefix stays cached alongside
    assert len(receiver.requests) == 2
    assert_only_prefixes_left(receiver, password, first, second)


def test_a_slow_receiver_times_out(
    receiver: FakePwnedPasswords, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    receiver.delay = TIMEOUT * 6
    password = fresh_password()
    started = time.monotonic()
    with pytest.raises(BreachLookupUnavailable):
        is_pwned(password)
    assert time.monotonic() - started < TIMEOUT * 4
    assert "breach_lookup_unavailable" in caplog.text and "error=timeout" in caplog.text

    caplog.clear()
    assert BreachedPasswordRule(online=True).check(password, PasswordContext()) == []
    assert any(
        r.levelno == logging.WARNING and "breach_check_skipped" in r.getMessage()
        for r in caplog.records
    )
    closed = BreachedPasswordRule(online=True, fail_closed=True).check(password, PasswordContext())
    assert [v.code for v in closed] == ["password_breach_check_unavailable"]
    assert closed[0].message == (
        "We could not check this password against known breaches right now; try again in a moment."
    )
    # An unanswered lookup is not cached: every check asked again.
    assert len(receiver.requests) == 3
    assert_only_prefixes_left(receiver, password)
    assert_logs_clean(caplog, password)


def test_a_slow_trickle_of_an_answer_times_out(receiver: FakePwnedPasswords) -> None:
    # Every line within the socket timeout, the whole answer far beyond it.
    receiver.trickle = TIMEOUT / 5
    started = time.monotonic()
    with pytest.raises(BreachLookupUnavailable):
        is_pwned(fresh_password())
    assert time.monotonic() - started < TIMEOUT * 4


def test_a_503_is_unavailable(
    receiver: FakePwnedPasswords, caplog: pytest.LogCaptureFixture
) -> None:
    receiver.force_status = 503
    password = fresh_password()
    with pytest.raises(BreachLookupUnavailable):
        is_pwned(password)
    assert "status=503" in caplog.text
    assert BreachedPasswordRule(online=True).check(password, PasswordContext()) == []
    closed = BreachedPasswordRule(online=True, fail_closed=True).check(password, PasswordContext())
    assert [v.code for v in closed] == ["password_breach_check_unavailable"]
    assert_only_prefixes_left(receiver, password)


def test_an_answer_that_is_not_the_api_is_unavailable(receiver: FakePwnedPasswords) -> None:
    receiver.force_body = b"<html>Welcome to the captive portal</html>"
    with pytest.raises(BreachLookupUnavailable):
        is_pwned(fresh_password())


def test_no_network_still_leaves_the_offline_filter(settings: Any) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    settings.HIBP_BASE_URL = f"http://127.0.0.1:{port}"  # nothing listens there
    settings.HIBP_TIMEOUT = TIMEOUT
    cache.clear()
    password = fresh_password()
    with pytest.raises(BreachLookupUnavailable):
        is_pwned(password)
    strict = BreachedPasswordRule(online=True, fail_closed=True)
    assert [v.code for v in strict.check("Password123", PasswordContext())] == ["password_breached"]
    assert [v.code for v in strict.check(password, PasswordContext())] == [
        "password_breach_check_unavailable"
    ]
    assert BreachedPasswordRule(online=True).check(password, PasswordContext()) == []


def test_plain_http_is_refused_except_to_loopback(
    settings: Any, caplog: pytest.LogCaptureFixture
) -> None:
    settings.HIBP_BASE_URL = "http://api.pwnedpasswords.com"
    cache.clear()
    with pytest.raises(BreachLookupUnavailable):
        is_pwned(fresh_password())
    assert "base_url_not_https" in caplog.text


def test_the_prefix_must_be_five_upper_case_hex_characters() -> None:
    with pytest.raises(ValueError):
        hibp.breached_suffixes("abcde")
    with pytest.raises(ValueError):
        hibp.breached_suffixes("ABCDEF")
