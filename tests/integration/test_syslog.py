"""Audit events reach a SIEM as RFC 5424 syslog messages, over UDP and over TCP with
octet-counting framing, sent after the change commits and never at the request's expense.

The receivers are real sockets on loopback, run by the standard library's socketserver, and
parse what they get as a SIEM would.
"""

from __future__ import annotations

import logging
import queue
import re
import socket
import socketserver
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from django.core.exceptions import ImproperlyConfigured

from sspr.audit import syslog
from sspr.audit.apps import AuditConfig
from sspr.audit.events import Activity, record
from sspr.audit.models import AuditEvent, AuditSeal
from sspr.directory.models import Tenant, User
from tests.conftest import PASSWORD, Api

# Transactional: the messages leave after the commit, as they do in production.
pytestmark = pytest.mark.django_db(transaction=True)

BOM = b"\xef\xbb\xbf"
HEADER = re.compile(rb"^<(\d{1,3})>1 (\S+) (\S+) (\S+) (\S+) (\S+) ")


@dataclass
class Message:
    pri: int
    timestamp: str
    hostname: str
    app_name: str
    procid: str
    msgid: str
    sd_id: str
    params: dict[str, str]
    text: str

    @property
    def facility(self) -> int:
        return self.pri // 8

    @property
    def severity(self) -> int:
        return self.pri % 8


def parse(frame: bytes) -> Message:
    """An RFC 5424 message with one structured data element, checked strictly."""
    header = HEADER.match(frame)
    assert header, frame[:80]
    rest = frame[header.end() :]
    assert rest.startswith(b"["), rest[:80]
    sd_id, pos = rest[1:].split(b" ", 1)[0].decode(), 1 + rest[1:].index(b" ") + 1
    params: dict[str, str] = {}
    while True:
        eq = rest.index(b"=", pos)
        name = rest[pos:eq].decode("ascii")
        assert re.fullmatch(r"[!-~]{1,32}", name) and not set(name) & set('= ]"'), name
        assert rest[eq + 1 : eq + 2] == b'"'
        i, value = eq + 2, bytearray()
        while rest[i : i + 1] != b'"':
            if rest[i : i + 1] == b"\\" and rest[i + 1 : i + 2] in (b'"', b"\\", b"]"):
                i += 1
            else:
                assert rest[i : i + 1] != b"]", "an unescaped ] inside a value"
            value += rest[i : i + 1]
            i += 1
        params[name] = value.decode("utf-8")
        after = rest[i + 1 : i + 2]
        if after == b"]":
            pos = i + 2
            break
        assert after == b" "
        pos = i + 2
    assert rest[pos : pos + 1] == b" "
    body = rest[pos + 1 :]
    assert body.startswith(BOM), "MSG is not marked as UTF-8"
    fields = [f.decode("ascii") for f in header.groups()[1:]]
    return Message(int(header.group(1)), *fields, sd_id, params, body[3:].decode("utf-8"))


