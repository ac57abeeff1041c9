"""A code read out in a call to the mobile phone."""

from __future__ import annotations

from django.utils.translation import gettext as _
from django.utils.translation import gettext_noop

from sspr.messaging.phone import place_call
from sspr.methods.phone import PhoneMethod


def spoken(code: str) -> str:
    # Digits one by one; the provider reads the whole message twice.
    return _("Your verification code is %(digits)s.") % {"digits": ", ".join(code)}


class VoiceMethod(PhoneMethod):
    name = "voice"
    label = gettext_noop("Call to mobile phone")

    def deliver(self, to: str, code: str, purpose: str) -> None:
        place_call(to, spoken(code))
