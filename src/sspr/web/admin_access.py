"""The "Conditional access" admin pages: the policies (who, where, what is decided) and the
what-if tool.

Every administrator may look and ask what-if; Global and Authentication Policy Administrators
create, change and delete policies. Settings go to `sspr.access.access_policies` in the same
words the API and `sspr access-policy` use; it checks them and audits each change.
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_http_methods

from sspr.access import access_policies
from sspr.access.locations import list_locations
from sspr.access.models import AccessPolicy, Action
from sspr.access.what_if import what_if
from sspr.directory.models import Credential, Group, Tenant
from sspr.directory.roles import Role, can_manage_policy
from sspr.errors import DomainError
from sspr.web.admin_forms import Editable, SettingsForm, edit_page, show_refusal, split_lines
from sspr.web.admin_pages import admin_page
from sspr.web.admin_users import admin_subpage, not_found

NOTICE = "sspr_admin_access_notice"
SECTION = "conditional-access"
ROLES = [(r.value, r.label) for r in Role]
ACTION_LABELS = dict(Action.choices)
STATE_LABELS = dict(AccessPolicy.State.choices)
WHERE_LABELS = dict(AccessPolicy.Where.choices)
DECISION_LABELS = dict(AccessPolicy.Decision.choices)
RESULT_LABELS = {**DECISION_LABELS, "not_applied": "Does not apply"}
MEMBERS = ("groups", "roles", "users")


def _radio(label: str, choices: Any) -> forms.ChoiceField:
    return forms.ChoiceField(label=label, choices=choices, widget=forms.RadioSelect)


def _users(label: str) -> forms.CharField:
    return forms.CharField(
        label=label,
        required=False,
        widget=forms.Textarea(attrs={"rows": 3, "cols": 40}),
    )


def _groups(label: str) -> forms.MultipleChoiceField:
    return forms.MultipleChoiceField(
        label=label,
        required=False,
        widget=forms.SelectMultiple(attrs={"size": 5, "aria-describedby": "groups-help"}),
    )


def _roles(label: str) -> forms.MultipleChoiceField:
    return forms.MultipleChoiceField(
        label=label, required=False, choices=ROLES, widget=forms.CheckboxSelectMultiple
    )


class AccessPolicyForm(SettingsForm):
    name = forms.CharField(label="Name", max_length=200)
    action = _radio("When a user wants to", Action.choices)
    state = _radio("State", AccessPolicy.State.choices)
    include_all = _radio(
        "Include", [("all", "All users"), ("selected", "Selected groups, roles and users")]
    )
    include_groups = _groups("Included groups")
    include_roles = _roles("Included roles")
    include_users = _users("Included users (user names, one per line)")
    exclude_groups = _groups("Excluded groups")
    exclude_roles = _roles("Excluded roles")
    exclude_users = _users("Excluded users (user names, one per line)")
    where = _radio("Where from", AccessPolicy.Where.choices)
    locations = forms.MultipleChoiceField(
        label="Selected locations", required=False, widget=forms.CheckboxSelectMultiple
    )
    decision = _radio("Decision", AccessPolicy.Decision.choices)

    def choose(self, tenant: Tenant | None) -> None:
        assert tenant is not None
        groups = list(
            Group.objects.filter(tenant=tenant).order_by("name").values_list("name", flat=True)
        )
        for key in ("include_groups", "exclude_groups"):
            field = self.fields[key]
            assert isinstance(field, forms.MultipleChoiceField)
            field.choices = [(g, g) for g in groups]
        places = self.fields["locations"]
        assert isinstance(places, forms.MultipleChoiceField)
        places.choices = [
            (loc.name, f"{loc.name}{' (trusted)' if loc.trusted else ''}")
            for loc in list_locations(tenant)
        ]

    @staticmethod
    def initial_from(policy: AccessPolicy | None) -> dict[str, Any]:
        if policy is None:  # what a new policy starts as: see what it would do first
            return {
                "action": Action.REGISTER_SECURITY_INFO,
                "state": AccessPolicy.State.REPORT_ONLY,
                "include_all": "all",
                "where": AccessPolicy.Where.UNTRUSTED,
                "decision": AccessPolicy.Decision.REQUIRE_METHOD,
            }
        values = access_policies.as_dict(policy)
        values["include_all"] = "all" if policy.include_all else "selected"
        for key in ("include_users", "exclude_users"):
            values[key] = "\n".join(values[key])
        return values

    def settings(self) -> dict[str, Any]:
        data = dict(self.cleaned_data)
        data["include_all"] = data["include_all"] == "all"
        for key in ("include_users", "exclude_users"):
            data[key] = split_lines(data[key])
        return data


def _context(credential: Credential, **extra: Any) -> dict[str, Any]:
    user = credential.user
    return {
        "tenant": user.tenant,
        "user": user,
        "section": SECTION,
        "can_manage": can_manage_policy(user.roles),
        "error": "",
        **extra,
    }


def _names(values: dict[str, Any], prefix: str) -> list[str]:
    parts = []
    for kind in MEMBERS:
        names = values[f"{prefix}_{kind}"]
        if kind == "roles":
            names = [Role(r).label for r in names]
        if names:
            parts.append(f"{kind}: {', '.join(names)}")
    return parts


def who(values: dict[str, Any]) -> str:
    """The policy's users in a line: "All users except groups: Contractors"."""
    included = "All users" if values["include_all"] else "; ".join(_names(values, "include"))
    excluded = "; ".join(_names(values, "exclude"))
    return f"{included or 'Nobody'}{f' except {excluded}' if excluded else ''}"