class Receiver:
    """A syslog receiver on loopback that keeps every message it is sent."""

    def __init__(self, transport: str, port: int = 0) -> None:
        self.transport = transport
        self.frames: queue.Queue[bytes] = queue.Queue()
        self.connections = 0
        frames, owner = self.frames, self

        class Udp(socketserver.BaseRequestHandler):
            def handle(self) -> None:
                frames.put(self.request[0])

        class Tcp(socketserver.StreamRequestHandler):
            def handle(self) -> None:
                owner.connections += 1
                while True:
                    length = b""
                    while (c := self.rfile.read(1)) != b" ":
                        if not c:
                            return
                        assert c.isdigit(), f"not octet-counting framing: {length + c!r}"
                        length += c
                    frames.put(self.rfile.read(int(length)))
                    if owner.hang_up_after_first and owner.connections == 1:
                        return

        self.hang_up_after_first = False
        server_class: Any = (
            socketserver.ThreadingUDPServer
            if transport == "udp"
            else socketserver.ThreadingTCPServer
        )
        server_class.daemon_threads = True
        server_class.allow_reuse_address = True
        self.server = server_class(("127.0.0.1", port), Udp if transport == "udp" else Tcp)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    @property
    def url(self) -> str:
        return f"{self.transport}://127.0.0.1:{self.server.server_address[1]}"

    def next(self, activity: str | None = None, timeout: float = 5) -> Message:
        """The next message, skipping others than `activity`."""
        while True:
            message = parse(self.frames.get(timeout=timeout))
            if activity is None or message.params["activity"] == activity:
                return message

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def free_port() -> int:
    """A loopback port nobody listens on (for now)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port


@pytest.fixture
def receiver(settings: Any) -> Iterator[Callable[..., Receiver]]:
    started: list[Receiver] = []

    def start(transport: str, facility: str = "authpriv") -> Receiver:
        r = Receiver(transport)
        started.append(r)
        settings.AUDIT_SYSLOG_URL = r.url
        settings.AUDIT_SYSLOG_FACILITY = facility
        return r

    yield start
    syslog.flush(5)
    for r in started:
        r.close()


@pytest.fixture
def alice(tenant: Tenant, make_user: Callable[..., User]) -> User:
    return make_user(tenant, "alice@contoso.com")


class TestUdp:
    def test_a_failed_and_a_good_sign_in(
        self, receiver: Callable[..., Receiver], api: Api, alice: User
    ) -> None:
        udp = receiver("udp")
        api.sign_in("contoso", alice.upn, "Wrong-Pass-12")
        response = api.call(
            "POST",
            "/tenants/contoso/sessions",
            {"username": alice.upn, "password": PASSWORD},
            HTTP_X_REQUEST_ID="req-syslog-0001",
            HTTP_USER_AGENT="pytest/1",
        )
        assert response.status_code == 201

        failed = udp.next(Activity.SIGN_IN)
        assert (failed.facility, failed.severity) == (10, 4)  # authpriv, warning
        assert failed.params["result"] == "failure"
        assert failed.params["reason"]

        good = udp.next(Activity.SIGN_IN)
        assert (good.pri, good.facility, good.severity) == (85, 10, 5)  # authpriv, notice
        event = AuditEvent.objects.get(correlation_id="req-syslog-0001")
        assert good.sd_id == "audit@32473"
        assert good.app_name == "opensspr" and good.msgid == "audit"
        assert good.hostname == socket.gethostname()
        assert good.params == {
            "tenant": "contoso",
            "id": str(event.pk),
            "service": event.service,
            "category": "Authentication",
            "activity": "Sign-in",
            "result": "success",
            "actor": alice.upn,
            "target": alice.upn,
            "reason": "",
            "ip": "127.0.0.1",
            "userAgent": "pytest/1",
            "correlationId": "req-syslog-0001",
            "seq": good.params["seq"],
            "hash": good.params["hash"],
            "details": good.params["details"],
        }
        # Sealed before it left: the SIEM holds the chain's hash, evidence kept elsewhere.
        seal = AuditSeal.objects.get(event_id=event.pk)
        assert (good.params["seq"], good.params["hash"]) == (str(seal.seq), seal.hash)
        assert '"kind":"api"' in good.params["details"]
        assert good.timestamp.endswith("Z")
        assert good.timestamp.startswith(f"{event.occurred_at:%Y-%m-%dT%H:%M:%S}")
        assert good.text == f"Sign-in: success target={alice.upn} actor={alice.upn}"
        # No secret travels: neither the password nor the session token.
        assert PASSWORD not in repr(good) and response.json()["token"] not in repr(good)

    def test_values_are_escaped(self, receiver: Callable[..., Receiver], tenant: Tenant) -> None:
        udp = receiver("udp")
        tricky = 'a "quoted" \\ back]slash ünïcode'
        record(tenant, Activity.SIGN_OUT, actor=tricky, reason=tricky, note=tricky)
        message = udp.next(Activity.SIGN_OUT)
        assert message.params["actor"] == tricky == message.params["reason"]
        assert '"note":"a \\"quoted\\"' in message.params["details"]


class TestTcp:
    def test_octet_counting_frames_in_order(
        self, receiver: Callable[..., Receiver], tenant: Tenant
    ) -> None:
        tcp = receiver("tcp", facility="local3")
        for n in range(5):
            record(tenant, Activity.SIGN_OUT, actor=f"user{n}@contoso.com")
        actors = [tcp.next(Activity.SIGN_OUT).params["actor"] for _ in range(5)]
        assert actors == [f"user{n}@contoso.com" for n in range(5)]
        assert tcp.connections == 1  # one connection kept open

    def test_facility_by_number_and_failure_severity(
        self, receiver: Callable[..., Receiver], tenant: Tenant
    ) -> None:
        tcp = receiver("tcp", facility="4")
        record(
            tenant,
            Activity.RESET_BLOCKED,
            result=AuditEvent.Result.FAILURE,
            target="bob@contoso.com",
            reason="Too many attempts",
        )
        message = tcp.next(Activity.RESET_BLOCKED)
        assert message.pri == 4 * 8 + 4  # auth, warning

    def test_a_closed_connection_is_reopened(
        self, receiver: Callable[..., Receiver], tenant: Tenant
    ) -> None:
        """A receiver that restarts loses nothing that was sent after it hung up."""
        tcp = receiver("tcp")
        tcp.hang_up_after_first = True
        record(tenant, Activity.SIGN_OUT, actor="first@contoso.com")
        assert tcp.next(Activity.SIGN_OUT).params["actor"] == "first@contoso.com"
        for n in range(3):
            record(tenant, Activity.SIGN_OUT, actor=f"again{n}@contoso.com")
        actors = [tcp.next(Activity.SIGN_OUT).params["actor"] for _ in range(3)]
        assert actors == [f"again{n}@contoso.com" for n in range(3)]
        assert tcp.connections == 2


class TestReceiverDown:
    def test_the_request_succeeds_and_the_failure_is_logged_once(
        self, settings: Any, api: Api, alice: User, caplog: pytest.LogCaptureFixture
    ) -> None:
        port = free_port()
        settings.AUDIT_SYSLOG_URL = f"tcp://127.0.0.1:{port}"
        with caplog.at_level(logging.INFO, logger="sspr.audit.syslog"):
            for _ in range(3):
                assert api.sign_in("contoso", alice.upn).status_code == 201
            assert syslog.flush(10)
        failures = [r for r in caplog.records if "audit_syslog_failed" in r.getMessage()]
        assert len(failures) == 1
        assert f"tcp://127.0.0.1:{port}" in failures[0].getMessage()
        assert PASSWORD not in caplog.text and alice.upn not in caplog.text

    def test_it_recovers(
        self, settings: Any, tenant: Tenant, caplog: pytest.LogCaptureFixture
    ) -> None:
        port = free_port()
        settings.AUDIT_SYSLOG_URL = f"tcp://127.0.0.1:{port}"
        with caplog.at_level(logging.INFO, logger="sspr.audit.syslog"):
            record(tenant, Activity.SIGN_OUT, actor="lost@contoso.com")
            assert syslog.flush(5)
            back = Receiver("tcp", port)
            try:
                record(tenant, Activity.SIGN_OUT, actor="found@contoso.com")
                assert back.next(Activity.SIGN_OUT).params["actor"] == "found@contoso.com"
                assert syslog.flush(5)
            finally:
                back.close()
        assert "audit_syslog_failed" in caplog.text
        assert "audit_syslog_recovered" in caplog.text and "dropped=1" in caplog.text


class TestSettings:
    @pytest.mark.parametrize(
        ("url", "expected"),
        [
            ("", None),
            ("udp://127.0.0.1:5514", syslog.Target("udp", "127.0.0.1", 5514)),
            ("tcp://siem.example.com:601", syslog.Target("tcp", "siem.example.com", 601)),
            ("tcp://[::1]:601", syslog.Target("tcp", "::1", 601)),
        ],
    )
    def test_good_urls(self, url: str, expected: syslog.Target | None) -> None:
        assert syslog.parse_url(url) == expected

    @pytest.mark.parametrize(
        "url",
        [
            "http://siem:514",
            "udp://siem",
            "tcp://:601",
            "udp://siem:99999",
            "tcp://u:p@siem:601",
            "siem:514",
        ],
    )
    def test_bad_urls(self, url: str) -> None:
        with pytest.raises(ValueError, match="SSPR_SYSLOG_URL"):
            syslog.parse_url(url)

    @pytest.mark.parametrize(
        ("value", "number"),
        [("", 10), ("authpriv", 10), ("AUTH", 4), ("local7", 23), ("0", 0), ("23", 23)],
    )
    def test_facilities(self, value: str, number: int) -> None:
        assert syslog.parse_facility(value) == number

    @pytest.mark.parametrize("value", ["24", "-1", "kernel", "local8"])
    def test_bad_facilities(self, value: str) -> None:
        with pytest.raises(ValueError, match="SSPR_SYSLOG_FACILITY"):
            syslog.parse_facility(value)

    def test_a_bad_setting_stops_the_start(self, settings: Any) -> None:
        import sspr.audit

        settings.AUDIT_SYSLOG_URL = "syslog.example.com"
        with pytest.raises(ImproperlyConfigured, match="SSPR_SYSLOG_URL"):
            AuditConfig("sspr.audit", sspr.audit).ready()

    def test_off_by_default(self, tenant: Tenant, settings: Any) -> None:
        assert settings.AUDIT_SYSLOG_URL == ""
        record(tenant, Activity.SIGN_OUT, actor="quiet@contoso.com")  # nothing to send to
