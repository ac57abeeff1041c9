"""Parsing setting values from the API, the command line and forms, with clear refusals."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sspr.errors import InvalidValue


def boolean(key: str, value: Any) -> bool:
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in {"true", "yes", "on", "1"}:
        return True
    if text in {"false", "no", "off", "0"}:
        return False
    raise InvalidValue(f"{key} is true or false, not '{str(value)[:40]}'.", field=key)


def listing(value: Any) -> list[str]:
    items = value if isinstance(value, list) else str(value).split(",")
    return [str(item).strip() for item in items if str(item).strip()]


def choice(*choices: str) -> Callable[[str, Any], str]:
    def parse(key: str, value: Any) -> str:
        text = str(value).strip().lower()
        if text not in choices:
            raise InvalidValue(
                f"{key} is one of {', '.join(choices)}; not '{str(value)[:40]}'.", field=key
            )
        return text

    return parse


def int_between(low: int, high: int) -> Callable[[str, Any], int]:
    def parse(key: str, value: Any) -> int:
        message = f"{key} is a whole number from {low:,} to {high:,}."
        if isinstance(value, bool):
            raise InvalidValue(message, field=key)
        try:
            number = int(str(value).strip())
        except ValueError:
            raise InvalidValue(message, field=key) from None
        if not low <= number <= high:
            raise InvalidValue(message, field=key)
        return number

    return parse
