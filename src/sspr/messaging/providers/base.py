"""The one base class every phone provider implements, and the error they all raise."""

from __future__ import annotations

from django.utils.translation import gettext as _

from sspr.errors import DomainError


class DeliveryFailed(DomainError):
    """The provider did not accept the message. Details are in the log, never in the answer."""

    status = 502
    code = "delivery_failed"

    def __init__(self, message: str = "") -> None:
        super().__init__(
            message or _("We could not send the message. Try another method or try again later.")
        )


class PhoneProvider:
    """Sends a text message or places a call that reads `text` out.

    `text` carries one-time codes: implementations never log it.
    """

    name = ""

    def send_sms(self, to: str, text: str) -> None:
        raise NotImplementedError

    def place_call(self, to: str, text: str) -> None:
        raise NotImplementedError
