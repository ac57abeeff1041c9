"""The eligibility explainer: "can this user reset right now, and if not, why", in one answer."""

from __future__ import annotations

from typing import Any

import pytest
from django.core import mail

from sspr.directory.groups import create_group
from sspr.directory.models import RoleAssignment, Source, Tenant, User
from sspr.policy.sspr_policy import update_policy
from tests.conftest import Api
from tests.reset_helpers import register_email, register_questions, reset_for_all

pytestmark = pytest.mark.django_db

ANSWERS = {
    "What was the name of your first pet?": "Rex the dog",
    "What is your favourite food?": "Lasagne",
    "What was your childhood nickname?": "Sparky",
}


@pytest.fixture
def sspr_on(tenant: Tenant) -> Tenant:
    return reset_for_all(tenant, "email,sms,questions")


@pytest.fixture
def desk(api: Api, sspr_on: Tenant, make_user: Any) -> Api:
    """The API as a Helpdesk Administrator of Contoso."""
    make_user(sspr_on, "desk@contoso.com", roles=["helpdesk-administrator"])
    api.sign_in("contoso", "desk@contoso.com")
    return api


def explain(api: Api, upn: str, tenant: str = "contoso") -> Any:
    return api.call("GET", f"/tenants/{tenant}/users/{upn}/eligibility")


def check(body: dict[str, Any], name: str) -> dict[str, Any]:
    return next(c for c in body["checks"] if c["name"] == name)


def failing(body: dict[str, Any]) -> set[str]:
    return {c["name"] for c in body["checks"] if not c["ok"]}


class TestEligible:
    def test_a_registered_user_in_scope_can_reset_and_every_check_says_why(
        self, desk: Api, alice: User
    ) -> None:
        """A yes also names the methods; every check has a plain-words detail."""
        register_email(alice)
        body = explain(desk, alice.upn).json()
        assert body["eligible"] is True and body["reasons"] == [] and failing(body) == set()
        assert body["summary"].startswith("alice@contoso.com can reset their password now")
        assert body["methods_usable"] == ["email"] and body["methods_required"] == 1
        assert [c["name"] for c in body["checks"]] == [
            "plan",
            "account_enabled",
            "in_scope",
            "admin_policy",
            "methods",
            "blocked",
            "locked",
            "writeback",
            "agent",
        ]
        assert all(c["detail"] for c in body["checks"])


