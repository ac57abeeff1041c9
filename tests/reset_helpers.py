"""Helpers for tests of registration and reset: registered methods, codes from messages."""

from __future__ import annotations

import re
import time
from typing import Any

import pyotp
from django.core import mail

from sspr.directory.models import Tenant, User
from sspr.flows import registration
from sspr.messaging.models import OutboxMessage
from sspr.methods.models import RegisteredMethod
from sspr.policy.sspr_policy import update_policy

CODE = re.compile(r"\b(\d{6,8})\b")


def last_code_to(address: str) -> str:
    """The code in the newest message to `address` (email via Django's test outbox, SMS and
    calls via the outbox table)."""
    for message in reversed(mail.outbox):
        if address in message.to:
            found = CODE.search(str(message.body))
            assert found, message.body
            return found.group(1)
    row = OutboxMessage.objects.filter(to=address).first()
    assert row is not None, f"nothing was sent to {address}"
    digits = "".join(c for c in row.body if c.isdigit())
    return digits[:8]


def reset_for_all(tenant: Tenant, methods: str) -> Tenant:
    """Self-service reset on for every user of `tenant`, without a CAPTCHA, offering `methods`
    (comma-separated)."""
    update_policy(
        tenant,
        {"enabled_for": "all", "captcha_enabled": False, "methods_enabled": methods},
        actor="test",
    )
    return tenant


def forget_messages() -> None:
    """Empty both outboxes (Django's test mail and the table of texts and calls)."""
    mail.outbox.clear()
    OutboxMessage.objects.all().delete()


def register_email(user: User, address: str | None = None) -> RegisteredMethod:
    item, _ = registration.begin(user, "email", {"value": address or user.upn})
    return registration.confirm(user, item.pk, {"code": last_code_to(item.value)})


def register_sms(user: User, number: str) -> RegisteredMethod:
    item, _ = registration.begin(user, "sms", {"value": number})
    return registration.confirm(user, item.pk, {"code": last_code_to(number)})


def register_email_and_sms(user: User, number: str) -> User:
    """`user` with their email address and the mobile `number` registered; the codes that
    took are forgotten."""
    register_email(user)
    register_sms(user, number)
    forget_messages()
    return user


class App:
    """The user's authenticator app, remembering when it was last read."""

    def __init__(self, secret: str) -> None:
        self.totp = pyotp.TOTP(secret)
        self.read_at = time.time()

    def code(self) -> str:
        self.read_at = time.time()
        return self.totp.at(self.read_at)

    def next_code(self) -> str:
        """What the app shows half a minute after the last reading."""
        return self.totp.at(self.read_at + 30)


def register_totp(user: User) -> tuple[RegisteredMethod, App]:
    item, info = registration.begin(user, "totp", {})
    app = App(info["secret"])
    return registration.confirm(user, item.pk, {"code": app.code()}), app


def register_questions(user: User, answers: dict[str, str]) -> RegisteredMethod:
    pairs: list[dict[str, Any]] = [{"question": q, "answer": a} for q, a in answers.items()]
    item, _ = registration.begin(user, "questions", {"answers": pairs})
    return item
