"""Views for test_serving.py: what `sspr serve`'s handler must get right, one view each."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextvars import ContextVar

from django.db import connection, transaction
from django.http import HttpRequest, HttpResponse, StreamingHttpResponse
from django.urls import path

from sspr import afterwards

release = threading.Event()  # the page view /held/ waits for it
streamed = threading.Event()  # the test sets it once the first chunk of /stream/ reached it
done_after: list[str] = []  # what /later/'s work found when it ran
probe: ContextVar[str] = ContextVar("probe", default="clean")


def held(request: HttpRequest) -> HttpResponse:
    release.wait(10)
    return HttpResponse("released")


def agent_call(request: HttpRequest) -> HttpResponse:
    return HttpResponse("agent")


def later(request: HttpRequest) -> HttpResponse:
    with transaction.atomic():
        afterwards.after_commit(lambda: done_after.append("work done"))
    return HttpResponse(f"answered with {len(done_after)} done")


def stream(request: HttpRequest) -> StreamingHttpResponse:
    def chunks() -> Iterator[bytes]:
        yield b"first "
        # Produced only once the first chunk reached the client: not buffered whole.
        yield b"second" if streamed.wait(10) else b"buffered"

    return StreamingHttpResponse(chunks())


def set_probe(request: HttpRequest) -> HttpResponse:
    probe.set("leaked")
    return HttpResponse(probe.get())


def read_probe(request: HttpRequest) -> HttpResponse:
    return HttpResponse(probe.get())


def thread(request: HttpRequest) -> HttpResponse:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
    return HttpResponse(threading.current_thread().name)


urlpatterns = [
    path("held/", held),
    path("api/v1/agent/call", agent_call),
    path("later/", later),
    path("stream/", stream),
    path("probe/set/", set_probe),
    path("probe/read/", read_probe),
    path("thread/", thread),
]
