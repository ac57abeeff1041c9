"""Temporary Access Passes on a user's admin page: issue one (the passcode is in the answer to
that POST and nowhere else), list the user's passes without their secrets, revoke.

Who may is `sspr.access.temporary_pass.may_issue`'s to say; the domain audits each action.
"""

from __future__ import annotations

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_http_methods

from sspr.access import temporary_pass
from sspr.directory.lookups import find_user
from sspr.directory.models import Credential, User
from sspr.errors import Conflict, DomainError
from sspr.web.admin_forms import show_refusal
from sspr.web.admin_users import NOTICE, admin_subpage, not_found
from sspr.web.pass_panel import PassForm, newest_pass, pass_panel, refusal


def _issue(actor: User, target: User, form: PassForm) -> temporary_pass.Issued | None:
    """Issue from the posted form; None when the form holds the errors."""
    if not form.is_valid():
        return None
    data = form.cleaned_data
    try:
        if data["after"] != newest_pass(target):
            raise Conflict(
                "A pass was issued for this user after this form was shown (perhaps by this very "
                "form: its passcode was shown only then). Issue a new one below if needed."
            )
        return temporary_pass.issue(
            actor, target, lifetime=data["lifetime"], max_uses=data["max_uses"]
        )
    except DomainError as refused:
        show_refusal(form, refused)
        return None


@admin_subpage
@require_http_methods(["GET", "HEAD", "POST"])
def passes_page(request: HttpRequest, credential: Credential, upn: str) -> HttpResponse:
    actor = credential.user
    tenant = actor.tenant
    target = find_user(tenant, upn)
    if target is None:
        return not_found(request, credential, "There is no such user in this organisation.")
    user_url = reverse("admin-user", args=[tenant.slug, target.upn])
    form, issued, error, status = None, None, "", 200
    if request.method == "POST" and request.POST.get("revoke"):
        try:
            temporary_pass.revoke(actor, target, request.POST.get("revoke", "")[:20])
        except DomainError as refused:
            error, status = refused.message, refused.status
        else:
            request.session[NOTICE] = "The Temporary Access Pass was revoked: it no longer works."
            return redirect(f"{user_url}#temporary-access-passes")
    elif request.method == "POST":
        if not temporary_pass.may_issue(actor, target):
            error, status = refusal(actor, target), 403
        else:
            form = PassForm(request.POST)
            issued = _issue(actor, target, form)
            if issued is None:
                error, status = "No pass was issued.", 400
    context = {
        "tenant": tenant,
        "user": actor,
        "section": "users",
        "target": target,
        "error": error,
        "issued": issued,
        "sign_in_url": f"{settings.BASE_URL}{reverse('pass-sign-in', args=[tenant.slug])}",
        **pass_panel(actor, target, None if issued else form),
    }
    response = render(request, "sspr/admin/temporary_access_pass.html", context, status=status)
    if issued:
        # Shown once: no browser or proxy may keep the page that carries it.
        response["Cache-Control"] = "no-store"
    return response
