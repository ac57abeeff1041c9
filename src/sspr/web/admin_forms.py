"""What the admin pages' forms share: entries typed one per line, a domain refusal shown next
to the field it is about, and the create / change / delete page of a policy-like thing."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django import forms
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse

from sspr.directory.models import Credential, Tenant, User
from sspr.directory.roles import can_manage_policy
from sspr.errors import DomainError

# Domain refusals that belong to a field although they do not name one.
FIELD_OF_CODE = {"location_name_taken": "name", "policy_name_taken": "name"}


def show_refusal(form: forms.Form, refused: DomainError) -> str:
    """Put a domain refusal next to its field (or above the form); the page's error line."""
    field = refused.details.get("field") or FIELD_OF_CODE.get(refused.code)
    form.add_error(field if field in form.fields else None, refused.message)
    return f"Nothing was saved. {refused.message}"


def split_lines(text: str) -> list[str]:
    """Entries typed one per line (commas and spaces separate them too)."""
    return [item for item in re.split(r"[\s,;]+", text) if item]


class SettingsForm(forms.Form):
    """A form whose cleaned data become the settings a domain function takes."""

    def __init__(
        self, *args: Any, tenant: Tenant | None = None, read_only: bool = False, **kwargs: Any
    ) -> None:
        super().__init__(*args, **kwargs)
        self.tenant = tenant
        self.choose(tenant)
        for field in self.fields.values():
            # A disabled field shows its value and ignores whatever is posted for it.
            field.disabled = read_only

    def choose(self, tenant: Tenant | None) -> None:
        """Fill in the choices that are the tenant's own (groups, locations)."""

    def settings(self) -> dict[str, Any]:
        return dict(self.cleaned_data)


@dataclass(frozen=True)
class Editable:
    """A kind of thing the policy managers create, change and delete on an admin page, through
    the domain's functions (which check and audit); every administrator may look."""

    noun: str  # "named location": in the notices
    key: str  # the context name of the one being edited
    template: str
    section: str
    back: str  # the URL name of the list
    notice: str  # the session key of the notice the list shows once
    form: Callable[..., SettingsForm]  # (data, tenant=, initial=, read_only=)
    initial: Callable[[Any], dict[str, Any]]
    create: Callable[[Tenant, dict[str, Any], User], Any]
    update: Callable[[Tenant, int, dict[str, Any], User], Any]
    delete: Callable[[Tenant, int, User], None]
    read_only: str  # the refusal of a change by someone else


def _apply(request: HttpRequest, user: User, what: Editable, found: Any, form: SettingsForm) -> str:
    """Create or change from the valid `form`; the page's error, "" when saved."""
    try:
        if found is None:
            saved = what.create(user.tenant, form.settings(), user)
            done = "created"
        else:
            saved = what.update(user.tenant, found.pk, form.settings(), user)
            done = "saved"
    except DomainError as refused:
        return show_refusal(form, refused)
    request.session[what.notice] = f"The {what.noun} {saved.name} was {done}."
    return ""


def edit_page(
    request: HttpRequest, credential: Credential, what: Editable, found: Any
) -> HttpResponse:
    """A new one (`found` None) or an existing one: show it, change it, or delete it."""
    user = credential.user
    tenant = user.tenant
    can_manage = can_manage_policy(user.roles)
    context: dict[str, Any] = {
        "tenant": tenant,
        "user": user,
        "section": what.section,
        "can_manage": can_manage,
        "error": "",
        what.key: found,
    }
    form = what.form(None, tenant=tenant, initial=what.initial(found), read_only=not can_manage)
    status = 200
    back = redirect(reverse(what.back, args=[tenant.slug]))
    if request.method == "POST":
        if not can_manage:
            context["error"], status = what.read_only, 403
        elif request.POST.get("delete") and found is not None:
            try:
                what.delete(tenant, found.pk, user)
            except DomainError as refused:
                context["error"], status = f"Not deleted. {refused.message}", refused.status
            else:
                request.session[what.notice] = f"The {what.noun} {found.name} was deleted."
                return back
        else:
            form = what.form(request.POST, tenant=tenant)
            if not form.is_valid():
                context["error"], status = "Some settings are not valid; nothing was saved.", 400
            else:
                context["error"] = _apply(request, user, what, found, form)
                if not context["error"]:
                    return back
                status = 400
    context["form"] = form
    return render(request, what.template, context, status=status)
