"""The SSPR policy through the API: every admin reads it, policy managers change and preview it,
and the impact preview counts who would lose self-service reset."""

from __future__ import annotations

from typing import Any

import pytest

from sspr.audit.models import AuditEvent
from sspr.directory.groups import create_group
from sspr.directory.models import Tenant, User
from sspr.flows.eligibility import assess, in_scope
from sspr.methods.models import RegisteredMethod
from sspr.policy.sspr_policy import as_dict, get_policy, preview_impact, update_policy
from tests.conftest import ADMIN_ROLES, Api

pytestmark = pytest.mark.django_db

POLICY = "/tenants/contoso/sspr-policy"
PREVIEW = "/tenants/contoso/sspr-policy/preview"
ACTIVITY = "Update self-service password reset policy"


def add_method(user: User, method: str, state: str = "active") -> None:
    RegisteredMethod.objects.create(user=user, method=method, state=state, value=user.upn)


class TestReading:
    @pytest.mark.parametrize("role", ADMIN_ROLES)
    def test_every_administrator_reads_the_policy(self, as_role: Any, role: str) -> None:
        response = as_role(role).call("GET", POLICY)
        assert response.status_code == 200
        policy = response.json()
        assert policy["enabled_for"] == "none"
        assert policy["methods_required"] == 1
        assert policy["methods_enabled"] == ["email", "sms", "totp"]
        assert policy["questions_to_register"] == policy["questions_to_reset"] == 3
        assert policy["custom_questions"] == []
        assert policy["sms_daily_limit"] == 1000
        assert policy["captcha_enabled"] is True

    def test_a_plain_user_reads_nothing(self, as_role: Any) -> None:
        response = as_role(None).call("GET", POLICY)
        assert (response.status_code, response.json()["code"]) == (403, "forbidden")

    def test_no_token_no_policy(self, api: Api, tenant: Tenant) -> None:
        response = api.call("GET", POLICY)
        assert (response.status_code, response.json()["code"]) == (401, "unauthenticated")


