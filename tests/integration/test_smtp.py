"""The password-changed notification over real SMTP (aiosmtpd on loopback).

The notification is sent when the change commits, so these tests use a transactional database:
the request's own commit runs it, as in production. A notification that cannot be delivered is
logged and never undoes the change it reports.
"""

from __future__ import annotations

import email
import email.policy
import socket
from collections.abc import Iterator
from dataclasses import dataclass, field
from email.message import EmailMessage
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session

from sspr.directory.models import User
from sspr.directory.passwords import verify_password
from tests.conftest import PASSWORD, Api

NEW_PASSWORD = "Velvet-Orbit-9317"


@dataclass
class Received:
    rcpt_tos: list[str]
    raw: bytes
    message: EmailMessage


@dataclass
class Collector:
    """An aiosmtpd handler that keeps every message it is given."""

    messages: list[Received] = field(default_factory=list)

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        raw = envelope.original_content or b""
        parsed = email.message_from_bytes(raw, policy=email.policy.default)
        assert isinstance(parsed, EmailMessage)
        self.messages.append(Received(list(envelope.rcpt_tos), raw, parsed))
        return "250 Message accepted for delivery"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture
def use_smtp(settings: Any) -> Any:
    """Point Django's SMTP backend at a loopback port; returns the settings to read it back."""
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST = "127.0.0.1"
    settings.EMAIL_PORT = free_port()
    settings.EMAIL_HOST_USER = ""
    settings.EMAIL_HOST_PASSWORD = ""
    settings.EMAIL_USE_TLS = False
    settings.EMAIL_USE_SSL = False
    settings.EMAIL_TIMEOUT = 5
    return settings


@pytest.fixture
def smtp_server(use_smtp: Any) -> Iterator[Collector]:
    collector = Collector()
    controller = Controller(collector, hostname="127.0.0.1", port=use_smtp.EMAIL_PORT)
    controller.start()
    try:
        yield collector
    finally:
        controller.stop()


def change_password(api: Api, upn: str) -> Any:
    assert api.sign_in("contoso", upn).status_code == 201
    return api.call("POST", "/me/password",
                    {"current_password": PASSWORD, "new_password": NEW_PASSWORD})


def text_of(message: EmailMessage) -> str:
    part = message.get_body(preferencelist=("plain",))
    assert part is not None
    content = part.get_content()
    assert isinstance(content, str)
    return content


def test_a_change_sends_one_notification_without_the_passwords(
    transactional_db: Any, api: Api, alice: User, smtp_server: Collector
) -> None:
    response = change_password(api, alice.upn)
    assert response.status_code == 200, response.content

    assert len(smtp_server.messages) == 1
    received = smtp_server.messages[0]
    assert received.rcpt_tos == ["alice@contoso.com"]
    assert received.message["To"] == "alice@contoso.com"
    subject = str(received.message["Subject"])
    assert "password" in subject.lower() and "changed" in subject.lower()

    body = text_of(received.message)
    assert "alice@contoso.com" in body
    for secret in (PASSWORD, NEW_PASSWORD):
        assert secret not in body
        assert secret.encode() not in received.raw


def test_the_change_stands_when_the_mail_server_is_down(
    transactional_db: Any, api: Api, alice: User, use_smtp: Any, caplog: pytest.LogCaptureFixture
) -> None:
    # Nothing listens on the port: the connection is refused.
    with socket.socket() as check:
        assert check.connect_ex(("127.0.0.1", use_smtp.EMAIL_PORT)) != 0

    response = change_password(api, alice.upn)

    assert response.status_code == 200, response.content
    alice.refresh_from_db()
    assert verify_password(alice.password_hash, NEW_PASSWORD)
    assert not verify_password(alice.password_hash, PASSWORD)
    assert any("notification_failed" in r.getMessage() for r in caplog.records)
    # The new password works for signing in, the old one no longer does.
    assert Api().sign_in("contoso", alice.upn, NEW_PASSWORD).status_code == 201
    assert Api().sign_in("contoso", alice.upn, PASSWORD).status_code == 401
