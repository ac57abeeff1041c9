"""`sspr serve`'s ASGI handler (sspr.web.serving), called as an ASGI server calls it: requests
on a fixed pool of threads that keep their database connections, the agent channel on a pool of
its own, streaming answers sent as they are produced, and work left for after the answer."""

from __future__ import annotations

import asyncio
import contextlib
import signal
import threading
from collections.abc import Iterator
from typing import Any

import pytest
from django.db import connections
from django.db.backends.signals import connection_created

from sspr.hybrid import wakeup
from sspr.web.serving import PooledASGIHandler, end_long_polls_on_stop
from tests.asgi_call import Answer, call, get
from tests.integration import serving_urls

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def app(settings: Any) -> Iterator[PooledASGIHandler]:
    settings.ROOT_URLCONF = "tests.integration.serving_urls"
    serving_urls.release.clear()
    serving_urls.streamed.clear()
    serving_urls.done_after.clear()
    handler = PooledASGIHandler(page_threads=1, agent_threads=1)
    yield handler
    serving_urls.release.set()
    for pool in (handler.pages, handler.agents):
        with contextlib.suppress(RuntimeError):  # unless the test shut it down
            pool.submit(connections.close_all).result(10)  # each pool's one thread
        pool.shutdown()


def test_a_thread_keeps_its_database_connection_from_request_to_request(
    app: PooledASGIHandler,
) -> None:
    opened: list[str] = []

    def count(sender: Any, connection: Any, **kwargs: Any) -> None:
        opened.append(threading.current_thread().name)

    connection_created.connect(count)
    try:
        answers = [get(app, "/thread/") for _ in range(3)]
    finally:
        connection_created.disconnect(count)
    assert [a.status for a in answers] == [200, 200, 200]
    assert {a.body for a in answers} == {opened[0]} and opened[0].startswith("sspr-request")
    assert len(opened) == 1  # one connection for three requests


def test_agent_calls_are_answered_while_every_page_thread_is_busy(
    app: PooledASGIHandler,
) -> None:
    async def both() -> tuple[Answer, Answer]:
        page = asyncio.ensure_future(call(app, "/held/"))
        await asyncio.sleep(0.2)  # the one page thread now waits in /held/
        agent = await call(app, "/api/v1/agent/call")
        assert not page.done()  # still held: the agent call did not need its thread
        serving_urls.release.set()
        return await page, agent

    page, agent = asyncio.run(both())
    assert (agent.status, agent.body) == (200, "agent")
    assert (page.status, page.body) == (200, "released")


def test_work_left_for_afterwards_runs_after_the_answer_was_sent(app: PooledASGIHandler) -> None:
    answer = get(app, "/later/")
    assert answer.body == "answered with 0 done"
    assert serving_urls.done_after == ["work done"]


def test_a_streaming_answer_is_sent_chunk_by_chunk(app: PooledASGIHandler) -> None:
    answer = asyncio.run(call(app, "/stream/", on_chunk=lambda _: serving_urls.streamed.set()))
    assert answer.chunks == [b"first ", b"second"]


def test_nothing_a_request_sets_in_its_context_is_left_for_the_next(
    app: PooledASGIHandler,
) -> None:
    assert get(app, "/probe/set/").body == "leaked"
    assert get(app, "/probe/read/").body == "clean"  # the same, only thread


@pytest.fixture
def signal_handlers() -> Iterator[None]:
    """The process's own handlers again afterwards (starting to serve chains to them)."""
    saved = {number: signal.getsignal(number) for number in (signal.SIGINT, signal.SIGTERM)}
    yield
    for number, handler in saved.items():
        signal.signal(number, handler)


def test_a_stop_signal_ends_the_long_polls_then_reaches_the_server(
    signal_handlers: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    board = wakeup._Board()
    monkeypatch.setattr(wakeup, "_board", board)
    heard: list[int] = []
    signal.signal(signal.SIGTERM, lambda number, frame: heard.append(number))  # the server's
    end_long_polls_on_stop()
    handler = signal.getsignal(signal.SIGTERM)
    assert callable(handler)
    handler(signal.SIGTERM, None)
    assert board.closing  # every long poll answers now
    assert heard == [signal.SIGTERM]  # and the server stops as it would have


def test_the_handler_answers_the_lifespan_protocol(
    app: PooledASGIHandler, signal_handlers: None
) -> None:
    said: list[str] = []
    heard = iter([{"type": "lifespan.startup"}, {"type": "lifespan.shutdown"}])

    async def receive() -> dict[str, Any]:
        return next(heard)

    async def send(message: dict[str, Any]) -> None:
        said.append(message["type"])

    asyncio.run(app({"type": "lifespan"}, receive, send))
    assert said == ["lifespan.startup.complete", "lifespan.shutdown.complete"]
    assert app.pages._shutdown and app.agents._shutdown  # no thread outlives the server
