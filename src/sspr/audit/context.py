"""Who is asking and from where, for the audit trail, without the domain knowing of HTTP.

The web layer sets it once per request; domain code reads it when it records an event.
"""

from __future__ import annotations

import uuid
from contextvars import ContextVar
from dataclasses import dataclass, field


@dataclass(frozen=True)
class RequestContext:
    ip: str = ""
    user_agent: str = ""
    correlation_id: str = field(default_factory=lambda: uuid.uuid4().hex)


_current: ContextVar[RequestContext | None] = ContextVar("sspr_request_context", default=None)


def current() -> RequestContext:
    ctx = _current.get()
    if ctx is None:
        # Command-line and background work: one correlation id per process step.
        ctx = RequestContext(ip="", user_agent="sspr command line")
        _current.set(ctx)
    return ctx


def bind(ctx: RequestContext) -> object:
    return _current.set(ctx)


def unbind(token: object) -> None:
    _current.reset(token)  # type: ignore[arg-type]