def where(values: dict[str, Any]) -> str:
    label = WHERE_LABELS.get(values["where"], values["where"])
    return f"{label}: {', '.join(values['locations'])}" if values["locations"] else label


def _row(policy: AccessPolicy) -> dict[str, Any]:
    values = access_policies.as_dict(policy)
    return {
        "policy": policy,
        "action": ACTION_LABELS.get(policy.action, policy.action),
        "state": STATE_LABELS.get(policy.state, policy.state),
        "who": who(values),
        "where": where(values),
        "decision": DECISION_LABELS.get(policy.decision, policy.decision),
    }


@admin_page  # first: to anyone else every method is refused alike
@require_http_methods(["GET", "HEAD"])
def policies_page(request: HttpRequest, credential: Credential) -> HttpResponse:
    tenant = credential.user.tenant
    return render(
        request,
        "sspr/admin/access_policies.html",
        _context(
            credential,
            rows=[_row(p) for p in access_policies.list_policies(tenant)],
            notice=request.session.pop(NOTICE, ""),
        ),
    )


POLICY = Editable(
    noun="policy",
    key="policy",
    template="sspr/admin/access_policy.html",
    section=SECTION,
    back="admin-access-policies",
    notice=NOTICE,
    form=AccessPolicyForm,
    initial=AccessPolicyForm.initial_from,
    create=lambda tenant, settings, actor: access_policies.create_access_policy(
        tenant, settings, actor=actor
    ),
    update=lambda tenant, pk, settings, actor: access_policies.update_access_policy(
        tenant, pk, settings, actor=actor
    ),
    delete=lambda tenant, pk, actor: access_policies.delete_access_policy(tenant, pk, actor=actor),
    read_only=(
        "Only Global Administrators and Authentication Policy Administrators can change "
        "conditional access policies."
    ),
)


@admin_subpage
@require_http_methods(["GET", "HEAD", "POST"])
def policy_page(
    request: HttpRequest, credential: Credential, policy_id: int | None = None
) -> HttpResponse:
    """A new policy (no id) or one policy: change it, or delete it."""
    policy = None
    if policy_id is not None:
        policy = AccessPolicy.objects.filter(tenant=credential.user.tenant, pk=policy_id).first()
        if policy is None:
            return not_found(request, credential, "There is no such policy here.")
    return edit_page(request, credential, POLICY, policy)


class WhatIfForm(forms.Form):
    user = forms.CharField(
        label="User name",
        max_length=256,
        widget=forms.TextInput(attrs={"autocomplete": "off", "placeholder": "someone@example.com"}),
    )
    address = forms.CharField(
        label="IP address the user comes from",
        max_length=64,
        widget=forms.TextInput(attrs={"autocomplete": "off", "placeholder": "203.0.113.7"}),
    )
    action = _radio("When the user wants to", Action.choices)


def _answer(found: dict[str, Any]) -> dict[str, Any]:
    """The what-if answer with labels a person reads."""
    return {
        **found,
        "decision_label": DECISION_LABELS.get(found["decision"], found["decision"]),
        "report_only_label": DECISION_LABELS.get(
            found["report_only_decision"], found["report_only_decision"]
        ),
        "action_label": ACTION_LABELS.get(found["action"], found["action"]),
        "rows": [
            {
                **p,
                "state_label": STATE_LABELS.get(p["state"], p["state"]),
                "result_label": RESULT_LABELS.get(p["result"], p["result"]),
            }
            for p in found["policies"]
        ],
    }


@admin_page  # first: to anyone else every method is refused alike
@require_http_methods(["GET", "HEAD", "POST"])
def what_if_page(request: HttpRequest, credential: Credential) -> HttpResponse:
    """Which policies would apply to a user from an address, and why; nothing is recorded."""
    tenant = credential.user.tenant
    context = _context(credential, answer=None)
    status = 200
    if request.method == "POST":
        form = WhatIfForm(request.POST)
        if not form.is_valid():
            context["error"], status = "Name a user, an address and an action.", 400
        else:
            data = form.cleaned_data
            try:
                found = what_if(tenant, data["user"], data["address"], data["action"])
            except DomainError as refused:
                if refused.code == "not_found":
                    refused.details["field"] = "user"
                show_refusal(form, refused)
                context["error"], status = refused.message, 400
            else:
                context["answer"] = _answer(found.as_dict())
    else:
        form = WhatIfForm(initial={"action": Action.REGISTER_SECURITY_INFO})
    context["form"] = form
    return render(request, "sspr/admin/what_if.html", context, status=status)
