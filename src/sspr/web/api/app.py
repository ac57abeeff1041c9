"""The JSON API: one NinjaAPI, errors always `{"code", "message"}`, never a stack trace."""

from __future__ import annotations

import logging
from collections.abc import Callable
from functools import wraps
from inspect import iscoroutinefunction
from typing import Any

from django.core.exceptions import RequestDataTooBig
from django.db import DatabaseError
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseNotAllowed
from django.urls import URLPattern, URLResolver
from ninja import NinjaAPI
from ninja.errors import AuthenticationError, HttpError, ValidationError

from sspr import __version__
from sspr.errors import DomainError
from sspr.web import errors, outage
from sspr.web.api import (
    agent,
    agents,
    audit,
    captcha,
    conditional_access,
    health,
    insights,
    me,
    methods,
    password_policy,
    resets,
    rollout,
    service_desk,
    sessions,
    sspr_policy,
    step_up,
    temporary_access_passes,
    users,
)

log = logging.getLogger(__name__)


class JsonErrorsAPI(NinjaAPI):
    """A NinjaAPI whose "method not allowed" is JSON too: Ninja answers it in plain text."""

    @property
    def urls(self) -> tuple[list[URLResolver | URLPattern], str, str]:
        patterns, app_name, namespace = super().urls
        for pattern in patterns:
            if isinstance(pattern, URLPattern) and not iscoroutinefunction(pattern.callback):
                pattern.callback = _json_method_not_allowed(pattern.callback)
        return patterns, app_name, namespace


def _json_method_not_allowed(view: Callable[..., Any]) -> Callable[..., Any]:
    @wraps(view)  # keeps csrf_exempt and the other attributes Django reads
    def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> Any:
        response = view(request, *args, **kwargs)
        if not isinstance(response, HttpResponseNotAllowed):
            return response
        allowed = response["Allow"]
        answer = _error(
            request,
            405,
            {"code": "method_not_allowed", "message": f"Use one of these methods here: {allowed}."},
        )
        answer["Allow"] = allowed
        return answer

    return wrapper


api = JsonErrorsAPI(
    title="opensspr",
    version="1",
    description="Self-service password reset: sign-in, password change, administration.",
    urls_namespace="api",
    docs_url="/docs",
)


def _error(request: HttpRequest, status: int, body: dict[str, object]) -> HttpResponse:
    return api.create_response(request, body, status=status)


@api.exception_handler(DomainError)
def domain_error(request: HttpRequest, exc: DomainError) -> HttpResponse:
    response = _error(request, exc.status, exc.as_dict())
    if "retry_after" in exc.details:
        response["Retry-After"] = str(exc.details["retry_after"])
    return response


@api.exception_handler(ValidationError)
def validation_error(request: HttpRequest, exc: ValidationError) -> HttpResponse:
    problems = []
    for error in exc.errors:
        where = ".".join(str(p) for p in error.get("loc", ()) if p not in ("body", "payload"))
        problems.append({"field": where, "message": str(error.get("msg", "invalid"))})
    summary = "; ".join(f"{p['field'] or 'body'}: {p['message']}" for p in problems[:5])
    return _error(
        request,
        422,
        {
            "code": "invalid_request",
            "message": f"The request is not valid: {summary}",
            "errors": problems,
        },
    )


@api.exception_handler(AuthenticationError)
def unauthenticated(request: HttpRequest, exc: AuthenticationError) -> HttpResponse:
    response = _error(
        request,
        401,
        {
            "code": "unauthenticated",
            "message": "Sign in first: send 'Authorization: Bearer <token>' from POST "
            "/api/v1/tenants/{tenant}/sessions. The token may have expired or been "
            "revoked by a password change.",
        },
    )
    response["WWW-Authenticate"] = "Bearer"
    return response


@api.exception_handler(HttpError)
def http_error(request: HttpRequest, exc: HttpError) -> HttpResponse:
    code = {400: "bad_request", 404: "not_found", 405: "method_not_allowed"}.get(
        exc.status_code, "error"
    )
    return _error(request, exc.status_code, {"code": code, "message": str(exc)})


@api.exception_handler(Http404)
def not_found(request: HttpRequest, exc: Http404) -> HttpResponse:
    return _error(request, 404, {"code": "not_found", "message": "There is nothing here."})


@api.exception_handler(RequestDataTooBig)
def too_big(request: HttpRequest, exc: RequestDataTooBig) -> HttpResponse:
    return _error(
        request, 413, {"code": "payload_too_large", "message": "The request body is too large."}
    )


@api.exception_handler(DatabaseError)
def database_unavailable(request: HttpRequest, exc: DatabaseError) -> HttpResponse:
    log.error("database_error error=%s", type(exc).__name__)
    return _error(
        request,
        503,
        {
            "code": "service_unavailable",
            "message": "The service is briefly unavailable; nothing was "
            "changed. Try again in a moment.",
        },
    )


def database_outage(request: HttpRequest, exc: Exception) -> HttpResponse:
    return errors.database_unavailable(request, exc)


for _kind in outage.OUTAGE_ERRORS:
    api.exception_handler(_kind)(database_outage)


@api.exception_handler(Exception)
def unexpected(request: HttpRequest, exc: Exception) -> HttpResponse:
    log.exception("api_unexpected_error path=%s", request.path)
    return _error(
        request,
        500,
        {
            "code": "internal_error",
            "message": "Something went wrong on our side; nothing was changed. Try again.",
        },
    )


api.add_router("", health.router)
api.add_router("", sessions.router)
api.add_router("", me.router)
api.add_router("", users.router)
api.add_router("", captcha.router)
api.add_router("", resets.router)
api.add_router("", methods.router)
api.add_router("", sspr_policy.router)
api.add_router("", password_policy.router)
api.add_router("", password_policy.public)
api.add_router("", agent.router)
api.add_router("", agents.router)
api.add_router("", audit.router)
api.add_router("", insights.router)
api.add_router("", service_desk.router)
api.add_router("", rollout.router)
api.add_router("", conditional_access.router)
api.add_router("", temporary_access_passes.router)
api.add_router("", step_up.router)

__all__ = ["__version__", "api"]
