"""Reading the bounds of a time range as people and programs type them, for the audit log's
filters and the insights' period alike.

Times are ISO 8601. A bare date as the start means the start of that day; as the end (`until`,
inclusive) it means the end of that day, as a person reading "from 1 to 3 March" expects. A time
without a zone is UTC.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta

from sspr.errors import InvalidValue

MAX_LENGTH = 64


def _not_an_instant(name: str, text: str) -> InvalidValue:
    return InvalidValue(
        f"'{name}' must be an ISO 8601 date or time, such as 2026-03-01 or "
        f"2026-03-01T08:30:00Z; '{text[:40]}' is not one.",
        field=name,
    )


def parse_instant(value: str, name: str, *, end: bool, open_ended: bool = False) -> datetime | None:
    """The instant `value` names, in UTC; None when it is empty.

    With `end`, `value` is the last instant wanted (inclusive) and the answer is the first one
    no longer wanted. `open_ended`: an end past the last instant that can be represented is no
    bound at all (None) rather than out of range. InvalidValue names the field `name`.
    """
    text = value.strip()
    if not text:
        return None
    if len(text) > MAX_LENGTH:
        raise _not_an_instant(name, text)
    try:
        try:
            day = date.fromisoformat(text)
        except ValueError:
            moment = datetime.fromisoformat(text)
            if moment.tzinfo is None:
                moment = moment.replace(tzinfo=UTC)
            moment = moment.astimezone(UTC)
            return moment + timedelta(microseconds=1) if end else moment
        start = datetime.combine(day, time(), tzinfo=UTC)
        return start + timedelta(days=1) if end else start
    except ValueError:
        raise _not_an_instant(name, text) from None
    except OverflowError:
        if end and open_ended:
            return None
        raise InvalidValue(f"'{name}' is out of range.", field=name) from None
