"""Calling an ASGI application as an ASGI server calls it: one GET, its answer kept chunk by
chunk as the server would send it."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

Application = Callable[[dict[str, Any], Any, Any], Awaitable[None]]


class Answer:
    def __init__(self) -> None:
        self.status = 0
        self.chunks: list[bytes] = []

    @property
    def body(self) -> str:
        return b"".join(self.chunks).decode()


async def call(
    app: Application,
    path: str,
    headers: dict[str, str] | None = None,
    on_chunk: Callable[[bytes], None] = lambda _: None,
) -> Answer:
    target, _, query = path.partition("?")
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "GET",
        "scheme": "http",
        "path": target,
        "raw_path": target.encode(),
        "root_path": "",
        "query_string": query.encode(),
        "headers": [(b"host", b"127.0.0.1")]
        + [(k.lower().encode(), v.encode()) for k, v in (headers or {}).items()],
        "client": ("127.0.0.1", 50000),
        "server": ("127.0.0.1", 8000),
    }
    answer = Answer()

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        if message["type"] == "http.response.start":
            answer.status = message["status"]
        elif message.get("body"):
            answer.chunks.append(message["body"])
            on_chunk(message["body"])

    await asyncio.wait_for(app(scope, receive, send), 15)
    return answer


def get(app: Application, path: str, headers: dict[str, str] | None = None) -> Answer:
    return asyncio.run(call(app, path, headers))
