"""Django over ASGI the way threaded WSGI servers run it: a fixed set of threads, each keeping
its database connection.

Django's own ASGI handler gives every request a thread of its own (its ThreadSensitiveContext),
so every request opened and closed a database connection and crossed between the event loop
and that new thread several times: an answer without any database work (a 401) cost 2.9 ms of
CPU that way, and 0.6 ms this way. Here the loop only reads the request body and writes the
answer; the whole of Django in between, a download's streaming included, runs in one of the
pool's threads.

The agent channel has a pool of its own. Its long polls hold a thread for up to 30 s each, and a
reset waiting for its agent holds a page thread: in one shared pool, the agent's `start` and
result that would end those waits could queue behind them.
"""

from __future__ import annotations

import asyncio
import contextvars
import signal
import threading
from collections.abc import Awaitable, Callable, Coroutine, MutableMapping
from concurrent.futures import ThreadPoolExecutor
from types import FrameType
from typing import IO, Any

from django.conf import settings
from django.core import signals
from django.core.exceptions import RequestAborted
from django.core.handlers import base
from django.core.handlers.asgi import ASGIHandler, get_script_prefix
from django.db import close_old_connections
from django.http import FileResponse, HttpResponseBase
from django.urls import set_script_prefix

from sspr import afterwards
from sspr.hybrid import wakeup

Scope = MutableMapping[str, Any]
Message = dict[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Coroutine[Any, Any, None]]

AGENT_PREFIX = "/api/v1/agent/"


def headers_of(response: HttpResponseBase) -> list[tuple[bytes, bytes]]:
    """The response's headers and cookies as ASGI wants them (the case kept, as Django does)."""
    headers = [
        (
            name.encode("ascii") if isinstance(name, str) else bytes(name),
            value.encode("latin1") if isinstance(value, str) else bytes(value),
        )
        for name, value in response.items()
    ]
    headers += [
        (b"Set-Cookie", cookie.output(header="").encode("ascii").strip())
        for cookie in response.cookies.values()
    ]
    return headers


def end_long_polls_on_stop() -> None:
    """Make a stop signal end the agents' long polls at once, before the server's own handler
    sees it: the server waits for open requests, and a long poll would hold the stop for up to
    its 30 s. Called at the start of serving, when the server (uvicorn, in each process of
    `--workers N` too) has put its handlers in place."""
    if threading.current_thread() is not threading.main_thread():
        return  # signals are handled in the main thread only
    for number in (signal.SIGINT, signal.SIGTERM):
        previous = signal.getsignal(number)
        if not callable(previous):
            continue

        def chained(
            received: int, frame: FrameType | None, previous: Callable[..., Any] = previous
        ) -> None:
            wakeup.close()
            previous(received, frame)

        signal.signal(number, chained)


class PooledASGIHandler(ASGIHandler):
    """An ASGI application serving Django's synchronous middleware and views from thread pools."""

    def __init__(self, page_threads: int | None = None, agent_threads: int | None = None) -> None:
        base.BaseHandler.__init__(self)  # not ASGIHandler's: the chain is loaded synchronous
        self.load_middleware(is_async=False)
        self.pages = ThreadPoolExecutor(
            page_threads or settings.SSPR_THREADS, thread_name_prefix="sspr-request"
        )
        self.agents = ThreadPoolExecutor(
            agent_threads or settings.SSPR_AGENT_THREADS, thread_name_prefix="sspr-agent-call"
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:  # type: ignore[override]
        if scope["type"] == "lifespan":
            await self._lifespan(receive, send)
            return
        if scope["type"] != "http":
            raise ValueError(f"opensspr serves HTTP only, not {scope['type']}.")
        try:
            body_file = await self.read_body(receive)
        except RequestAborted:
            return
        loop = asyncio.get_running_loop()
        pool = self.agents if scope["path"].startswith(AGENT_PREFIX) else self.pages
        # A fresh copy of this request's context, so that nothing a request sets in a context
        # variable (its language, its id in the logs) is left on the thread for the next one.
        context = contextvars.copy_context()
        answer, later = await loop.run_in_executor(
            pool, context.run, self._respond, scope, body_file, send, loop
        )
        for message in answer:
            await send(message)
        if later:
            await loop.run_in_executor(pool, context.run, self._afterwards, later)

    def _respond(
        self,
        scope: Scope,
        body_file: IO[bytes],
        send: Send,
        loop: asyncio.AbstractEventLoop,
    ) -> tuple[list[Message], list[afterwards.Work]]:
        """Django's work for one request, on a pool thread: the messages of a complete answer
        for the loop to send (none when a streaming answer was sent from here), and the work
        left for after it (sspr.afterwards)."""
        set_script_prefix(get_script_prefix(scope))
        signals.request_started.send(sender=self.__class__, scope=scope)
        with afterwards.gathering() as later:
            request, response = self.create_request(scope, body_file)
            if request is not None:
                response = self.get_response(request)
        assert response is not None
        try:
            start = {
                "type": "http.response.start",
                "status": response.status_code,
                "headers": headers_of(response),
            }
            if not response.streaming:
                return [start] + [
                    {"type": "http.response.body", "body": chunk, "more_body": not last}
                    for chunk, last in self.chunk_bytes(response.content)  # type: ignore[attr-defined]
                ], later
            if isinstance(response, FileResponse):
                response.block_size = self.chunk_size

            def emit(message: Message) -> None:
                asyncio.run_coroutine_threadsafe(send(message), loop).result()

            emit(start)
            for part in response:
                for chunk, _ in self.chunk_bytes(part):
                    emit({"type": "http.response.body", "body": chunk, "more_body": True})
            emit({"type": "http.response.body"})
            return [], later
        finally:
            # On this thread: request_finished decides whether its database connection stays.
            response.close()
            body_file.close()

    @staticmethod
    def _afterwards(work: list[afterwards.Work]) -> None:
        afterwards.do(work)
        close_old_connections()  # as at the end of a request: a broken connection goes

    async def _lifespan(self, receive: Receive, send: Send) -> None:
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                end_long_polls_on_stop()
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                self.pages.shutdown(wait=False, cancel_futures=True)
                self.agents.shutdown(wait=False, cancel_futures=True)
                await send({"type": "lifespan.shutdown.complete"})
                return
