"""A code read out in a call to the office phone."""

from __future__ import annotations

from django.utils.translation import gettext_noop

from sspr.messaging.phone import place_call
from sspr.methods.phone import PhoneMethod
from sspr.methods.voice import spoken


class OfficePhoneMethod(PhoneMethod):
    name = "office_phone"
    label = gettext_noop("Call to office phone")

    def deliver(self, to: str, code: str, purpose: str) -> None:
        place_call(to, spoken(code))
