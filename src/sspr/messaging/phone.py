"""SMS and voice delivery through the provider `settings.PHONE_PROVIDER` names.

    send_sms("+14255550101", "123456 is your verification code.")
    place_call("+14255550101", "Your verification code is 1, 2, 3, 4, 5, 6.")

Both raise `DeliveryFailed` (502, "delivery_failed") when the provider refuses or cannot be
reached. The text carries one-time codes, so nothing here logs it.
"""

from __future__ import annotations

import logging

from django.conf import settings

from sspr.messaging.providers.base import DeliveryFailed, PhoneProvider
from sspr.messaging.providers.outbox import OutboxProvider
from sspr.messaging.providers.twilio import TwilioProvider

log = logging.getLogger(__name__)

PROVIDERS: dict[str, type[PhoneProvider]] = {
    OutboxProvider.name: OutboxProvider,
    TwilioProvider.name: TwilioProvider,
}


def provider() -> PhoneProvider:
    """The configured provider, read at each call so a changed setting takes effect."""
    name = str(settings.PHONE_PROVIDER).strip().lower()
    try:
        return PROVIDERS[name]()
    except KeyError:
        log.error(
            "phone_provider_misconfigured provider=%s known=%s", name, ",".join(sorted(PROVIDERS))
        )
        raise DeliveryFailed from None


def send_sms(to: str, text: str) -> None:
    provider().send_sms(to, text)


def place_call(to: str, text: str) -> None:
    provider().place_call(to, text)


__all__ = ["PROVIDERS", "DeliveryFailed", "PhoneProvider", "place_call", "provider", "send_sms"]
