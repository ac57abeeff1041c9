"""Sign-in names: one normal form, checked before anything is stored or looked up."""

from __future__ import annotations

import re
import unicodedata

from sspr.errors import InvalidValue

# Entra's UPN characters: A-Z a-z 0-9 ' . - _ ! # ^ ~ before the @, a DNS name after it.
_UPN = re.compile(
    r"^[a-z0-9'._!#^~-]{1,64}@(?=.{1,48}$)[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?"
    r"(?:\.[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?)+$"
)
_SLUG = re.compile(r"^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$")


def normalise_upn(value: str) -> str:
    """The form a sign-in name is stored and compared in.

    NFKC then lower-case, and only ASCII survives validation: a name that merely looks like
    another (dotless i, full-width letters) can never match it.
    """
    return unicodedata.normalize("NFKC", value.strip()).lower()


def validate_upn(value: str) -> str:
    upn = normalise_upn(value)
    if not _UPN.match(upn) or ".." in upn.split("@")[0]:
        raise InvalidValue(
            "A user name looks like alice@contoso.com: letters, digits and ' . - _ ! # ^ ~ "
            "before the @, and a domain name after it.",
            field="upn",
        )
    return upn


def validate_slug(value: str) -> str:
    slug = value.strip().lower()
    if not _SLUG.match(slug):
        raise InvalidValue(
            "A tenant identifier uses lower-case letters, digits and hyphens (at most 63).",
            field="slug",
        )
    return slug
