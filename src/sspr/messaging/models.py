from __future__ import annotations

from django.db import models
from django.utils import timezone


class OutboxMessage(models.Model):
    """A message the outbox backend kept instead of sending: read by `sspr outbox` and admins."""

    class Channel(models.TextChoices):
        EMAIL = "email"
        SMS = "sms"
        VOICE = "voice"

    channel = models.CharField(max_length=8, choices=Channel.choices)
    to = models.CharField(max_length=320, db_index=True)
    subject = models.CharField(max_length=998, blank=True)
    body = models.TextField()
    sent_at = models.DateTimeField(default=timezone.now, db_index=True)

    class Meta:
        ordering = ["-sent_at", "-id"]

    def __str__(self) -> str:
        return f"{self.channel} to {self.to}"

    def as_dict(self) -> dict[str, str]:
        return {
            "channel": self.channel,
            "to": self.to,
            "subject": self.subject,
            "body": self.body,
            "sent_at": self.sent_at.isoformat(),
        }
