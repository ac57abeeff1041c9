"""The agent reads the directory's next pages while the service applies the current one."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import pytest

from sspr_agent.directory.base import Page
from sspr_agent.sync import read_ahead


def page(n: int) -> Page:
    return Page(users=[], groups=[], deleted_anchors=[str(n)])


def test_pages_arrive_in_order_and_all_of_them() -> None:
    assert [p.deleted_anchors[0] for p in read_ahead(page(n) for n in range(50))] == [
        str(n) for n in range(50)
    ]


def test_a_read_error_is_raised_after_the_pages_read_before_it() -> None:
    def pages() -> Iterator[Page]:
        yield page(1)
        yield page(2)
        raise ConnectionError("directory gone")

    got: list[str] = []
    with pytest.raises(ConnectionError, match="directory gone"):
        for p in read_ahead(pages()):
            got.append(p.deleted_anchors[0])
    assert got == ["1", "2"]


def test_the_reader_reads_ahead_at_most_its_depth_and_stops_with_the_consumer() -> None:
    read: list[int] = []
    more = threading.Event()

    def pages() -> Iterator[Page]:
        for n in range(1000):
            read.append(n)
            yield page(n)

    stream = read_ahead(pages(), depth=2)
    assert next(stream).deleted_anchors == ["0"]
    more.wait(0.5)  # let the reader run as far as it may
    assert len(read) <= 4  # the one handed out, two queued, one waiting to be queued
    stream.close()
    more.wait(0.5)
    assert len(read) <= 4
