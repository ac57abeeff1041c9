"""Administration pages: the admin home and the "Password reset" blade (the SSPR policy).

Thin like the end-user pages: the form parses, the policy module checks and saves, the template
shows. Every administrator may look; only policy managers may change or preview.
"""

from __future__ import annotations

from functools import wraps
from typing import Any

from django import forms
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_http_methods

from sspr.directory.models import Credential, Group, Tenant
from sspr.directory.roles import can_manage_policy, is_admin
from sspr.errors import DomainError
from sspr.hybrid.status import status_line
from sspr.methods.registry import METHOD_CLASSES
from sspr.policy.models import SsprPolicy
from sspr.policy.sspr_policy import (
    METHODS,
    as_dict,
    get_policy,
    preview_impact,
    update_policy_with_impact,
)
from sspr.web.access_pages import admin_portal_gate
from sspr.web.errors import permission_denied
from sspr.web.pages import SignedInView, signed_in

# The impact of the last save, shown once by the page the browser is sent back to.
SAVED_IMPACT = "sspr_admin_policy_saved"


def _method_label(name: str) -> str:
    method = METHOD_CLASSES.get(name)
    return method.label if method is not None else name


def _numbers(*values: int) -> list[tuple[int, str]]:
    return [(v, str(v)) for v in values]


class PasswordResetPolicyForm(forms.Form):
    """The settings of the blade; ranges and combinations are the policy module's to check."""

    enabled_for = forms.ChoiceField(
        label="Self-service password reset enabled for",
        choices=[("none", "None"), ("selected", "Selected groups"), ("all", "All users")],
        widget=forms.RadioSelect,
    )
    enabled_groups = forms.MultipleChoiceField(
        label="Groups",
        required=False,
        widget=forms.SelectMultiple(attrs={"size": 6, "aria-describedby": "groups-help"}),
    )
    methods_required = forms.TypedChoiceField(
        label="Number of methods required to reset",
        choices=_numbers(1, 2),
        coerce=int,
        widget=forms.RadioSelect,
    )
    methods_enabled = forms.MultipleChoiceField(
        label="Methods available to users",
        required=False,
        choices=[(m, _method_label(m)) for m in METHODS],
        widget=forms.CheckboxSelectMultiple,
    )
    questions_to_register = forms.TypedChoiceField(
        label="Number of questions required to register", choices=_numbers(3, 4, 5), coerce=int
    )
    questions_to_reset = forms.TypedChoiceField(
        label="Number of questions required to reset", choices=_numbers(3, 4, 5), coerce=int
    )
    custom_questions = forms.CharField(
        label="Custom security questions, one per line (up to 20, each at most 200 characters)",
        required=False,
        strip=False,
        widget=forms.Textarea(attrs={"rows": 5, "cols": 40}),
    )
    sms_daily_limit = forms.IntegerField(
        label="Text messages the organisation may send a day",
        widget=forms.NumberInput(attrs={"min": 0, "max": 1_000_000}),
    )
    registration_required = forms.BooleanField(
        label="Require users to register when signing in", required=False
    )
    reconfirm_days = forms.IntegerField(
        label="Days before users are asked to re-confirm their methods (0 = never)",
        widget=forms.NumberInput(attrs={"min": 0, "max": 730}),
    )
    notify_users = forms.BooleanField(label="Notify users on password resets", required=False)
    notify_admins = forms.BooleanField(
        label="Notify all admins when other admins reset their password", required=False
    )
    helpdesk_url = forms.CharField(
        label="Custom helpdesk email or URL", required=False, max_length=512
    )
    writeback_enabled = forms.BooleanField(
        label="Write back passwords to your on-premises directory", required=False
    )
    unlock_enabled = forms.BooleanField(
        label="Allow users to unlock accounts without resetting their password", required=False
    )

    def __init__(self, *args: Any, groups: list[str], read_only: bool, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        groups_field = self.fields["enabled_groups"]
        assert isinstance(groups_field, forms.MultipleChoiceField)
        groups_field.choices = [(name, name) for name in groups]
        for field in self.fields.values():
            # A disabled field shows its value and ignores whatever is posted for it.
            field.disabled = read_only

    @classmethod
    def initial_from(cls, policy: SsprPolicy) -> dict[str, Any]:
        values = as_dict(policy)
        values["custom_questions"] = "\n".join(values["custom_questions"])
        return {name: values[name] for name in cls.base_fields}

    def changes(self) -> dict[str, Any]:
        return {name: self.cleaned_data[name] for name in self.fields}


def admin_page(view: SignedInView) -> Any:
    """Signed-in administrators of the tenant only; anyone else gets the generic refusal."""

    @signed_in
    @wraps(view)
    def wrapper(request: HttpRequest, credential: Credential) -> HttpResponse:
        user = credential.user
        if user.must_change_password:
            return redirect(reverse("change", args=[user.tenant.slug]))
        if not is_admin(user.roles):
            return permission_denied(request)
        refused = admin_portal_gate(request, credential)
        if refused is not None:
            return refused
        return view(request, credential)

    return wrapper


def _context(credential: Credential, section: str, **extra: Any) -> dict[str, Any]:
    user = credential.user
    return {"tenant": user.tenant, "user": user, "section": section, **extra}


@admin_page  # first: to anyone else every method is refused alike
@require_http_methods(["GET", "HEAD"])
def admin_home(request: HttpRequest, credential: Credential) -> HttpResponse:
    policy = get_policy(credential.user.tenant)
    return render(
        request,
        "sspr/admin/home.html",
        _context(credential, "home", enabled_for=policy.get_enabled_for_display()),
    )


def _group_names(tenant: Tenant) -> list[str]:
    return list(Group.objects.filter(tenant=tenant).order_by("name").values_list("name", flat=True))


@admin_page  # first: to anyone else every method is refused alike
@require_http_methods(["GET", "HEAD", "POST"])
def policy_page(request: HttpRequest, credential: Credential) -> HttpResponse:
    user = credential.user
    tenant = user.tenant
    can_manage = can_manage_policy(user.roles)
    policy = get_policy(tenant)
    options: dict[str, Any] = {
        "groups": _group_names(tenant),
        "read_only": not can_manage,
        "initial": PasswordResetPolicyForm.initial_from(policy),
    }
    context = _context(
        credential,
        "password-reset",
        can_manage=can_manage,
        writeback_status=status_line(tenant),
        error="",
        impact=None,
        saved=False,
    )
    status = 200
    if request.method != "POST":
        form = PasswordResetPolicyForm(**options)
        saved = request.session.pop(SAVED_IMPACT, None)
        if saved is not None:
            context.update(saved=True, impact=saved)
    elif not can_manage:
        form = PasswordResetPolicyForm(**options)
        context["error"] = (
            "You can view this policy, but only Global Administrators and Authentication Policy "
            "Administrators can change it."
        )
        status = 403
    else:
        form = PasswordResetPolicyForm(request.POST, **options)
        if not form.is_valid():
            context["error"] = "Some settings are not valid; nothing was saved."
            status = 400
        else:
            try:
                if request.POST.get("action") == "preview":
                    context["impact"] = preview_impact(tenant, form.changes())
                else:
                    update = update_policy_with_impact(tenant, form.changes(), user)
                    request.session[SAVED_IMPACT] = update.impact
                    return redirect(reverse("admin-policy", args=[tenant.slug]))
            except DomainError as refused:
                field = refused.details.get("field")
                form.add_error(field if field in form.fields else None, refused.message)
                context["error"] = f"Nothing was saved. {refused.message}"
                status = 400
    context["form"] = form
    return render(request, "sspr/admin/password_reset.html", context, status=status)
