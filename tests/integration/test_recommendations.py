"""Recommendations: each states where the organisation stands in numbers; a policy manager fixes
one in a click, through the policy's own checks and audit; nobody else can."""

from __future__ import annotations

from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from nacl.encoding import Base64Encoder
from nacl.public import PrivateKey
from nacl.signing import SigningKey

from sspr.audit.models import AuditEvent
from sspr.directory.groups import create_group
from sspr.directory.models import RoleAssignment, Tenant, User
from sspr.directory.tenants import create_tenant
from sspr.hybrid import enrollment
from sspr.insights.recommendations import get_recommendation, recommendations
from sspr.methods.models import RegisteredMethod
from sspr.methods.question_list import PREDEFINED_QUESTIONS
from sspr.policy.password_policy import as_dict as password_settings
from sspr.policy.password_policy import password_policy
from sspr.policy.sspr_policy import as_dict, get_policy, update_policy
from tests.conftest import Api, browser, csrf_token
from tests.reset_helpers import register_email, register_questions

pytestmark = pytest.mark.django_db

LIST = "/tenants/contoso/recommendations"
PAGE = "/t/contoso/admin/recommendations"
POLICY_CHANGE = "Update self-service password reset policy"
IDS = [
    "enable_sspr_for_all",
    "require_two_methods",
    "require_registration",
    "reconfirm_within_180_days",
    "notify_users",
    "notify_admins",
    "turn_on_writeback",
    "no_questions_for_role_holders",
    "custom_banned_passwords",
]


def fix_path(recommendation: str) -> str:
    return f"{LIST}/{recommendation}/fix"


def items(client: Api) -> dict[str, dict[str, Any]]:
    response = client.call("GET", LIST)
    assert response.status_code == 200, response.content
    return {r["id"]: r for r in response.json()["items"]}


def policy_events() -> list[AuditEvent]:
    return list(AuditEvent.objects.filter(activity=POLICY_CHANGE).order_by("id"))


def enrol_agent(tenant: Tenant) -> None:
    token, _ = enrollment.create_token(tenant, "test")
    enrollment.enroll(
        token,
        name="dc-host-1",
        agent_version="0.1.0",
        directory_kind="ad",
        sign_public_key=Base64Encoder.encode(bytes(SigningKey.generate().verify_key)).decode(),
        box_public_key=Base64Encoder.encode(bytes(PrivateKey.generate().public_key)).decode(),
        capabilities=["sync", "writeback", "unlock"],
    )