class TestChanging:
    @pytest.mark.parametrize(
        "role", ["global-administrator", "authentication-policy-administrator"]
    )
    def test_policy_managers_change_several_settings_at_once(
        self, as_role: Any, tenant: Tenant, role: str
    ) -> None:
        create_group(tenant, "Staff")
        changes = {
            "enabled_for": "selected",
            "enabled_groups": ["Staff"],
            "methods_required": 2,
            "methods_enabled": ["email", "sms", "questions"],
            "questions_to_register": 5,
            "questions_to_reset": 4,
            "custom_questions": ["Our first office?"],
            "sms_daily_limit": 250,
            "notify_admins": True,
            "helpdesk_url": "https://help.contoso.com",
        }
        response = as_role(role).call("PATCH", POLICY, changes)
        assert response.status_code == 200, response.content
        body = response.json()
        assert {k: body["policy"][k] for k in changes} == changes
        assert set(body["impact"]) == {
            "users_in_scope_before",
            "users_in_scope_after",
            "users_able_before",
            "users_able_after",
            "users_losing_reset",
            "examples",
        }
        stored = as_dict(get_policy(tenant))
        assert {k: stored[k] for k in changes} == changes

    @pytest.mark.parametrize("role", [None, "password-administrator", "helpdesk-administrator"])
    def test_others_may_not_change_or_preview(
        self, as_role: Any, tenant: Tenant, role: str | None
    ) -> None:
        client = as_role(role)
        for method, path in (("PATCH", POLICY), ("POST", PREVIEW)):
            response = client.call(method, path, {"enabled_for": "all"})
            assert (response.status_code, response.json()["code"]) == (403, "forbidden")
            assert response.json()["message"]
        assert get_policy(tenant).enabled_for == "none"
        assert not AuditEvent.objects.filter(activity=ACTIVITY).exists()

    def test_another_tenants_administrator_gets_nothing(
        self, other_tenant: Tenant, make_user: Any, make_api: Any, tenant: Tenant
    ) -> None:
        make_user(other_tenant, "boss@fabrikam.com", roles=["global-administrator"])
        client = make_api()
        client.sign_in("fabrikam", "boss@fabrikam.com")
        for method, path, body in (
            ("GET", POLICY, None),
            ("PATCH", POLICY, {"enabled_for": "all"}),
            ("POST", PREVIEW, {"enabled_for": "all"}),
        ):
            response = client.call(method, path, body)
            assert (response.status_code, response.json()["code"]) == (403, "forbidden")
        assert get_policy(tenant).enabled_for == "none"

    def test_the_audit_event_holds_old_and_new_values(self, as_role: Any) -> None:
        client = as_role("authentication-policy-administrator", "apa@contoso.com")
        client.call("PATCH", POLICY, {"methods_required": 2, "custom_questions": ["Q1?"]})
        event = AuditEvent.objects.get(activity=ACTIVITY)
        assert event.actor == "apa@contoso.com"
        assert event.category == "Policy"
        assert event.details["changes"] == {
            "methods_required": {"old": 1, "new": 2},
            "custom_questions": {"old": [], "new": ["Q1?"]},
        }
        assert event.details["users_losing_reset"] == 0

    @pytest.mark.parametrize(
        ("body", "code"),
        [
            ({"colour": "blue"}, "invalid_request"),
            ({"methods_required": "2"}, "invalid_request"),
            ({"methods_required": None}, "invalid_request"),
            ({"notify_users": "yes"}, "invalid_request"),
            ({"methods_enabled": "email,sms"}, "invalid_request"),
            ({"custom_questions": ["nul\u0000"]}, "invalid_request"),
            (["enabled_for", "all"], "invalid_request"),
            ({"enabled_for": "everyone"}, "invalid_value"),
            ({"methods_required": 3}, "invalid_value"),
            ({"methods_enabled": ["totp"]}, "invalid_value"),
            ({"questions_to_reset": 5}, "invalid_value"),
            ({"sms_daily_limit": 1_000_001}, "invalid_value"),
            ({"enabled_for": "selected"}, "invalid_value"),
            ({"enabled_for": "all", "methods_enabled": ["fax"]}, "invalid_value"),
        ],
    )
    def test_bad_changes_are_refused_whole(
        self, as_role: Any, tenant: Tenant, body: Any, code: str
    ) -> None:
        client = as_role("global-administrator")
        before = as_dict(get_policy(tenant))
        for method, path in (("PATCH", POLICY), ("POST", PREVIEW)):
            response = client.call(method, path, body)
            assert (response.status_code, response.json()["code"]) == (422, code)
            assert response.json()["message"]
        assert as_dict(get_policy(tenant)) == before
        assert not AuditEvent.objects.filter(activity=ACTIVITY).exists()

    def test_an_invalid_combination_names_its_field(self, as_role: Any) -> None:
        response = as_role("global-administrator").call(
            "PATCH", POLICY, {"methods_required": 2, "methods_enabled": ["totp", "email"]}
        )
        body = response.json()
        assert body["field"] == "methods_enabled"
        assert "The authenticator app cannot be the only method" in body["message"]

    def test_a_body_that_is_not_json(self, as_role: Any) -> None:
        client = as_role("global-administrator")
        response = client.client.patch(
            f"/api/v1{POLICY}",
            data=b"{not json",
            content_type="application/json",
            HTTP_AUTHORIZATION=f"Bearer {client.token}",
        )
        assert (response.status_code, response.json()["code"]) == (422, "invalid_request")

    def test_the_document_describes_the_body(self) -> None:
        from sspr.web.api.app import api

        operation = api.get_openapi_schema()["paths"]["/api/v1/tenants/{tenant}/sspr-policy"]
        schema = operation["patch"]["requestBody"]["content"]["application/json"]["schema"]
        assert schema["additionalProperties"] is False
        assert {"questions_to_register", "custom_questions", "sms_daily_limit"} <= set(
            schema["properties"]
        )


@pytest.fixture
def small_tenant(tenant: Tenant, make_user: Any) -> dict[str, User]:
    """Staff holds ann and, through the nested group Sales, bob; cy is in Other only.

    ann: email · bob: email and SMS · cy: email · dee: nothing · eve: a pending email only ·
    fay: email but disabled · gus, a helpdesk administrator: email and questions (the admin
    policy needs two methods and never questions, so gus cannot reset).
    """
    users = {
        name: make_user(tenant, f"{name}@contoso.com", **extra)
        for name, extra in (
            ("ann", {}),
            ("bob", {}),
            ("cy", {}),
            ("dee", {}),
            ("eve", {}),
            ("fay", {"password": None}),
            ("gus", {"roles": ["helpdesk-administrator"]}),
        )
    }
    users["fay"].enabled = False
    users["fay"].save()
    add_method(users["ann"], "email")
    add_method(users["bob"], "email")
    add_method(users["bob"], "sms")
    add_method(users["cy"], "email")
    add_method(users["eve"], "email", state="pending")
    add_method(users["fay"], "email")
    add_method(users["gus"], "email")
    add_method(users["gus"], "questions")
    create_group(tenant, "Sales", ["bob@contoso.com"])
    create_group(tenant, "Staff", ["ann@contoso.com"], ["Sales"])
    create_group(tenant, "Other", ["cy@contoso.com"])
    update_policy(tenant, {"enabled_for": "all"}, actor="setup")
    return users


