"""Masked hints: enough for the owner to recognise, too little for anyone else to use."""

from __future__ import annotations


def mask_email(address: str) -> str:
    local, _, domain = address.partition("@")
    return f"{local[:1]}***@{domain}"


def mask_phone(number: str) -> str:
    digits = "".join(c for c in number if c.isdigit())
    return f"+{digits[:1]} ••• ••• ••{digits[-2:]}"


def decoy_digits(digest: bytes, count: int) -> str:
    return "".join(str(b % 10) for b in digest[:count])