class TestState:
    def test_a_new_organisation_sees_every_recommendation_with_its_state(
        self, as_role: Any
    ) -> None:
        response = as_role("helpdesk-administrator").call("GET", LIST)
        assert response.status_code == 200
        body = response.json()
        assert [r["id"] for r in body["items"]] == IDS
        found = {r["id"]: r for r in body["items"]}
        status = {k: v["status"] for k, v in found.items()}
        assert status == {
            "enable_sspr_for_all": "not_met",
            "require_two_methods": "not_met",
            "require_registration": "met",
            "reconfirm_within_180_days": "met",
            "notify_users": "met",
            "notify_admins": "not_met",
            "turn_on_writeback": "not_applicable",
            "no_questions_for_role_holders": "met",
            "custom_banned_passwords": "not_met",
        }
        assert (body["met"], body["applicable"]) == (4, 8)
        first = found["enable_sspr_for_all"]
        assert first["title"] == "Enable self-service password reset for all users"
        assert first["why"].endswith(".") and first["why"].count(". ") == 0
        assert first["state"] == "SSPR is not enabled for anyone (0 of 1 user in scope)."
        assert first["fixable"] is True and first["fix_changes"] == {"enabled_for": "all"}
        assert found["custom_banned_passwords"]["fixable"] is False
        assert found["turn_on_writeback"]["state"].startswith("No on-premises agent is enrolled")

    def test_the_numbers_follow_the_directory(self, tenant: Tenant, make_user: Any) -> None:
        for name in ("ann", "bob", "cy"):
            make_user(tenant, f"{name}@contoso.com")
        create_group(tenant, "Pilot", ["ann@contoso.com", "bob@contoso.com"])
        create_group(tenant, "Sales", ["cy@contoso.com"])
        update_policy(tenant, {"enabled_for": "selected", "enabled_groups": "Pilot,Sales"}, "test")
        for name in ("ann", "bob"):
            register_email(User.objects.get(upn=f"{name}@contoso.com"))
        state = {r.id: r.state for r in recommendations(tenant)}
        assert state["enable_sspr_for_all"] == (
            "SSPR is enabled for selected groups (2): Pilot, Sales; 3 of 3 users are in scope."
        )
        assert state["require_two_methods"].endswith(
            "2 users in scope have registered only one usable method and would need to "
            "register a second."
        )
        assert state["require_registration"] == (
            "Users are asked to register at sign-in. 2 of 3 users in scope have registered "
            "enough methods to reset; 1 has not."
        )

    def test_role_holders_relying_on_security_questions_are_named(
        self, tenant: Tenant, make_user: Any
    ) -> None:
        update_policy(tenant, {"methods_enabled": "email,sms,questions"}, "test")
        answers = {q: f"answer number {i}" for i, q in enumerate(PREDEFINED_QUESTIONS[:3])}
        for name in ("ann", "bob"):
            user = make_user(tenant, f"{name}@contoso.com")
            register_questions(user, answers)
            register_email(user)
        make_user(tenant, "ga@contoso.com", roles=["global-administrator"])
        # Registered as plain users; given a role later, when questions no longer count.
        ann = User.objects.get(upn="ann@contoso.com")
        RoleAssignment.objects.create(user=ann, role="password-administrator")
        item = get_recommendation(tenant, "no_questions_for_role_holders")
        assert item.status == "not_met" and not item.fixable
        assert "1 of 2 role holders relies on security questions" in item.state
        assert item.state.endswith("ann@contoso.com.")
        assert "they are offered to other users" in item.state
        RegisteredMethod.objects.create(user=ann, method="sms", state="active", value="+1555")
        item = get_recommendation(tenant, "no_questions_for_role_holders")
        assert item.status == "met"
        assert "1 of 2 role holders registered questions, but each has two other" in item.state

    def test_reset_is_not_recommended_where_the_plan_does_not_include_it(self, db: Any) -> None:
        free = create_tenant("tailspin", "Tailspin", "free", ["tailspin.com"])
        item = get_recommendation(free, "enable_sspr_for_all")
        assert item.status == "not_applicable" and not item.fixable
        assert "Business Standard plan" in item.state

    def test_the_number_of_queries_does_not_grow_with_the_users(
        self, tenant: Tenant, make_user: Any
    ) -> None:
        make_user(tenant, "ga@contoso.com", roles=["global-administrator"])
        with CaptureQueriesContext(connection) as small:
            recommendations(tenant)
        users = User.objects.bulk_create(
            User(tenant=tenant, upn=f"u{n}@contoso.com") for n in range(2000)
        )
        RegisteredMethod.objects.bulk_create(
            RegisteredMethod(user=u, method="email", state="active") for u in users
        )
        RoleAssignment.objects.bulk_create(
            RoleAssignment(user=u, role="helpdesk-administrator") for u in users[::10]
        )
        with CaptureQueriesContext(connection) as large:
            recommendations(tenant)
        assert len(large) == len(small) <= 20


