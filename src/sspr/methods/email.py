"""A code sent by email."""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.utils.translation import gettext as _
from django.utils.translation import gettext_noop

from sspr.errors import InvalidValue
from sspr.messaging.notify import send_code_email
from sspr.methods.code_method import CodeMethod
from sspr.methods.masking import mask_email
from sspr.methods.models import RegisteredMethod


class EmailMethod(CodeMethod):
    name = "email"
    label = gettext_noop("Email")
    channel = "email"

    def normalise(self, value: str) -> str:
        address = value.strip().lower()
        try:
            validate_email(address)
        except ValidationError:
            raise InvalidValue(
                _("'%(value)s' is not an email address.") % {"value": value[:254]}, field="value"
            ) from None
        return address

    def deliver(self, to: str, code: str, purpose: str) -> None:
        send_code_email(to, code, purpose)

    def hint(self, registration: RegisteredMethod) -> str:
        return mask_email(registration.value)

    def decoy_hint(self, digest: bytes, username: str) -> str:
        local, _, domain = username.partition("@")
        return mask_email(f"{local or 'x'}@{domain or 'example.com'}")
