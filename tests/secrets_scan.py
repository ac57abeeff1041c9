"""Looking for secrets in what the code logged.

`every_log_record` (a fixture: tests/integration/conftest.py makes it available there) is caplog
at DEBUG for every logger, those that do not propagate to the root included; `assert_not_logged`
looks for each secret in every part of every record: the message, its arguments, the record's
attributes and the traceback.
"""

from __future__ import annotations

import logging
import traceback
from collections.abc import Iterable, Iterator, Mapping

import pytest


@pytest.fixture
def every_log_record(caplog: pytest.LogCaptureFixture) -> Iterator[pytest.LogCaptureFixture]:
    """caplog, at DEBUG for every logger, including those that do not propagate to the root."""
    caplog.set_level(logging.DEBUG)
    loggers = [logging.getLogger(name) for name in list(logging.root.manager.loggerDict)]
    for logger in loggers:
        caplog.set_level(logging.DEBUG, logger=logger.name)
    isolated = [logger for logger in loggers if not logger.propagate]
    for logger in isolated:
        logger.addHandler(caplog.handler)
    try:
        yield caplog
    finally:
        for logger in isolated:
            logger.removeHandler(caplog.handler)


def record_text(record: logging.LogRecord) -> str:
    """All that a log record holds, as text: what a handler or formatter could write out."""
    parts = [record.getMessage(), str(record.msg), repr(record.args), repr(vars(record))]
    if record.exc_info:
        parts.append("".join(traceback.format_exception(*record.exc_info)))
    return "\n".join(parts)


def assert_not_logged(records: Iterable[logging.LogRecord], secrets: Mapping[str, str]) -> None:
    """No secret ({what it is: its value}) in any of `records`."""
    for record in records:
        text = record_text(record)
        for name, secret in secrets.items():
            assert secret not in text, f"{name} in log record {record.name}: {record.msg!r}"
