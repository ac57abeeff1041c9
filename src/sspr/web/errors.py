"""Error pages and answers for anything that goes wrong before a view runs."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.utils.translation import gettext as _


def wants_json(request: HttpRequest) -> bool:
    return request.path.startswith("/api/")


def _answer(request: HttpRequest, status: int, code: str, message: str) -> HttpResponse:
    if wants_json(request):
        return JsonResponse({"code": code, "message": message}, status=status)
    return render(request, "sspr/error.html", {"message": message, "code": code}, status=status)


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
    return _answer(
        request,
        500,
        "internal_error",
        _("Something went wrong on our side. Nothing was changed; please try again."),
    )
