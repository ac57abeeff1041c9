"""SMS and voice delivery, against a local HTTP receiver that plays Twilio's documented API.

The receiver implements the two endpoints opensspr uses, as Twilio documents them:
POST /2010-04-01/Accounts/{AccountSid}/Messages.json (To, From, Body) and
POST /2010-04-01/Accounts/{AccountSid}/Calls.json (To, From, Twiml), form-encoded, HTTP Basic
auth with the account SID and auth token, answering 201 with the resource's JSON.
"""

from __future__ import annotations

import base64
import json
import logging
import re
import secrets
import socket
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs
from xml.etree import ElementTree

import pytest
from django.core.management import call_command

from sspr.messaging.models import OutboxMessage
from sspr.messaging.phone import DeliveryFailed, place_call, send_sms

SID = "AC" + "0123456789abcdef" * 2
TOKEN = "tok-" + "5ecret" * 5
FROM = "+14255550100"
TO = "+14255550101"
CODE_TEXT = "493817 is your verification code. Do not share it with anyone."
_PATH = re.compile(
    r"^/2010-04-01/Accounts/(?P<sid>AC[0-9a-f]{32})/(?P<resource>Messages|Calls)\.json$"
)


@dataclass
class FakeTwilio:
    url: str
    received: list[dict[str, Any]] = field(default_factory=list)
    # Set to make every answer this status / this raw body, to play a failing provider.
    force_status: int | None = None
    force_body: bytes | None = None


def _twilio_error(status: int, code: int, message: str) -> dict[str, Any]:
    return {
        "code": code,
        "message": message,
        "more_info": f"https://www.twilio.com/docs/errors/{code}",
        "status": status,
    }


def _handler(state: FakeTwilio) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:
            pass  # keep the test output (and caplog) quiet

        def _answer(self, status: int, body: dict[str, Any] | bytes) -> None:
            raw = body if isinstance(body, bytes) else json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(raw)))
            if status == 401:
                self.send_header("WWW-Authenticate", 'Basic realm="Twilio API"')
            self.end_headers()
            self.wfile.write(raw)

        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length)
            if state.force_status is not None or state.force_body is not None:
                status = state.force_status or 201
                self._answer(status, state.force_body or _twilio_error(status, 20500, "Error"))
                return
            match = _PATH.match(self.path)
            if not match:
                self._answer(404, _twilio_error(404, 20404, "The requested resource was not found"))
                return
            expected = "Basic " + base64.b64encode(f"{match['sid']}:{TOKEN}".encode()).decode()
            if match["sid"] != SID or self.headers.get("Authorization") != expected:
                self._answer(401, _twilio_error(401, 20003, "Authenticate"))
                return
            if self.headers.get("Content-Type") != "application/x-www-form-urlencoded":
                self._answer(400, _twilio_error(400, 20001, "Bad content type"))
                return
            form = {k: v[0] for k, v in parse_qs(raw.decode(), strict_parsing=True).items()}
            needed = (
                ("To", "From", "Body")
                if match["resource"] == "Messages"
                else ("To", "From", "Twiml")
            )
            if any(not form.get(name) for name in needed):
                self._answer(400, _twilio_error(400, 21604, "A required parameter is missing"))
                return
            prefix = "SM" if match["resource"] == "Messages" else "CA"
            sid = prefix + secrets.token_hex(16)
            state.received.append({"resource": match["resource"], "sid": sid, **form})
            self._answer(
                201,
                {
                    "sid": sid,
                    "account_sid": SID,
                    "to": form["To"],
                    "from": form["From"],
                    "status": "queued",
                    "uri": f"/2010-04-01/Accounts/{SID}/{match['resource']}/{sid}.json",
                },
            )

    return Handler


