"""An email backend that keeps messages in the database instead of sending them."""

from __future__ import annotations

from collections.abc import Sequence

from django.core.mail import EmailMessage
from django.core.mail.backends.base import BaseEmailBackend

from sspr.messaging.models import OutboxMessage


class OutboxEmailBackend(BaseEmailBackend):
    def send_messages(self, email_messages: Sequence[EmailMessage]) -> int:
        rows = [
            OutboxMessage(
                channel=OutboxMessage.Channel.EMAIL,
                to=to,
                subject=str(message.subject),
                body=str(message.body),
            )
            for message in email_messages
            for to in message.recipients()
        ]
        OutboxMessage.objects.bulk_create(rows)
        return len(email_messages)
