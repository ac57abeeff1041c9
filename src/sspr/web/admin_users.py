"""The "Users" admin pages and the service desk: find a user, see why they cannot reset, check
the caller, reset the password.

Every administrator may look; the flows decide who may send codes and reset (Entra's role
rules). The temporary password is in the answer to the POST that made it and nowhere else:
not in the session, not in a redirect, not in any cache.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable
from functools import wraps
from typing import Any
from urllib.parse import urlencode

from django.core.paginator import Page, Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_http_methods

from sspr.directory.lookups import find_user
from sspr.directory.models import Credential, User
from sspr.errors import Conflict, DomainError
from sspr.flows import caller_verification, service_desk
from sspr.flows.admin_reset import reset_by_admin
from sspr.flows.models import CallerVerification
from sspr.web.admin_pages import admin_page
from sspr.web.pass_panel import pass_panel

PAGE_SIZE = 50
NOTICE = "sspr_admin_user_notice"
# One key per reset form shown: a reload of the answer (which re-sends the form) resets nobody.
RESET_KEYS = "sspr_admin_reset_keys"
ACTIONS = ("send-code", "check-code", "reset-password")
CHECK_LABELS = {
    "plan": "Plan",
    "account_enabled": "Account",
    "in_scope": "Scope",
    "admin_policy": "Administrator policy",
    "methods": "Methods",
    "blocked": "Attempt limits",
    "locked": "Lock",
    "writeback": "Writeback",
    "agent": "On-premises agent",
}


def admin_subpage(view: Callable[..., HttpResponse]) -> Any:
    """`admin_page` for views with more in the address than the tenant (a user, a group)."""

    @wraps(view)
    def wrapper(request: HttpRequest, tenant: str, **kwargs: Any) -> HttpResponse:
        @admin_page
        def bound(request: HttpRequest, credential: Credential) -> HttpResponse:
            return view(request, credential, **kwargs)

        return bound(request, tenant)

    return wrapper


def page_of(items: Any, request: HttpRequest) -> Page[Any]:
    return Paginator(items, PAGE_SIZE).get_page(request.GET.get("page"))


def page_links(name: str, args: list[Any], page: Page[Any], **params: str) -> dict[str, str]:
    """Previous and next addresses of a paged list, keeping its other parameters."""

    def link(number: int) -> str:
        query = {k: v for k, v in {**params, "page": str(number)}.items() if v}
        return f"{reverse(name, args=args)}?{urlencode(query)}"

    return {
        "previous_url": link(page.previous_page_number()) if page.has_previous() else "",
        "next_url": link(page.next_page_number()) if page.has_next() else "",
    }


def not_found(request: HttpRequest, credential: Credential, message: str) -> HttpResponse:
    user = credential.user
    return render(
        request,
        "sspr/error.html",
        {"tenant": user.tenant, "user": user, "message": message, "code": "not_found"},
        status=404,
    )


@admin_page  # first: to anyone else every method is refused alike
@require_http_methods(["GET", "HEAD"])
def users_page(request: HttpRequest, credential: Credential) -> HttpResponse:
    user = credential.user
    tenant = user.tenant
    term = request.GET.get("q", "").strip()[: service_desk.MAX_SEARCH]
    page = page_of(service_desk.search_users(tenant, term), request)
    return render(
        request,
        "sspr/admin/users.html",
        {
            "tenant": tenant,
            "user": user,
            "section": "users",
            "q": term,
            "page": page,
            **page_links("admin-users", [tenant.slug], page, q=term),
        },
    )


def _caller_state(verification: CallerVerification | None) -> str:
    """What the page says about the last check: awaiting, verified, failed, expired or none."""
    if verification is None:
        return ""
    if verification.state == CallerVerification.State.VERIFIED:
        fresh = verification.verified_at is not None and (
            timezone.now() - verification.verified_at <= caller_verification.VERIFIED_FOR
        )
        return "verified" if fresh else ""
    if verification.state == CallerVerification.State.FAILED:
        return "failed"
    return "expired" if verification.expired else "awaiting"


def _reset_key(request: HttpRequest, target: User) -> str:
    key = secrets.token_urlsafe(16)
    kept = list(request.session.get(RESET_KEYS, []))[-19:]
    request.session[RESET_KEYS] = [*kept, f"{target.pk}:{key}"]
    return key


def _spend_reset_key(request: HttpRequest, target: User) -> None:
    kept = list(request.session.get(RESET_KEYS, []))
    entry = f"{target.pk}:{request.POST.get('reset_key', '')[:64]}"
    if entry not in kept:
        raise Conflict(
            "This form was already sent: the password was reset then, and its temporary "
            "password was shown only that once. To reset it again, press Reset password below."
        )
    kept.remove(entry)
    request.session[RESET_KEYS] = kept


def _act(request: HttpRequest, actor: User, target: User) -> tuple[str, str]:
    """Carry out the posted action; return (notice for the next page, temporary password)."""
    action = request.POST.get("action", "")
    if action == "send-code":
        sent = caller_verification.start(actor, target, request.POST.get("method", "")[:32])
        return f"A code was sent to {sent.hint}. Ask the caller to read it out.", ""
    if action == "check-code":
        done = caller_verification.check(
            actor,
            target,
            request.POST.get("verification", "")[:32],
            request.POST.get("code", "")[:32],
        )
        return f"The caller is verified: they read out the code sent to {done.hint}.", ""
    if action == "reset-password":
        if not service_desk.reset_refusal(actor, target):  # else the flow refuses, and says why
            _spend_reset_key(request, target)
        return "", reset_by_admin(actor, target)
    raise DomainError("Unknown action.")


@admin_subpage
@require_http_methods(["GET", "HEAD", "POST"])
def user_page(request: HttpRequest, credential: Credential, upn: str) -> HttpResponse:
    actor = credential.user
    tenant = actor.tenant
    target = find_user(tenant, upn)
    if target is None:
        return not_found(request, credential, "There is no such user in this organisation.")
    error, temporary, status = "", "", 200
    action = request.POST.get("action", "") if request.method == "POST" else ""
    if request.method == "POST":
        try:
            notice, temporary = _act(request, actor, target)
        except DomainError as refused:
            error = (
                service_desk.reset_failure(refused, actor, target)
                if action == "reset-password"
                else refused.message
            )
            status = refused.status
        else:
            if not temporary:
                request.session[NOTICE] = notice
                return redirect(reverse("admin-user", args=[tenant.slug, target.upn]))
        target.refresh_from_db()
    overview = service_desk.overview(actor, target)
    verification = caller_verification.latest(actor, target)
    response = render(
        request,
        "sspr/admin/user.html",
        {
            "tenant": tenant,
            "user": actor,
            "section": "users",
            "o": overview,
            "target": target,
            "explanation": overview.explanation,
            "checks": [(CHECK_LABELS.get(c.name, c.name), c) for c in overview.explanation.checks],
            "verification": verification,
            "caller_state": _caller_state(verification),
            "notice": request.session.pop(NOTICE, "") if request.method != "POST" else "",
            "error": error,
            "error_action": action if error and action in ACTIONS else "",
            "temporary_password": temporary,
            "reset_key": _reset_key(request, target) if not overview.reset_refusal else "",
            **pass_panel(actor, target),
        },
        status=status,
    )
    if temporary:
        # Shown once: no browser or proxy may keep the page that carries it.
        response["Cache-Control"] = "no-store"
    return response
