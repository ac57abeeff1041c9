"""The "Password reset" admin page: policy managers see and save the policy with its impact,
other administrators only look, everyone else is refused without a hint of what is there."""

from __future__ import annotations

import re
from typing import Any

import pytest
from django.test import Client

from sspr.audit.models import AuditEvent
from sspr.directory.groups import create_group
from sspr.directory.models import Tenant, User
from sspr.methods.models import RegisteredMethod
from sspr.policy.sspr_policy import as_dict, get_policy, update_policy
from tests.conftest import browser, csrf_token

pytestmark = pytest.mark.django_db

PAGE = "/t/contoso/admin/password-reset"
HOME = "/t/contoso/admin/"
ACTIVITY = "Update self-service password reset policy"


def checked(html: str, name: str) -> list[str]:
    """The values of the ticked radio buttons or boxes called `name`."""
    tags = re.findall(rf'<input type="(?:radio|checkbox)" name="{name}"[^>]*>', html)
    return [re.findall(r'value="([^"]*)"', t)[0] for t in tags if " checked" in t]


def form_of(policy: dict[str, Any], **changes: Any) -> dict[str, Any]:
    """What the browser posts for `policy` with `changes`: unticked boxes are simply absent."""
    values = {**policy, **changes}
    data: dict[str, Any] = {
        "enabled_for": values["enabled_for"],
        "enabled_groups": values["enabled_groups"],
        "methods_required": values["methods_required"],
        "methods_enabled": values["methods_enabled"],
        "questions_to_register": values["questions_to_register"],
        "questions_to_reset": values["questions_to_reset"],
        "custom_questions": "\n".join(values["custom_questions"]),
        "sms_daily_limit": values["sms_daily_limit"],
        "reconfirm_days": values["reconfirm_days"],
        "helpdesk_url": values["helpdesk_url"],
        "action": values.get("action", "save"),
    }
    for flag in (
        "registration_required",
        "notify_users",
        "notify_admins",
        "writeback_enabled",
        "unlock_enabled",
    ):
        if values[flag]:
            data[flag] = "on"
    return data


def post(client: Client, tenant: Tenant, **changes: Any) -> Any:
    token = csrf_token(client.get(PAGE).content.decode())
    data = form_of(as_dict(get_policy(tenant)), **changes)
    return client.post(PAGE, {**data, "csrfmiddlewaretoken": token})


@pytest.fixture
def people(tenant: Tenant, make_user: Any) -> dict[str, User]:
    users = {
        "ga": make_user(tenant, "ga@contoso.com", roles=["global-administrator"]),
        "help": make_user(tenant, "help@contoso.com", roles=["helpdesk-administrator"]),
        "ann": make_user(tenant, "ann@contoso.com"),
        "bob": make_user(tenant, "bob@contoso.com"),
    }
    for name in ("ann", "bob"):
        RegisteredMethod.objects.create(
            user=users[name], method="email", state="active", value=users[name].upn
        )
    create_group(tenant, "Staff", ["ann@contoso.com"])
    update_policy(tenant, {"enabled_for": "all"}, actor="setup")
    return users


class TestViewing:
    def test_an_administrator_finds_the_page_from_the_admin_home(self, people: Any) -> None:
        client = browser("ga@contoso.com")
        home = client.get(HOME)
        assert home.status_code == 200
        assert f'href="{PAGE}"' in home.content.decode()
        assert "Password reset" in home.content.decode()

    def test_the_form_has_every_section_labelled(self, people: Any) -> None:
        response = browser("ga@contoso.com").get(PAGE)
        assert response.status_code == 200
        html = response.content.decode()
        for legend in (
            "Properties",
            "Authentication methods",
            "Registration",
            "Notifications",
            "Customization",
            "On-premises integration",
        ):
            assert f"<legend>{legend}</legend>" in html
        assert "No on-premises writeback client is connected." in html
        assert '<option value="Staff">Staff</option>' in html
        assert checked(html, "enabled_for") == ["all"]
        assert checked(html, "methods_enabled") == ["email", "sms", "totp"]
        for input_id in re.findall(r'<(?:input|select|textarea)[^>]* id="([^"]+)"', html):
            assert f'for="{input_id}"' in html, f"no label for {input_id}"
        # The Content-Security-Policy allows no inline script or style.
        assert "<script" not in html and "style=" not in html and "<style" not in html
        assert "script-src 'self'" in response["Content-Security-Policy"]

    def test_a_helpdesk_administrator_sees_it_read_only(self, people: Any) -> None:
        html = browser("help@contoso.com").get(PAGE).content.decode()
        assert "Only Global Administrators and Authentication Policy Administrators" in html
        assert re.search(r'<input type="radio" name="enabled_for"[^>]* disabled', html)
        assert re.search(r'<button type="submit" name="action" value="save"[^>]*disabled', html)

    def test_a_helpdesk_administrator_cannot_save(self, people: Any, tenant: Tenant) -> None:
        response = post(browser("help@contoso.com"), tenant, enabled_for="none")
        assert response.status_code == 403
        assert get_policy(tenant).enabled_for == "all"

    @pytest.mark.parametrize("path", [HOME, PAGE])
    def test_a_plain_user_is_refused_without_a_hint(self, people: Any, path: str) -> None:
        response = browser("ann@contoso.com").get(path)
        assert response.status_code == 403
        html = response.content.decode()
        assert "You do not have access to this page." in html
        assert "Password reset" not in html and "policy" not in html.lower()

    def test_a_plain_user_cannot_post_either(self, people: Any, tenant: Tenant) -> None:
        client = browser("ann@contoso.com")
        token = csrf_token(client.get("/t/contoso/account").content.decode())
        data = form_of(as_dict(get_policy(tenant)), enabled_for="none")
        response = client.post(PAGE, {**data, "csrfmiddlewaretoken": token})
        assert response.status_code == 403
        assert "You do not have access to this page." in response.content.decode()
        assert get_policy(tenant).enabled_for == "all"

    def test_visitors_are_sent_to_sign_in(self, people: Any) -> None:
        response = Client().get(PAGE)
        assert (response.status_code, response["Location"]) == (302, "/t/contoso/sign-in")


