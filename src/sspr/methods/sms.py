"""A code sent by text message to the mobile phone."""

from __future__ import annotations

from django.utils.translation import gettext as _
from django.utils.translation import gettext_noop

from sspr.messaging.phone import send_sms
from sspr.methods.phone import PhoneMethod


class SmsMethod(PhoneMethod):
    name = "sms"
    label = gettext_noop("Text message to mobile phone")

    def deliver(self, to: str, code: str, purpose: str) -> None:
        if purpose == "caller":
            # The one code meant to be read out: to the helpdesk the user is on a call with.
            send_sms(
                to,
                _(
                    "%(code)s is the code your helpdesk asked for. Read it out only on a call "
                    "with your helpdesk that you started yourself."
                )
                % {"code": code},
            )
            return
        send_sms(
            to,
            _("%(code)s is your verification code. Do not share it with anyone.") % {"code": code},
        )