class TestReasons:
    def test_not_in_scope_names_the_groups(self, desk: Api, sspr_on: Tenant, alice: User) -> None:
        register_email(alice)
        create_group(sspr_on, "SSPR pilot", [])
        update_policy(
            sspr_on, {"enabled_for": "selected", "enabled_groups": "SSPR pilot"}, actor="test"
        )
        body = explain(desk, alice.upn).json()
        assert body["eligible"] is False and body["reasons"] == ["not_in_scope"]
        assert body["enabled_for"] == "selected" and body["scope_groups"] == ["SSPR pilot"]
        assert "SSPR pilot" in check(body, "in_scope")["detail"]
        assert "in none of them" in body["summary"]

    def test_nested_group_membership_counts(self, desk: Api, sspr_on: Tenant, alice: User) -> None:
        register_email(alice)
        create_group(sspr_on, "Sales", [alice.upn])
        create_group(sspr_on, "Everyone", [], ["Sales"])
        update_policy(
            sspr_on, {"enabled_for": "selected", "enabled_groups": "Everyone"}, actor="test"
        )
        body = explain(desk, alice.upn).json()
        assert body["eligible"] is True and body["member_of_scope_groups"] == ["Everyone"]

    def test_sspr_off_for_everyone(self, desk: Api, sspr_on: Tenant, alice: User) -> None:
        register_email(alice)
        update_policy(sspr_on, {"enabled_for": "none"}, actor="test")
        body = explain(desk, alice.upn).json()
        assert body["reasons"] == ["sspr_off"] and "turned off" in body["summary"]

    def test_not_enough_methods_registered(self, desk: Api, sspr_on: Tenant, alice: User) -> None:
        register_email(alice)
        update_policy(sspr_on, {"methods_required": 2}, actor="test")
        body = explain(desk, alice.upn).json()
        assert body["reasons"] == ["too_few_methods"]
        assert body["methods_registered"] == ["email"] and body["methods_required"] == 2
        assert "2 methods required, 1 registered that count (email)" in body["summary"]

    def test_role_holders_need_two_methods_and_never_questions(
        self, desk: Api, sspr_on: Tenant, make_user: Any
    ) -> None:
        """Registered while a plain user: enough then, not once they became an administrator."""
        admin = make_user(sspr_on, "pa@contoso.com")
        register_email(admin)
        register_questions(admin, ANSWERS)
        RoleAssignment.objects.create(user=admin, role="password-administrator")
        body = explain(desk, admin.upn).json()
        assert body["eligible"] is False and body["admin_policy"] is True
        assert set(body["reasons"]) == {"admin_policy", "too_few_methods"}
        assert "questions" not in body["methods_allowed"]
        assert body["methods_usable"] == ["email"] and body["methods_required"] == 2
        detail = check(body, "admin_policy")["detail"]
        assert "Password Administrator" in detail and "never security questions" in detail
        assert "not allowed for administrators): questions" in check(body, "methods")["detail"]

    def test_blocked_after_too_many_wrong_codes_says_until_when(
        self, desk: Api, make_api: Any, alice: User
    ) -> None:
        register_email(alice)
        user_side = make_api()
        fid = user_side.call(
            "POST", "/tenants/contoso/password-resets", {"username": alice.upn}
        ).json()["id"]
        user_side.call("POST", f"/password-resets/{fid}/challenges", {"method": "email"})
        for _ in range(6):
            user_side.call(
                "POST",
                f"/password-resets/{fid}/verifications",
                {"method": "email", "code": "00000000"},
            )
        body = explain(desk, alice.upn).json()
        assert body["reasons"] == ["blocked"] and body["blocked_until"]
        assert "too many failed verifications" in check(body, "blocked")["detail"]

    def test_disabled_account(self, desk: Api, alice: User) -> None:
        register_email(alice)
        User.objects.filter(pk=alice.pk).update(enabled=False)
        body = explain(desk, alice.upn).json()
        assert body["reasons"] == ["disabled"] and body["enabled"] is False
        assert check(body, "account_enabled")["detail"] == "The account is disabled."

    def test_a_synced_user_with_no_agent_connected(
        self, desk: Api, sspr_on: Tenant, alice: User
    ) -> None:
        register_email(alice)
        update_policy(sspr_on, {"writeback_enabled": True}, actor="test")
        User.objects.filter(pk=alice.pk).update(source=Source.SYNCED, on_prem_anchor="abc")
        body = explain(desk, alice.upn).json()
        assert body["reasons"] == ["agent_unavailable"]
        assert body["writeback_needed"] is True and body["writeback_enabled"] is True
        assert body["agent_ready"] is False
        assert "No on-premises writeback client is connected." in body["agent_status"]
        assert "No on-premises agent can write the password back" in body["summary"]

    def test_a_synced_user_with_writeback_off(
        self, desk: Api, sspr_on: Tenant, alice: User
    ) -> None:
        register_email(alice)
        update_policy(sspr_on, {"writeback_enabled": False}, actor="test")
        User.objects.filter(pk=alice.pk).update(source=Source.SYNCED, on_prem_anchor="abc")
        body = explain(desk, alice.upn).json()
        assert {"writeback_off", "agent_unavailable"} == set(body["reasons"])
        assert "writeback is turned off" in check(body, "writeback")["detail"]

    def test_a_plan_without_reset_names_the_plan_that_has_it(
        self, desk: Api, sspr_on: Tenant, alice: User
    ) -> None:
        register_email(alice)
        Tenant.objects.filter(pk=sspr_on.pk).update(plan="free")
        body = explain(desk, alice.upn).json()
        assert "plan" in body["reasons"]
        assert "Business Standard plan or higher" in check(body, "plan")["detail"]

    def test_a_smart_lockout_is_shown_but_does_not_stop_a_reset(
        self, desk: Api, make_api: Any, alice: User
    ) -> None:
        register_email(alice)
        for attempt in range(10):
            make_api().sign_in("contoso", alice.upn, f"Wrong-Password-{attempt}")
        body = explain(desk, alice.upn).json()
        assert body["eligible"] is True and body["locked_until"]
        assert "locked by smart lockout" in check(body, "locked")["detail"]


class TestAccess:
    def test_unknown_user_is_a_json_404(self, desk: Api) -> None:
        response = explain(desk, "nobody@contoso.com")
        assert response.status_code == 404 and response.json()["code"] == "not_found"

    def test_plain_users_are_refused(self, api: Api, sspr_on: Tenant, alice: User) -> None:
        api.sign_in("contoso", alice.upn)
        response = explain(api, alice.upn)
        assert response.status_code == 403 and response.json()["code"] == "forbidden"

    def test_any_administrator_role_may_ask(
        self, api: Api, sspr_on: Tenant, alice: User, make_user: Any
    ) -> None:
        make_user(sspr_on, "apa@contoso.com", roles=["authentication-policy-administrator"])
        api.sign_in("contoso", "apa@contoso.com")
        assert explain(api, alice.upn).status_code == 200

    def test_tenants_are_isolated(
        self, desk: Api, make_api: Any, other_tenant: Tenant, make_user: Any, alice: User
    ) -> None:
        """Another organisation's admin is refused; its users are unknown here."""
        make_user(other_tenant, "bob@fabrikam.com")
        make_user(other_tenant, "admin@fabrikam.com", roles=["global-administrator"])
        assert explain(desk, "bob@fabrikam.com").status_code == 404
        assert explain(desk, "bob@fabrikam.com", tenant="fabrikam").status_code == 403
        outsider = make_api()
        outsider.sign_in("fabrikam", "admin@fabrikam.com")
        assert explain(outsider, alice.upn).status_code == 403

    def test_asking_sends_nothing(self, desk: Api, alice: User) -> None:
        register_email(alice)
        mail.outbox.clear()
        explain(desk, alice.upn)
        assert mail.outbox == []
