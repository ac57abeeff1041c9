"""What the three phone methods share: a number in international form."""

from __future__ import annotations

import re

from django.utils.translation import gettext as _

from sspr.errors import InvalidValue
from sspr.methods.code_method import CodeMethod
from sspr.methods.masking import decoy_digits, mask_phone
from sspr.methods.models import RegisteredMethod

_NUMBER = re.compile(r"^\+[1-9][0-9]{6,14}$")


class PhoneMethod(CodeMethod):
    channel = "phone"

    def normalise(self, value: str) -> str:
        number = re.sub(r"[\s().-]", "", value)
        if number.startswith("00"):
            number = "+" + number[2:]
        if not _NUMBER.match(number):
            raise InvalidValue(
                _(
                    "Enter the number in international form, starting with + and the country "
                    "code, e.g. +1 425 555 0100."
                ),
                field="value",
            )
        return number

    def hint(self, registration: RegisteredMethod) -> str:
        return mask_phone(registration.value)

    def decoy_hint(self, digest: bytes, username: str) -> str:
        return mask_phone("1" + decoy_digits(digest[8:], 2))
