"""A code sent by text message to the mobile phone."""

from __future__ import annotations

from sspr.messaging.phone import send_sms
from sspr.methods.phone import PhoneMethod


class SmsMethod(PhoneMethod):
    name = "sms"
    label = "Text message to mobile phone"

    def deliver(self, to: str, code: str, purpose: str) -> None:
        send_sms(to, f"{code} is your verification code. Do not share it with anyone.")
