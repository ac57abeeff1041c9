"""The "Password protection" admin page: the tenant's password rules and banned list."""

from __future__ import annotations

from typing import Any

from django import forms
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_http_methods

from sspr.directory.models import Credential
from sspr.directory.roles import can_manage_policy
from sspr.errors import DomainError
from sspr.policy.password_policy import as_dict, password_policy, update_password_policy
from sspr.web.admin_pages import admin_page

SAVED = "sspr_admin_protection_saved"


class PasswordProtectionForm(forms.Form):
    preset = forms.ChoiceField(
        label="Start from",
        choices=[
            ("entra", "Entra-compatible: 8-256 characters, 3 of 4 character kinds"),
            ("nist", "NIST SP 800-63B-4: 15 or more characters, no composition rules"),
            ("custom", "Custom: the values below"),
        ],
        widget=forms.RadioSelect,
    )
    min_length = forms.IntegerField(label="Minimum length", min_value=4, max_value=256)
    max_length = forms.IntegerField(label="Maximum length", min_value=64, max_value=1024)
    min_character_classes = forms.IntegerField(
        label="Character kinds required (lower-case, upper-case, digits, symbols; 0 = none)",
        min_value=0,
        max_value=4,
    )
    forbid_account_name = forms.BooleanField(
        label="Refuse passwords containing the account name", required=False
    )
    check_banned = forms.BooleanField(label="Refuse common and banned passwords", required=False)
    banned_passwords = forms.CharField(
        label="Custom banned passwords, one per line (up to 1,000, each 4-16 characters)",
        required=False,
        widget=forms.Textarea(attrs={"rows": 6, "cols": 30}),
    )
    password_protection = forms.ChoiceField(
        label="Mode",
        widget=forms.RadioSelect,
        choices=[
            ("enforce", "Enforce: refuse banned passwords"),
            ("audit", "Audit: accept them, and record that they would have been refused"),
        ],
    )
    check_breached = forms.BooleanField(
        label="Refuse passwords known from data breaches", required=False
    )
    breached_online = forms.BooleanField(
        label="Also ask Have I Been Pwned (only the first 5 characters of the password's SHA-1 "
        "leave this server)",
        required=False,
    )
    breached_fail_closed = forms.BooleanField(
        label="Refuse passwords while that online check cannot answer", required=False
    )

    def __init__(self, *args: Any, read_only: bool, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        for field in self.fields.values():
            field.disabled = read_only

    def changes(self) -> dict[str, Any]:
        data = dict(self.cleaned_data)
        data["banned_passwords"] = [t for t in data["banned_passwords"].split() if t]
        if data["preset"] == "custom":
            data.pop("preset")
        else:  # a preset decides the numbers it covers
            for key in ("min_length", "max_length", "min_character_classes"):
                data.pop(key)
        return data


@admin_page
@require_http_methods(["GET", "HEAD", "POST"])
def protection_page(request: HttpRequest, credential: Credential) -> HttpResponse:
    user = credential.user
    tenant = user.tenant
    can_manage = can_manage_policy(user.roles)
    current = as_dict(password_policy(tenant))
    initial = {**current, "banned_passwords": "\n".join(current["banned_passwords"])}
    context: dict[str, Any] = {
        "tenant": tenant,
        "user": user,
        "section": "protection",
        "can_manage": can_manage,
        "error": "",
        "saved": request.session.pop(SAVED, False),
    }
    status = 200
    form = PasswordProtectionForm(
        request.POST if request.method == "POST" else None,
        initial=initial,
        read_only=not can_manage,
    )
    if request.method == "POST":
        if not can_manage:
            context["error"] = (
                "Only Global Administrators and Authentication Policy "
                "Administrators can change the password rules."
            )
            status = 403
        elif not form.is_valid():
            context["error"], status = "Some settings are not valid; nothing was saved.", 400
        else:
            try:
                update_password_policy(tenant, form.changes(), user)
            except DomainError as refused:
                context["error"], status = f"Nothing was saved. {refused.message}", 400
            else:
                request.session[SAVED] = True
                return redirect(reverse("admin-protection", args=[tenant.slug]))
    context["form"] = form
    return render(request, "sspr/admin/password_protection.html", context, status=status)