class TestSaving:
    def test_a_global_administrator_saves_and_sees_the_impact(
        self, people: Any, tenant: Tenant
    ) -> None:
        client = browser("ga@contoso.com")
        response = post(
            client,
            tenant,
            enabled_for="selected",
            enabled_groups=["Staff"],
            custom_questions=["Our first office?", "Favourite lunch spot?"],
            notify_admins=True,
        )
        assert (response.status_code, response["Location"]) == (302, PAGE)
        policy = as_dict(get_policy(tenant))
        assert policy["enabled_for"] == "selected"
        assert policy["enabled_groups"] == ["Staff"]
        assert policy["custom_questions"] == ["Our first office?", "Favourite lunch spot?"]
        assert policy["notify_admins"] is True
        event = AuditEvent.objects.filter(activity=ACTIVITY).first()
        assert event is not None and event.actor == "ga@contoso.com"
        assert event.details["changes"]["enabled_for"] == {"old": "all", "new": "selected"}

        shown = client.get(PAGE).content.decode()
        assert "The password reset policy was saved." in shown
        assert "1 user could no longer reset their password under this policy." in shown
        assert "For example: bob@contoso.com." in shown
        # The message is shown once.
        assert "was saved" not in client.get(PAGE).content.decode()

    def test_preview_shows_the_impact_and_saves_nothing(self, people: Any, tenant: Tenant) -> None:
        response = post(browser("ga@contoso.com"), tenant, enabled_for="none", action="preview")
        assert response.status_code == 200
        html = response.content.decode()
        assert "2 users could no longer reset their password under this policy." in html
        assert "ann@contoso.com, bob@contoso.com" in html
        # The previewed choice stays in the form, ready to save.
        assert checked(html, "enabled_for") == ["none"]
        assert get_policy(tenant).enabled_for == "all"
        assert AuditEvent.objects.filter(activity=ACTIVITY).count() == 1  # the fixture's

    def test_an_authentication_policy_administrator_may_save(
        self, tenant: Tenant, make_user: Any, people: Any
    ) -> None:
        make_user(tenant, "apa@contoso.com", roles=["authentication-policy-administrator"])
        response = post(browser("apa@contoso.com"), tenant, reconfirm_days=30)
        assert response.status_code == 302
        assert get_policy(tenant).reconfirm_days == 30

    @pytest.mark.parametrize(
        ("changes", "message"),
        [
            ({"methods_enabled": ["totp"]}, "The authenticator app cannot be the only method"),
            ({"questions_to_reset": 5}, "cannot exceed the number to register"),
            ({"enabled_for": "selected", "enabled_groups": []}, "Choose at least one group"),
            ({"methods_required": 2, "methods_enabled": ["email"]}, "2 methods are required"),
            ({"custom_questions": ["Same?", "SAME?"]}, "asked twice"),
            ({"sms_daily_limit": 2_000_000}, "from 0 to 1,000,000"),
        ],
    )
    def test_an_invalid_combination_is_explained_and_nothing_saved(
        self, people: Any, tenant: Tenant, changes: dict[str, Any], message: str
    ) -> None:
        before = as_dict(get_policy(tenant))
        response = post(browser("ga@contoso.com"), tenant, notify_admins=True, **changes)
        assert response.status_code == 400
        html = response.content.decode()
        assert 'id="policy-error"' in html and "Nothing was saved." in html
        assert html.count(message) == 2  # in the summary and next to its setting
        assert as_dict(get_policy(tenant)) == before
        assert AuditEvent.objects.filter(activity=ACTIVITY).count() == 1

    def test_a_form_without_its_csrf_token_is_refused(self, people: Any, tenant: Tenant) -> None:
        client = browser("ga@contoso.com")
        data = form_of(as_dict(get_policy(tenant)), enabled_for="none")
        response = client.post(PAGE, data)
        assert response.status_code == 403
        assert get_policy(tenant).enabled_for == "all"
        forged = client.post(PAGE, {**data, "csrfmiddlewaretoken": "x" * 64})
        assert forged.status_code == 403
        assert get_policy(tenant).enabled_for == "all"
