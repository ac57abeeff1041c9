"""Twilio's REST API (2010-04-01): Messages.json for texts, Calls.json with inline TwiML.

Standard library only. Redirects are not followed, so the Basic credentials never leave for
another host; plain HTTP is refused except to loopback (a local test receiver).
"""

from __future__ import annotations

import base64
import json
import logging
import urllib.error
import urllib.parse
import urllib.request
from typing import Any
from xml.sax.saxutils import escape

from django.conf import settings

from sspr.messaging.providers.base import DeliveryFailed, PhoneProvider
from sspr.outbound import opener, secure_base

log = logging.getLogger(__name__)

TIMEOUT_SECONDS = 10


def twiml(text: str) -> str:
    """A call that says `text` twice, with a pause between."""
    said = f"<Say>{escape(text)}</Say>"
    return f'<Response>{said}<Pause length="1"/>{said}</Response>'


class TwilioProvider(PhoneProvider):
    name = "twilio"

    def send_sms(self, to: str, text: str) -> None:
        self._post("sms", "Messages.json", {"To": to, "Body": text})

    def place_call(self, to: str, text: str) -> None:
        self._post("voice", "Calls.json", {"To": to, "Twiml": twiml(text)})

    def _post(self, kind: str, resource: str, fields: dict[str, str]) -> None:
        sid, token, sender = (
            settings.TWILIO_ACCOUNT_SID,
            settings.TWILIO_AUTH_TOKEN,
            settings.TWILIO_FROM,
        )
        base = str(settings.TWILIO_BASE_URL).rstrip("/")
        missing = [
            name
            for name, value in (
                ("TWILIO_ACCOUNT_SID", sid),
                ("TWILIO_AUTH_TOKEN", token),
                ("TWILIO_FROM", sender),
            )
            if not value
        ]
        if missing:
            log.error("phone_provider_misconfigured provider=twilio missing=%s", ",".join(missing))
            raise DeliveryFailed
        if not secure_base(base):
            log.error("phone_provider_misconfigured provider=twilio reason=base_url_not_https")
            raise DeliveryFailed

        url = f"{base}/2010-04-01/Accounts/{urllib.parse.quote(sid, safe='')}/{resource}"
        body = urllib.parse.urlencode({"To": fields["To"], "From": sender, **fields}).encode()
        credentials = base64.b64encode(f"{sid}:{token}".encode()).decode()
        request = urllib.request.Request(  # noqa: S310 -- scheme checked above
            url,
            data=body,
            method="POST",
            headers={
                "Authorization": f"Basic {credentials}",
                "Content-Type": "application/x-www-form-urlencoded",
                "Accept": "application/json",
            },
        )
        answer = _send(kind, request)
        log.info("phone_sent provider=twilio kind=%s sid=%s", kind, answer["sid"])


def _send(kind: str, request: urllib.request.Request) -> dict[str, Any]:
    try:
        with opener.open(request, timeout=TIMEOUT_SECONDS) as response:
            status = response.status
            raw = response.read(64 * 1024)
    except urllib.error.HTTPError as error:
        log.warning(
            "phone_delivery_failed provider=twilio kind=%s status=%s twilio_code=%s",
            kind,
            error.code,
            _twilio_code(error),
        )
        raise DeliveryFailed from None
    except (OSError, ValueError) as error:  # URLError, timeouts, refused, bad URL
        log.warning(
            "phone_delivery_failed provider=twilio kind=%s error=%s", kind, type(error).__name__
        )
        raise DeliveryFailed from None
    try:
        answer = json.loads(raw)
    except ValueError:
        answer = None
    if not (
        200 <= status < 300 and isinstance(answer, dict) and isinstance(answer.get("sid"), str)
    ):
        log.warning(
            "phone_delivery_failed provider=twilio kind=%s status=%s error=unexpected_answer",
            kind,
            status,
        )
        raise DeliveryFailed
    return answer


def _twilio_code(error: urllib.error.HTTPError) -> str:
    """Twilio's numeric error code from the body (e.g. 20003 bad credentials), if any."""
    try:
        code = json.loads(error.read(16 * 1024)).get("code")
    except (OSError, ValueError, AttributeError):
        return "-"
    return str(code) if isinstance(code, int) else "-"
