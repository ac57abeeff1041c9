"""The tenant's password rules: presets, the API, the admin page and live feedback."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client

from sspr.audit.models import AuditEvent
from sspr.directory.models import User
from sspr.policy.password_policy import password_policy, update_password_policy
from sspr.policy.passwords import PasswordRejected, check_new_password
from tests.conftest import PASSWORD, Api

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin(tenant: Any, make_user: Any) -> User:
    return make_user(tenant, "admin@contoso.com", roles=["global-administrator"])


class TestPresets:
    def test_entra_is_the_default(self, tenant: Any) -> None:
        policy = password_policy(tenant)
        assert (policy.preset, policy.min_length, policy.max_length,
                policy.min_character_classes) == ("entra", 8, 256, 3)

    def test_nist_wants_length_not_composition(self, tenant: Any, alice: User) -> None:
        update_password_policy(tenant, {"preset": "nist"}, actor="t")
        with pytest.raises(PasswordRejected) as short:
            check_new_password(tenant, alice, "Vy7-Kq2-Wp")
        assert [v.code for v in short.value.violations] == ["password_too_short"]
        check_new_password(tenant, alice, "correct horse battery staple lantern")

    def test_each_rule_stays_adjustable_and_marks_custom(self, tenant: Any) -> None:
        policy = update_password_policy(tenant, {"preset": "nist", "min_length": 12}, actor="t")
        assert (policy.preset, policy.min_length) == ("nist", 12)
        policy = update_password_policy(tenant, {"min_length": 10}, actor="t")
        assert policy.preset == "custom"

    def test_changes_are_audited_with_old_and_new(self, tenant: Any) -> None:
        update_password_policy(tenant, {"min_length": 12}, actor="t")
        event = AuditEvent.objects.get(activity="Update password protection policy")
        assert event.details["changes"]["min_length"] == {"old": 8, "new": 12}


class TestApi:
    def test_show_and_change(self, api: Api, admin: User) -> None:
        api.sign_in("contoso", admin.upn)
        shown = api.call("GET", "/tenants/contoso/password-policy")
        assert shown.status_code == 200 and shown.json()["preset"] == "entra"
        changed = api.call("PATCH", "/tenants/contoso/password-policy",
                           {"preset": "nist", "banned_passwords": ["contoso", "blank"],
                            "password_protection": "audit"})
        assert changed.status_code == 200
        body = changed.json()
        assert (body["min_length"], body["min_character_classes"]) == (15, 0)
        assert body["banned_passwords"] == ["contoso", "blank"]
        assert body["password_protection"] == "audit"

    @pytest.mark.parametrize(("body", "field"), [
        ({"min_length": 3}, "min_length"),
        ({"max_length": 2000}, "max_length"),
        ({"min_length": 200, "max_length": 100}, "min_length"),
        ({"preset": "weak"}, "preset"),
        ({"check_banned": "maybe"}, "check_banned"),
        ({"banned_passwords": ["abc"]}, "banned_passwords"),
        ({"colour": "blue"}, "colour"),
    ])
    def test_bad_values_change_nothing(self, api: Api, admin: User, body: dict[str, Any],
                                       field: str) -> None:
        api.sign_in("contoso", admin.upn)
        before = api.call("GET", "/tenants/contoso/password-policy").json()
        refused = api.call("PATCH", "/tenants/contoso/password-policy", body)
        assert refused.status_code == 422 and refused.json()["field"] == field
        assert api.call("GET", "/tenants/contoso/password-policy").json() == before

    def test_only_policy_managers_change(self, api: Api, tenant: Any, make_user: Any) -> None:
        make_user(tenant, "hd@contoso.com", roles=["helpdesk-administrator"])
        api.sign_in("contoso", "hd@contoso.com")
        assert api.call("GET", "/tenants/contoso/password-policy").status_code == 200
        refused = api.call("PATCH", "/tenants/contoso/password-policy", {"min_length": 12})
        assert refused.status_code == 403 and refused.json()["code"] == "forbidden"


class TestLiveFeedback:
    def test_each_rule_with_whether_it_is_met(self, api: Api, tenant: Any) -> None:
        answer = api.call("POST", "/tenants/contoso/password-checks",
                          {"password": "alice", "username": "alice@contoso.com"}).json()
        met = {r["code"]: r["met"] for r in answer["rules"]}
        assert answer["ok"] is False
        assert met["length"] is False and met["character_classes"] is False
        assert met["account_name"] is False
        good = api.call("POST", "/tenants/contoso/password-checks",
                        {"password": "Maple-Lantern-38", "username": "alice@contoso.com"}).json()
        assert good["ok"] is True and all(r["description"] for r in good["rules"])

    def test_the_answer_does_not_depend_on_the_account_existing(
        self, api: Api, alice: User
    ) -> None:
        real = api.call("POST", "/tenants/contoso/password-checks",
                        {"password": "Winter-2024", "username": alice.upn}).json()
        ghost = api.call("POST", "/tenants/contoso/password-checks",
                         {"password": "Winter-2024", "username": "ghost@contoso.com"}).json()
        assert real == ghost

    def test_the_change_page_wires_the_feedback(self, alice: User) -> None:
        browser = Client()
        browser.post("/t/contoso/sign-in", {"username": alice.upn, "password": PASSWORD})
        page = browser.get("/t/contoso/change").content.decode()
        assert 'data-password-feedback="/api/v1/tenants/contoso/password-checks"' in page
        assert "password-feedback.js" in page


class TestAdminPage:
    def test_admin_saves_a_preset_and_a_banned_list(self, admin: User, tenant: Any) -> None:
        browser = Client()
        browser.post("/t/contoso/sign-in", {"username": admin.upn, "password": PASSWORD})
        page = browser.get("/t/contoso/admin/password-protection")
        assert page.status_code == 200 and b"Banned passwords" in page.content
        saved = browser.post("/t/contoso/admin/password-protection", {
            "preset": "nist", "min_length": "8", "max_length": "256",
            "min_character_classes": "3", "forbid_account_name": "on", "check_banned": "on",
            "banned_passwords": "contoso\nblank", "password_protection": "enforce",
            "check_breached": "on"})
        assert saved.status_code == 302
        policy = password_policy(tenant)
        assert (policy.preset, policy.min_length) == ("nist", 15)
        assert b'id="saved"' in browser.get("/t/contoso/admin/password-protection").content

    def test_plain_users_get_the_generic_refusal(self, alice: User) -> None:
        browser = Client()
        browser.post("/t/contoso/sign-in", {"username": alice.upn, "password": PASSWORD})
        assert browser.get("/t/contoso/admin/password-protection").status_code == 403
