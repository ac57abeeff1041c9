"""A dependency that cannot be reached, met at the edge of a request: a 503, never a 500.

Domain code lets the driver's error go up; here it becomes one answer with a stable code
(`sspr.web.errors.database_unavailable`) for pages, and `sspr.web.api.app` gives the same to
the API. Each flow writes what it changes in one transaction, so an error before the commit
leaves the previous state. An error *during* the commit is the one case nobody can tell: the
server may have committed just before the connection broke, and the answer says so.

The service needs no restart afterwards: every request opens its own connection (see
DATABASES in settings.py), so the first request after the database is back succeeds.

Other dependencies are the domain's to judge (throttling without Redis, say): it raises a
DomainError of status 503, which pages and the API answer in its own words.
"""

from __future__ import annotations

import logging
import traceback
from collections.abc import Callable

from django.db import InterfaceError, OperationalError
from django.http import HttpRequest, HttpResponse

from sspr.errors import DomainError

RETRY_AFTER = 5  # seconds; a restarting database is usually back within a few


def _driver_errors() -> tuple[type[Exception], ...]:
    # Django wraps the driver's errors in its own, except where code talks to the driver
    # directly; those must not turn into a 500 either.
    try:
        import psycopg
    except ImportError:
        return ()
    return (psycopg.OperationalError, psycopg.InterfaceError)


OUTAGE_ERRORS: tuple[type[Exception], ...] = (OperationalError, InterfaceError, *_driver_errors())


def is_outage(error: BaseException) -> bool:
    """Whether `error` means the database cannot be reached (refused, cut, shutting down)."""
    return isinstance(error, OUTAGE_ERRORS)


def commit_was_cut(error: BaseException) -> bool:
    """Whether the connection failed while committing a transaction."""
    return any(
        frame.f_code.co_name == "_commit"
        and str(frame.f_globals.get("__name__", "")).startswith("django.db.backends.")
        for frame, _line in traceback.walk_tb(error.__traceback__)
    )


class OutageMiddleware:
    """Answers 503 for a page whose view met an outage: the database's, or a DomainError of
    status 503 that the view did not expect, such as throttling refused while Redis is away.
    (The API has its own handlers.)"""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        return self.get_response(request)

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        from sspr.web import errors

        if is_outage(exception):
            return errors.database_unavailable(request, exception)
        if isinstance(exception, DomainError) and exception.status == 503:
            return errors.unavailable(request, exception)
        return None


class WithoutOutageTraceback(logging.Filter):
    """Keeps Django's one line about a request that met a database outage outside a view
    (say, saving its session), without the traceback: the outage is expected and already
    logged as `database_unavailable`."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.exc_info and record.exc_info[1] is not None and is_outage(record.exc_info[1]):
            record.exc_info = None
            record.exc_text = None
        return True
