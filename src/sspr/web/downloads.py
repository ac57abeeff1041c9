"""Streaming a file download, chunk by chunk, from the request's own thread.

Under WSGI and under `sspr serve` (sspr.web.serving) alike, the response is iterated on the
thread that made it, where its database connection lives, and sent as it is produced.
"""

from __future__ import annotations

from collections.abc import Iterator

from django.http import StreamingHttpResponse


def streaming_download(
    chunks: Iterator[str], content_type: str, filename: str
) -> StreamingHttpResponse:
    response = StreamingHttpResponse(
        (chunk.encode("utf-8") for chunk in chunks), content_type=content_type
    )
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    response["Cache-Control"] = "no-store"
    return response
