"""Conditional access on the pages: signing in with a Temporary Access Pass, proving a registered
method before changing security info, and the admin portal's own evaluation."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from django import forms
from django.db import transaction
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_http_methods

from sspr.access import step_up
from sspr.access.enforcement import (
    ADMIN_SIGN_IN,
    REGISTER,
    AccessBlocked,
    StepUpRequired,
    access,
    enforce,
)
from sspr.access.temporary_pass import is_pass_session, sign_in_with_pass
from sspr.audit import context
from sspr.audit.events import Activity, record
from sspr.directory.models import Credential, Tenant
from sspr.errors import DomainError
from sspr.web.pages import sign_in_form, signed_in_for_security_info, with_tenant

# The admin portal's evaluation, kept for the session while its address stays the same.
ADMIN_ACCESS = "sspr_admin_access"


def helpdesk_href(helpdesk: str) -> str:
    """A link to the helpdesk: its web address, or a mailto: for an email address."""
    if helpdesk.startswith(("https://", "http://")):
        return helpdesk
    if "@" in helpdesk and " " not in helpdesk:
        return f"mailto:{helpdesk}"
    return ""


def access_context(credential: Credential, action: str = REGISTER) -> dict[str, Any]:
    """What a page shows of conditional access before the user acts."""
    state = access(credential, action)
    return {
        "access": state,
        "pass_session": is_pass_session(credential),
        "blocked_message": AccessBlocked(action, state.helpdesk).message if state.blocked else "",
        "helpdesk": state.helpdesk,
        "helpdesk_href": helpdesk_href(state.helpdesk),
    }


class PassSignInForm(forms.Form):
    username = forms.CharField(
        label=gettext_lazy("User name"),
        max_length=256,
        widget=forms.TextInput(attrs={"autocomplete": "username", "autofocus": True}),
    )
    temporary_access_pass = forms.CharField(
        label=gettext_lazy("Temporary Access Pass"),
        max_length=64,
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "one-time-code"}),
    )


@require_http_methods(["GET", "HEAD", "POST"])
@with_tenant
def pass_sign_in_page(request: HttpRequest, tenant: Tenant) -> HttpResponse:
    """Sign in with a Temporary Access Pass to register methods (and only that)."""
    return sign_in_form(
        request,
        tenant,
        PassSignInForm(request.POST or None),
        "sspr/pass_sign_in.html",
        lambda data: sign_in_with_pass(
            tenant, data["username"], data["temporary_access_pass"], Credential.Kind.BROWSER
        ),
        lambda _: "register",
    )


def _next(request: HttpRequest, tenant: Tenant) -> str:
    wanted = request.POST.get("next") or request.GET.get("next") or ""
    if wanted.startswith(f"/t/{tenant.slug}/") and url_has_allowed_host_and_scheme(
        wanted, allowed_hosts=None
    ):
        return wanted
    return reverse("register", args=[tenant.slug])


def _prove(request: HttpRequest, credential: Credential) -> dict[str, Any]:
    """One step of proving a method; {"done": True} once proven."""
    action = request.POST.get("action", "")
    method = request.POST.get("method", "")[:32]
    if action == "send":
        step_up.send_code(credential, method)
        return {"sent": method}
    if action == "verify":
        step_up.verify_code(credential, method, request.POST.get("code", "")[:16])
        return {"done": True}
    if action == "pass":
        step_up.verify_pass(credential, request.POST.get("temporary_access_pass", "")[:64])
        return {"done": True}
    return {}


@require_http_methods(["GET", "HEAD", "POST"])
@signed_in_for_security_info
def verify_identity_page(request: HttpRequest, credential: Credential) -> HttpResponse:
    """Prove a registered method (or a Temporary Access Pass) for the next ten minutes."""
    user = credential.user
    tenant = user.tenant
    next_url = _next(request, tenant)
    outcome: dict[str, Any] = {}
    error = ""
    if request.method == "POST":
        try:
            outcome = _prove(request, credential)
        except DomainError as failure:
            error = failure.message
        if outcome.get("done"):
            return redirect(next_url)
    context_ = {
        "tenant": tenant,
        "user": user,
        "options": step_up.options(user),
        "sent": outcome.get("sent", request.POST.get("method", "") if error else ""),
        "next": next_url,
        "error": error,
        **access_context(credential),
    }
    return render(request, "sspr/verify_identity.html", context_, status=400 if error else 200)


def admin_portal_gate(request: HttpRequest, credential: Credential) -> HttpResponse | None:
    """Conditional access for "sign in to the admin portal": evaluated on entering it, and
    again when the address changes; recorded each time. None lets the administrator in."""
    user = credential.user
    address = context.current().ip
    if request.session.get(ADMIN_ACCESS) == {"credential": credential.pk, "address": address}:
        return None
    try:
        details = enforce(credential, ADMIN_SIGN_IN, Activity.ADMIN_PORTAL_SIGN_IN)
    except AccessBlocked as blocked:
        helpdesk = str(blocked.details.get("helpdesk", ""))
        return render(
            request,
            "sspr/access_blocked.html",
            {
                "tenant": user.tenant,
                "user": user,
                "message": blocked.message,
                "helpdesk": helpdesk,
                "helpdesk_href": helpdesk_href(helpdesk),
            },
            status=403,
        )
    except StepUpRequired:
        target = reverse("verify-identity", args=[user.tenant.slug])
        return redirect(f"{target}?{urlencode({'next': request.path})}")
    with transaction.atomic():
        record(
            user.tenant,
            Activity.ADMIN_PORTAL_SIGN_IN,
            actor=user,
            target=user,
            conditional_access=details,
        )
    request.session[ADMIN_ACCESS] = {"credential": credential.pk, "address": address}
    return None
