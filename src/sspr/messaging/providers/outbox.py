"""Keeps texts and calls in the outbox table, for `sspr outbox` (the embedded default)."""

from __future__ import annotations

from sspr.messaging.models import OutboxMessage
from sspr.messaging.providers.base import PhoneProvider


class OutboxProvider(PhoneProvider):
    name = "outbox"

    def send_sms(self, to: str, text: str) -> None:
        OutboxMessage.objects.create(channel=OutboxMessage.Channel.SMS, to=to, body=text)

    def place_call(self, to: str, text: str) -> None:
        OutboxMessage.objects.create(channel=OutboxMessage.Channel.VOICE, to=to, body=text)