class TestFix:
    def test_a_global_administrator_fixes_one_and_it_is_audited(self, as_role: Any) -> None:
        ga = as_role("global-administrator", "ga@contoso.com")
        before = items(ga)["enable_sspr_for_all"]
        assert before["status"] == "not_met"
        response = ga.call("POST", fix_path("enable_sspr_for_all"))
        assert response.status_code == 200, response.content
        body = response.json()
        assert body["recommendation"]["status"] == "met"
        assert body["recommendation"]["state"] == "SSPR is enabled for all users (1 user)."
        assert body["changes"] == {"enabled_for": "all"}
        assert body["impact"]["users_in_scope_after"] == 1
        assert items(ga)["enable_sspr_for_all"]["status"] == "met"
        tenant = Tenant.objects.get(slug="contoso")
        assert get_policy(tenant).enabled_for == "all"
        [event] = policy_events()
        assert event.actor == "ga@contoso.com" and event.result == "success"
        assert event.details["changes"] == {"enabled_for": {"old": "none", "new": "all"}}

    def test_an_authentication_policy_administrator_may_fix(self, as_role: Any) -> None:
        apa = as_role("authentication-policy-administrator")
        response = apa.call("POST", fix_path("notify_admins"))
        assert response.status_code == 200, response.content
        assert get_policy(Tenant.objects.get(slug="contoso")).notify_admins is True

    @pytest.mark.parametrize("role", ["helpdesk-administrator", "password-administrator", None])
    def test_others_are_refused_and_nothing_changes(self, as_role: Any, role: str | None) -> None:
        client = as_role(role)
        tenant = Tenant.objects.get(slug="contoso")
        before = as_dict(get_policy(tenant))
        response = client.call("POST", fix_path("enable_sspr_for_all"))
        assert response.status_code == 403
        assert response.json()["code"] == "forbidden"
        assert as_dict(get_policy(tenant)) == before
        assert policy_events() == []

    def test_a_recommendation_already_met_is_a_conflict(self, as_role: Any) -> None:
        response = as_role("global-administrator").call("POST", fix_path("notify_users"))
        assert response.status_code == 409
        body = response.json()
        assert body["code"] == "recommendation_met"
        assert body["message"].startswith("'Notify users when their password is reset' is already")
        assert policy_events() == []

    def test_one_without_a_one_click_fix_is_a_conflict(self, as_role: Any) -> None:
        response = as_role("global-administrator").call("POST", fix_path("custom_banned_passwords"))
        assert response.status_code == 409
        body = response.json()
        assert body["code"] == "recommendation_not_fixable"
        assert "add them in Password protection" in body["message"]

    def test_an_unknown_recommendation_is_not_found(self, as_role: Any) -> None:
        response = as_role("global-administrator").call("POST", fix_path("make_it_secure"))
        assert response.status_code == 404
        assert "enable_sspr_for_all" in response.json()["message"]

    def test_the_fix_goes_through_the_policy_checks(self, as_role: Any, tenant: Tenant) -> None:
        """Two methods required with one offered is refused by the policy, as on its page."""
        update_policy(tenant, {"methods_enabled": "email"}, "test")
        events = len(policy_events())
        ga = as_role("global-administrator")
        assert items(ga)["require_two_methods"]["fixable"] is True
        response = ga.call("POST", fix_path("require_two_methods"))
        assert response.status_code == 409
        body = response.json()
        assert body["code"] == "recommendation_not_fixable"
        assert body["message"] == (
            "'Require two methods to reset a password' cannot be fixed in one click: "
            "2 methods are required to reset a password, but only 1 is offered: offer more "
            "methods or require fewer."
        )
        assert get_policy(tenant).methods_required == 1
        assert len(policy_events()) == events

    def test_requiring_two_methods_reports_who_would_lose_reset(
        self, as_role: Any, tenant: Tenant, make_user: Any
    ) -> None:
        update_policy(tenant, {"enabled_for": "all"}, "test")
        ann = make_user(tenant, "ann@contoso.com")
        register_email(ann)
        response = as_role("global-administrator").call("POST", fix_path("require_two_methods"))
        assert response.status_code == 200, response.content
        impact = response.json()["impact"]
        assert impact["users_losing_reset"] == 1 and impact["examples"] == ["ann@contoso.com"]
        assert policy_events()[-1].details["users_losing_reset"] == 1

    def test_writeback_is_turned_on_where_an_agent_is_enrolled(
        self, as_role: Any, tenant: Tenant
    ) -> None:
        enrol_agent(tenant)
        ga = as_role("global-administrator")
        before = items(ga)["turn_on_writeback"]
        assert before["status"] == "not_met" and before["fixable"] is True
        assert "has never connected" in before["state"]
        response = ga.call("POST", fix_path("turn_on_writeback"))
        assert response.status_code == 200, response.content
        assert response.json()["recommendation"]["status"] == "met"
        assert get_policy(tenant).writeback_enabled is True

    def test_writeback_is_not_fixable_on_a_plan_without_it(
        self, as_role: Any, tenant: Tenant
    ) -> None:
        Tenant.objects.filter(pk=tenant.pk).update(plan="business-standard")
        enrol_agent(tenant)
        ga = as_role("global-administrator")
        item = items(ga)["turn_on_writeback"]
        assert item["status"] == "not_met" and item["fixable"] is False
        response = ga.call("POST", fix_path("turn_on_writeback"))
        assert response.status_code == 409
        assert "needs the Business Premium plan or higher" in response.json()["message"]
        assert get_policy(tenant).writeback_enabled is False

    def test_a_banned_list_in_audit_mode_is_enforced_through_the_password_policy(
        self, as_role: Any, tenant: Tenant
    ) -> None:
        update_policy(
            tenant, {"banned_passwords": "contoso,fabrikam", "password_protection": "audit"}, "t"
        )
        ga = as_role("global-administrator", "ga@contoso.com")
        item = items(ga)["custom_banned_passwords"]
        assert item["state"] == (
            "2 custom terms in audit mode: banned passwords are accepted and only recorded."
        )
        response = ga.call("POST", fix_path("custom_banned_passwords"))
        assert response.status_code == 200, response.content
        assert response.json()["impact"] is None
        assert password_settings(password_policy(tenant))["password_protection"] == "enforce"
        assert password_policy(tenant).preset == "entra"  # the preset is left alone
        assert AuditEvent.objects.filter(
            activity="Update password protection policy", actor="ga@contoso.com"
        ).exists()


