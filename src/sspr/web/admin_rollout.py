"""The "Rollout materials" admin page: the announcement and reminder emails and the poster,
previewed, downloaded, printed, and sent to a group.

Every administrator may look and download; only Global and Authentication Policy
Administrators may send (sspr.rollout.sending decides). The materials are written in the
language chosen on the page; the page itself stays English like every administration page.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from django import forms
from django.conf import settings
from django.contrib.staticfiles import finders
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import translation
from django.views.decorators.http import require_http_methods

from sspr.directory.models import Credential, Group, Tenant
from sspr.errors import DomainError
from sspr.methods.registry import METHOD_CLASSES
from sspr.rollout import materials, sending
from sspr.rollout.recipients import count_not_registered
from sspr.web.admin_pages import admin_page
from sspr.web.admin_users import admin_subpage, not_found

SENT = "sspr_admin_rollout_sent"
PAPERS = ("a4", "letter")
DOWNLOADS = {
    "eml": ("message/rfc822", "Email draft (.eml)"),
    "html": ("text/html; charset=utf-8", "HTML"),
    "txt": ("text/plain; charset=utf-8", "Plain text"),
}
# The preview is the email's own HTML with its inline styles (mail programs need them): it gets
# a policy of its own that allows them but no script, no form and no request anywhere, and only
# this site's pages may frame it. Links open in a new tab, outside the sandbox.
PREVIEW_POLICY = "; ".join(
    [
        "default-src 'none'",
        "style-src 'unsafe-inline'",
        "img-src data:",
        "base-uri 'none'",
        "form-action 'none'",
        "frame-ancestors 'self'",
        "sandbox allow-popups allow-popups-to-escape-sandbox",
    ]
)
DESCRIPTIONS = {
    materials.ANNOUNCEMENT: "Tells users that self-service password reset is coming, which "
    "methods to register and where.",
    materials.REMINDER: "For users who have not registered enough methods yet.",
}


def _language(value: str | None) -> str:
    return value if value in materials.languages() else settings.LANGUAGE_CODE


def _link(name: str, args: list[Any], **params: str) -> str:
    return f"{reverse(name, args=args)}?{urlencode(params)}" if params else reverse(name, args=args)


def _filename(tenant: Tenant, material: str, language: str, fmt: str) -> str:
    return f"{tenant.slug}-password-reset-{material}-{language}.{fmt}"


class SendForm(forms.Form):
    template = forms.ChoiceField(
        label="Email",
        choices=[
            (materials.ANNOUNCEMENT, "Announcement: to every member of the group"),
            (materials.REMINDER, "Reminder: only to those who have not registered enough methods"),
        ],
        initial=materials.ANNOUNCEMENT,
        widget=forms.RadioSelect,
    )
    group = forms.ChoiceField(
        label="Group (members of nested groups included)",
        required=False,
        widget=forms.Select(attrs={"aria-describedby": "send-group-help"}),
    )
    language = forms.ChoiceField(label="Language of the email", choices=settings.LANGUAGES)

    def __init__(self, *args: Any, groups: list[str], read_only: bool, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        group_field = self.fields["group"]
        assert isinstance(group_field, forms.ChoiceField)
        group_field.choices = [
            ("", "Everyone in scope (reminder only)"),
            *((name, name) for name in groups),
        ]
        for field in self.fields.values():
            field.disabled = read_only


def _previews(tenant: Tenant, language: str) -> list[dict[str, Any]]:
    info = materials.facts(tenant)
    shown = []
    for kind in materials.KINDS:
        email = materials.render_email(kind, tenant, language=language, info=info)
        shown.append(
            {
                "kind": kind,
                "label": materials.KIND_LABELS[kind],
                "description": DESCRIPTIONS[kind],
                "subject": email.subject,
                "text": email.text,
                "preview_url": _link(
                    "admin-rollout-preview", [tenant.slug, kind], language=language
                ),
                "downloads": [
                    (
                        label,
                        fmt,
                        _link(
                            "admin-rollout-download", [tenant.slug, kind, fmt], language=language
                        ),
                    )
                    for fmt, (_type, label) in DOWNLOADS.items()
                ],
            }
        )
    return shown


@admin_page  # first: to anyone else every method is refused alike
@require_http_methods(["GET", "HEAD", "POST"])
def rollout_page(request: HttpRequest, credential: Credential) -> HttpResponse:
    user = credential.user
    tenant = user.tenant
    can_send = sending.may_send(user)
    groups = list(
        Group.objects.filter(tenant=tenant).order_by("name").values_list("name", flat=True)
    )
    language = _language(request.POST.get("language") or request.GET.get("language"))
    options: dict[str, Any] = {
        "groups": groups,
        "read_only": not can_send,
        "initial": {"language": language},
    }
    status = 200
    error = ""
    if request.method != "POST":
        form = SendForm(**options)
    elif not can_send:
        form = SendForm(**options)
        error = (
            "Only Global Administrators and Authentication Policy Administrators can send "
            "rollout emails."
        )
        status = 403
    else:
        form = SendForm(request.POST, **options)
        if not form.is_valid():
            error = "Choose an email, a group and a language; nothing was sent."
            status = 400
        else:
            data = form.cleaned_data
            try:
                result = sending.send(
                    tenant, data["template"], data["group"], user, language=data["language"]
                )
            except DomainError as refused:
                error = f"Nothing was sent. {refused.message}"
                status = refused.status
            else:
                request.session[SENT] = {
                    "template": materials.KIND_LABELS[result.template],
                    "group": result.group,
                    "sent": result.sent,
                    "failed": result.failed,
                }
                return redirect(_link("admin-rollout", [tenant.slug], language=data["language"]))
    info = materials.facts(tenant)
    context = {
        "tenant": tenant,
        "user": user,
        "section": "rollout",
        "facts": info,
        "method_labels": [METHOD_CLASSES[m].label for m in info.methods],
        "language": language,
        "languages": settings.LANGUAGES,
        "previews": _previews(tenant, language),
        "poster_urls": [
            (
                paper,
                label,
                _link("admin-rollout-poster", [tenant.slug], language=language, paper=paper),
            )
            for paper, label in (("a4", "A4"), ("letter", "US Letter"))
        ],
        "poster_download_url": _link(
            "admin-rollout-download", [tenant.slug, "poster", "html"], language=language
        ),
        "unregistered": count_not_registered(tenant),
        "can_send": can_send,
        "form": form,
        "error": error,
        "sent": request.session.pop(SENT, None) if request.method != "POST" else None,
    }
    return render(request, "sspr/admin/rollout.html", context, status=status)


@admin_subpage
@require_http_methods(["GET", "HEAD"])
def rollout_preview(request: HttpRequest, credential: Credential, material: str) -> HttpResponse:
    tenant = credential.user.tenant
    if material not in materials.KINDS:
        return not_found(request, credential, "There is no such email.")
    language = _language(request.GET.get("language"))
    email = materials.render_email(material, tenant, language=language)
    response = HttpResponse(email.html, content_type="text/html; charset=utf-8")
    response["Content-Security-Policy"] = PREVIEW_POLICY
    response["X-Frame-Options"] = "SAMEORIGIN"
    response["Content-Language"] = language
    return response


def _poster_html(request: HttpRequest, tenant: Tenant, language: str, **extra: Any) -> str:
    poster = materials.render_poster(tenant, language=language)
    template = "sspr/admin/rollout_poster.html" if "paper" in extra else "sspr/rollout/poster.html"
    with translation.override(language):
        return render_to_string(template, {**poster.context, **extra}, request=request)


@admin_subpage
@require_http_methods(["GET", "HEAD"])
def rollout_download(
    request: HttpRequest, credential: Credential, material: str, fmt: str
) -> HttpResponse:
    tenant = credential.user.tenant
    language = _language(request.GET.get("language"))
    if material == "poster" and fmt == "html":
        # A file opened from disk reaches no stylesheet of this site: its styles travel inside.
        css = finders.find("sspr/poster.css")
        assert isinstance(css, str)
        body: str | bytes = _poster_html(
            request, tenant, language, inline_css=Path(css).read_text(encoding="utf-8")
        )
    elif material in materials.KINDS and fmt in DOWNLOADS:
        email = materials.render_email(material, tenant, language=language)
        bodies: dict[str, str | bytes] = {"eml": email.eml(), "html": email.html, "txt": email.text}
        body = bodies[fmt]
    else:
        return not_found(request, credential, "There is no such download.")
    response = HttpResponse(body, content_type=DOWNLOADS[fmt][0])
    response["Content-Disposition"] = (
        f'attachment; filename="{_filename(tenant, material, language, fmt)}"'
    )
    return response


@admin_page  # first: to anyone else every method is refused alike
@require_http_methods(["GET", "HEAD"])
def rollout_poster(request: HttpRequest, credential: Credential) -> HttpResponse:
    tenant = credential.user.tenant
    language = _language(request.GET.get("language"))
    paper = request.GET.get("paper", "a4")
    paper = paper if paper in PAPERS else "a4"
    html = _poster_html(
        request,
        tenant,
        language,
        paper=paper,
        a4_url=_link("admin-rollout-poster", [tenant.slug], language=language, paper="a4"),
        letter_url=_link("admin-rollout-poster", [tenant.slug], language=language, paper="letter"),
        back_url=_link("admin-rollout", [tenant.slug], language=language),
    )
    response = HttpResponse(html)
    response["Content-Language"] = language
    return response
