"""Error pages and answers for anything that goes wrong before a view runs."""

from __future__ import annotations

import logging
import sys

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.utils.translation import gettext as _

from sspr.errors import DomainError
from sspr.web import outage

log = logging.getLogger(__name__)


def wants_json(request: HttpRequest) -> bool:
    return request.path.startswith("/api/")


def _answer(
    request: HttpRequest, status: int, code: str, message: str, **extra: str
) -> HttpResponse:
    if wants_json(request):
        return JsonResponse({"code": code, "message": message, **extra}, status=status)
    return render(request, "sspr/error.html", {"message": message, "code": code}, status=status)


def database_unavailable(request: HttpRequest, error: BaseException) -> HttpResponse:
    """503 while the database cannot be reached; the trace stays out of the answer and the log."""
    cut = outage.commit_was_cut(error)
    log.warning("database_unavailable error=%s commit_cut=%s", type(error).__name__, cut)
    if cut:
        # The server may have committed before the connection broke: nobody can say.
        response = _answer(
            request,
            503,
            "database_unavailable",
            _(
                "The service lost its database while saving, so it cannot tell whether your "
                "change was made. Check before you try it again."
            ),
            outcome="unknown",
        )
    else:
        response = _answer(
            request,
            503,
            "database_unavailable",
            _(
                "The service cannot reach its database right now. Nothing was changed. "
                "Try again in a moment."
            ),
        )
    response["Retry-After"] = str(outage.RETRY_AFTER)
    return response


def unavailable(request: HttpRequest, error: DomainError) -> HttpResponse:
    """503 for a dependency the domain found unavailable, in its own words."""
    response = _answer(request, 503, error.code, error.message)
    response["Retry-After"] = str(outage.RETRY_AFTER)
    return response


def csrf_failure(request: HttpRequest, reason: str = "") -> HttpResponse:
    return _answer(
        request,
        403,
        "csrf_failed",
        _(
            "This form has expired or was not sent from this site. Go back, reload the "
            "page and try again."
        ),
    )


def bad_request(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    return _answer(request, 400, "bad_request", _("The request could not be understood."))


def permission_denied(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    return _answer(request, 403, "forbidden", _("You do not have access to this page."))


def not_found(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    return _answer(request, 404, "not_found", _("There is nothing at this address."))


def server_error(request: HttpRequest) -> HttpResponse:
    # Reached for what fails outside a view, such as saving the session after it.
    error = sys.exc_info()[1]
    if error is not None and outage.is_outage(error):
        return database_unavailable(request, error)
    return _answer(
        request,
        500,
        "internal_error",
        _("Something went wrong on our side. Nothing was changed; please try again."),
    )