class TestImpact:
    def test_narrowing_the_scope_to_a_group_with_a_nested_group(
        self, small_tenant: dict[str, User], tenant: Tenant
    ) -> None:
        impact = preview_impact(tenant, {"enabled_for": "selected", "enabled_groups": ["Staff"]})
        assert impact == {
            "users_in_scope_before": 7,
            "users_in_scope_after": 2,
            "users_able_before": 3,
            "users_able_after": 2,
            "users_losing_reset": 1,
            "examples": ["cy@contoso.com"],
        }

    def test_requiring_two_methods_strands_users_with_one(
        self, small_tenant: dict[str, User], tenant: Tenant
    ) -> None:
        impact = preview_impact(tenant, {"methods_required": 2})
        assert impact["users_in_scope_before"] == impact["users_in_scope_after"] == 7
        assert (impact["users_able_before"], impact["users_able_after"]) == (3, 1)
        assert impact["users_losing_reset"] == 2
        assert impact["examples"] == ["ann@contoso.com", "cy@contoso.com"]

    def test_turning_it_off_and_dropping_a_method(
        self, small_tenant: dict[str, User], tenant: Tenant
    ) -> None:
        assert preview_impact(tenant, {"enabled_for": "none"})["users_losing_reset"] == 3
        dropped = preview_impact(tenant, {"methods_enabled": ["sms", "totp"]})
        assert dropped["users_able_after"] == 1
        assert dropped["examples"] == ["ann@contoso.com", "cy@contoso.com"]
        # A change that touches no eligibility setting loses nobody.
        same = preview_impact(tenant, {"helpdesk_url": "https://help.contoso.com"})
        assert same["users_able_before"] == same["users_able_after"] == 3
        assert same["users_losing_reset"] == 0

    def test_examples_stop_at_five(self, tenant: Tenant, make_user: Any) -> None:
        for n in range(7):
            add_method(make_user(tenant, f"u{n}@contoso.com", password=None), "email")
        update_policy(tenant, {"enabled_for": "all"}, actor="setup")
        impact = preview_impact(tenant, {"enabled_for": "none"})
        assert impact["users_losing_reset"] == 7
        assert impact["examples"] == [f"u{n}@contoso.com" for n in range(5)]

    @pytest.mark.parametrize(
        "changes",
        [
            {"enabled_for": "selected", "enabled_groups": ["Staff", "Other"]},
            {"methods_required": 2, "methods_enabled": ["email", "sms", "questions"]},
            {"methods_enabled": ["email", "questions"]},
        ],
    )
    def test_the_preview_agrees_with_eligibility_user_by_user(
        self,
        small_tenant: dict[str, User],
        tenant: Tenant,
        make_user: Any,
        changes: dict[str, Any],
    ) -> None:
        """The preview's counting shortcut (one assess per kind of user) gives what assess gives
        for each user, before and after, synced and admin users included."""
        hal = make_user(tenant, "hal@contoso.com", password=None)
        User.objects.filter(pk=hal.pk).update(source="synced")
        add_method(hal, "email")
        add_method(small_tenant["dee"], "questions")
        add_method(small_tenant["gus"], "sms")
        # An administrator with exactly bob's methods: the admin policy must tell them apart.
        ian = make_user(tenant, "ian@contoso.com", password=None, roles=["password-administrator"])
        add_method(ian, "email")
        add_method(ian, "sms")

        def count() -> tuple[int, set[str]]:
            policy = get_policy(tenant)
            users = list(User.objects.filter(tenant=tenant))
            able = {u.upn for u in users if assess(u, policy).eligible}
            return sum(in_scope(u, policy) for u in users), able

        impact = preview_impact(tenant, changes)
        scope_before, able_before = count()
        update_policy(tenant, changes, actor="test")
        scope_after, able_after = count()
        assert (impact["users_in_scope_before"], impact["users_in_scope_after"]) == (
            scope_before,
            scope_after,
        )
        assert (impact["users_able_before"], impact["users_able_after"]) == (
            len(able_before),
            len(able_after),
        )
        assert impact["examples"] == sorted(able_before - able_after)[:5]

    def test_preview_and_patch_through_the_api(
        self, small_tenant: dict[str, User], tenant: Tenant, make_api: Any
    ) -> None:
        client = make_api()
        client.sign_in("contoso", "gus@contoso.com")
        assert client.call("POST", PREVIEW, {"methods_required": 2}).status_code == 403
        small_tenant["gus"].role_assignments.update(role="global-administrator")
        previewed = client.call("POST", PREVIEW, {"methods_required": 2})
        assert previewed.status_code == 200
        assert previewed.json()["impact"]["users_losing_reset"] == 2
        assert get_policy(tenant).methods_required == 1
        assert AuditEvent.objects.filter(activity=ACTIVITY).count() == 1  # the fixture's
        patched = client.call("PATCH", POLICY, {"methods_required": 2})
        assert patched.status_code == 200
        assert patched.json()["impact"] == previewed.json()["impact"]
        assert patched.json()["policy"]["methods_required"] == 2