@pytest.fixture
def twilio(settings: Any) -> Iterator[FakeTwilio]:
    state = FakeTwilio(url="")
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(state))
    state.url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    settings.PHONE_PROVIDER = "twilio"
    settings.TWILIO_ACCOUNT_SID = SID
    settings.TWILIO_AUTH_TOKEN = TOKEN
    settings.TWILIO_FROM = FROM
    settings.TWILIO_BASE_URL = state.url
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class TestTwilio:
    def test_sms_posts_to_from_body(self, twilio: FakeTwilio) -> None:
        send_sms(TO, CODE_TEXT)
        [sent] = twilio.received
        assert sent["resource"] == "Messages" and sent["sid"].startswith("SM")
        assert (sent["To"], sent["From"], sent["Body"]) == (TO, FROM, CODE_TEXT)

    def test_call_posts_twiml_that_says_the_text_twice(self, twilio: FakeTwilio) -> None:
        text = 'Your code is 4, 9, 3 <& "quoted">'
        place_call(TO, text)
        [call] = twilio.received
        assert call["resource"] == "Calls" and call["sid"].startswith("CA")
        assert (call["To"], call["From"]) == (TO, FROM)
        response = ElementTree.fromstring(call["Twiml"])  # noqa: S314 -- our own test's XML
        assert response.tag == "Response"
        assert [say.text for say in response.iter("Say")] == [text, text]

    def test_wrong_token_is_delivery_failed(self, twilio: FakeTwilio, settings: Any) -> None:
        settings.TWILIO_AUTH_TOKEN = "wrong"
        with pytest.raises(DeliveryFailed) as failure:
            send_sms(TO, CODE_TEXT)
        assert failure.value.code == "delivery_failed" and failure.value.status == 502
        assert "try again later" in failure.value.message
        assert twilio.received == []

    @pytest.mark.parametrize("send", [send_sms, place_call])
    def test_server_error_is_delivery_failed(self, twilio: FakeTwilio, send: Any) -> None:
        twilio.force_status = 500
        with pytest.raises(DeliveryFailed) as failure:
            send(TO, CODE_TEXT)
        assert failure.value.as_dict()["code"] == "delivery_failed"

    def test_answer_that_is_not_json_is_delivery_failed(self, twilio: FakeTwilio) -> None:
        twilio.force_body = b"<html>gateway</html>"
        with pytest.raises(DeliveryFailed):
            send_sms(TO, CODE_TEXT)

    def test_unreachable_provider_is_delivery_failed(
        self, twilio: FakeTwilio, settings: Any
    ) -> None:
        settings.TWILIO_BASE_URL = f"http://127.0.0.1:{_free_port()}"
        with pytest.raises(DeliveryFailed):
            place_call(TO, CODE_TEXT)

    def test_missing_credentials_or_plain_http_elsewhere_are_refused(
        self, twilio: FakeTwilio, settings: Any
    ) -> None:
        settings.TWILIO_FROM = ""
        with pytest.raises(DeliveryFailed):
            send_sms(TO, CODE_TEXT)
        settings.TWILIO_FROM = FROM
        settings.TWILIO_BASE_URL = "http://api.twilio.example"
        with pytest.raises(DeliveryFailed):
            send_sms(TO, CODE_TEXT)
        assert twilio.received == []

    def test_logs_carry_neither_the_text_nor_the_token(
        self, twilio: FakeTwilio, settings: Any, caplog: pytest.LogCaptureFixture
    ) -> None:
        caplog.set_level(logging.DEBUG)
        send_sms(TO, CODE_TEXT)
        place_call(TO, CODE_TEXT)
        twilio.force_status = 500
        with pytest.raises(DeliveryFailed):
            send_sms(TO, CODE_TEXT)
        twilio.force_status = None
        settings.TWILIO_AUTH_TOKEN = TOKEN + "x"
        with pytest.raises(DeliveryFailed):
            place_call(TO, CODE_TEXT)
        warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
        assert len(warnings) == 2
        assert "status=401 twilio_code=20003" in warnings[1].getMessage()
        logged = caplog.text + "".join(str(r.args) for r in caplog.records)
        for secret in (
            CODE_TEXT,
            "493817",
            TOKEN,
            base64.b64encode(f"{SID}:{TOKEN}".encode()).decode(),
        ):
            assert secret not in logged


class TestOutbox:
    def test_default_provider_keeps_sms_and_calls(
        self, db: Any, settings: Any, capsys: pytest.CaptureFixture[str]
    ) -> None:
        settings.PHONE_PROVIDER = "outbox"
        send_sms(TO, CODE_TEXT)
        place_call(TO, "Your verification code is 4, 9.")
        rows = [(m.channel, m.to, m.subject, m.body) for m in OutboxMessage.objects.all()]
        assert sorted(rows) == [
            ("sms", TO, "", CODE_TEXT),
            ("voice", TO, "", "Your verification code is 4, 9."),
        ]
        call_command("outbox", "--json", "--to", TO)
        listed = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
        assert {m["channel"] for m in listed} == {"sms", "voice"}
        assert {m["body"] for m in listed} == {CODE_TEXT, "Your verification code is 4, 9."}

    def test_unknown_provider_is_delivery_failed(self, db: Any, settings: Any) -> None:
        settings.PHONE_PROVIDER = "carrier-pigeon"
        with pytest.raises(DeliveryFailed):
            send_sms(TO, CODE_TEXT)
        assert not OutboxMessage.objects.exists()