class TestPage:
    def test_a_policy_manager_fixes_one_with_the_button(
        self, tenant: Tenant, make_user: Any
    ) -> None:
        make_user(tenant, "ga@contoso.com", roles=["global-administrator"])
        client = browser("ga@contoso.com")
        html = client.get(PAGE).content.decode()
        assert "<strong>4 of 8</strong> recommendations done." in html
        assert "Fix: Enable for all users" in html
        assert 'name="recommendation" value="custom_banned_passwords"' not in html
        response = client.post(
            PAGE, {"recommendation": "enable_sspr_for_all", "csrfmiddlewaretoken": csrf_token(html)}
        )
        assert response.status_code == 302
        after = client.get(PAGE).content.decode()
        assert "Done: Enable self-service password reset for all users." in after
        assert "<strong>5 of 8</strong>" in after
        assert get_policy(tenant).enabled_for == "all"

    def test_a_post_without_the_forms_token_is_refused(
        self, tenant: Tenant, make_user: Any
    ) -> None:
        make_user(tenant, "ga@contoso.com", roles=["global-administrator"])
        response = browser("ga@contoso.com").post(PAGE, {"recommendation": "enable_sspr_for_all"})
        assert response.status_code == 403
        assert get_policy(tenant).enabled_for == "none"

    def test_other_administrators_read_without_fix_buttons(
        self, tenant: Tenant, make_user: Any
    ) -> None:
        make_user(tenant, "help@contoso.com", roles=["helpdesk-administrator"])
        client = browser("help@contoso.com")
        html = client.get(PAGE).content.decode()
        assert 'id="read-only"' in html
        assert '<form method="post"><input' not in html and "Fix:" not in html
        assert "can fix this in one click (enable for all users)" in html
        response = client.post(
            PAGE, {"recommendation": "enable_sspr_for_all", "csrfmiddlewaretoken": csrf_token(html)}
        )
        assert response.status_code == 403
        assert get_policy(tenant).enabled_for == "none"

    def test_a_refused_fix_is_explained(self, tenant: Tenant, make_user: Any) -> None:
        make_user(tenant, "ga@contoso.com", roles=["global-administrator"])
        client = browser("ga@contoso.com")
        html = client.get(PAGE).content.decode()
        response = client.post(
            PAGE, {"recommendation": "notify_users", "csrfmiddlewaretoken": csrf_token(html)}
        )
        assert response.status_code == 409
        assert "is already done" in response.content.decode()
