"""Work that can wait until the answer has gone out: the notifications of a password change.

`sspr serve` (sspr.web.serving) gathers such work for each request and does it once the answer
is sent, so that nobody waits for a mail server to say "your password was reset". Anywhere else
(the CLI, the test client, any other server) it is done at once. Either way it runs only after
the caller's transaction committed. A process that dies in between loses it, which is why only
best-effort work goes here: a notification whose failure is logged, never shown.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Callable, Iterator
from contextvars import ContextVar

from django.db import transaction

log = logging.getLogger(__name__)

Work = Callable[[], object]

_gathered: ContextVar[list[Work] | None] = ContextVar("sspr_afterwards", default=None)


def after_commit(work: Work) -> None:
    """Do `work` once the current transaction commits and, when serving, the answer is sent."""
    transaction.on_commit(lambda: _later(work))


def _later(work: Work) -> None:
    gathered = _gathered.get()
    if gathered is None:
        work()
    else:
        gathered.append(work)


@contextlib.contextmanager
def gathering() -> Iterator[list[Work]]:
    """Within the block, work is kept in the list yielded instead of done."""
    gathered: list[Work] = []
    token = _gathered.set(gathered)
    try:
        yield gathered
    finally:
        _gathered.reset(token)


def do(works: list[Work]) -> None:
    for work in works:
        try:
            work()
        except Exception as error:  # noqa: BLE001 -- one failed notification must not stop the next
            log.warning("afterwards_failed work=%s error=%s", _name(work), type(error).__name__)


def _name(work: Work) -> str:
    return str(getattr(getattr(work, "func", work), "__qualname__", "?"))  # a partial's function
