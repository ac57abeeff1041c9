"""Work left for after the answer (sspr.afterwards): gathered while serving, done at once
elsewhere, and one failure does not stop the rest."""

from __future__ import annotations

import logging
from functools import partial

import pytest

from sspr import afterwards


def test_outside_a_served_request_the_work_is_done_at_once() -> None:
    done: list[str] = []
    afterwards._later(partial(done.append, "now"))
    assert done == ["now"]


def test_while_gathering_the_work_waits_until_it_is_done() -> None:
    done: list[str] = []
    with afterwards.gathering() as later:
        afterwards._later(partial(done.append, "later"))
        assert done == []
    afterwards.do(later)
    assert done == ["later"]
    afterwards._later(partial(done.append, "now"))  # the gathering ended with its block
    assert done == ["later", "now"]


def test_a_failed_work_is_logged_by_name_and_the_next_still_done(
    caplog: pytest.LogCaptureFixture,
) -> None:
    done: list[str] = []

    def notify_someone() -> None:
        raise ConnectionRefusedError("smtp.example.com refused")

    with caplog.at_level(logging.WARNING, logger="sspr.afterwards"):
        afterwards.do([notify_someone, partial(done.append, "next")])
    assert done == ["next"]
    [record] = caplog.records
    assert "work=" in record.getMessage() and "notify_someone" in record.getMessage()
    assert "ConnectionRefusedError" in record.getMessage()
    assert "smtp.example.com" not in record.getMessage()  # the type, not what it said
