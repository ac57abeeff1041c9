"""Streaming a file download under both WSGI (tests, any WSGI server) and ASGI (`sspr serve`).

Django consumes a synchronous iterator whole, into memory, before an ASGI server sends any of
it (and warns); an asynchronous one it sends chunk by chunk. So under ASGI each chunk is
produced on the request's own thread, where its database connection lives, and awaited.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from functools import partial

from asgiref.sync import sync_to_async
from django.core.handlers.asgi import ASGIRequest
from django.http import HttpRequest, StreamingHttpResponse


async def _awaited(chunks: Iterator[bytes]) -> AsyncIterator[bytes]:
    step = sync_to_async(partial(next, chunks, None), thread_sensitive=True)
    while (chunk := await step()) is not None:
        yield chunk


def streaming_download(
    request: HttpRequest, chunks: Iterator[str], content_type: str, filename: str
) -> StreamingHttpResponse:
    encoded = (chunk.encode("utf-8") for chunk in chunks)
    content = _awaited(encoded) if isinstance(request, ASGIRequest) else encoded
    response = StreamingHttpResponse(content, content_type=content_type)
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    response["Cache-Control"] = "no-store"
    return response
