"""The admin API under "sign in to the admin portal" policies, as the admin pages are: blocked
with the helpdesk link, or asked to prove a registered method first; evaluated once per token
and address, and recorded."""

from __future__ import annotations

from typing import Any

import pytest
from django.core import mail

from sspr.access import access_policies
from sspr.access.locations import create_location, update_location
from sspr.audit.models import AuditEvent
from sspr.directory.models import Tenant, User
from sspr.policy.sspr_policy import get_policy, update_policy
from tests.conftest import Api
from tests.reset_helpers import last_code_to, register_email

pytestmark = pytest.mark.django_db

OFFICE = "203.0.113.20"
HOME = "192.0.2.77"
HELPDESK = "https://help.contoso.com/admins"
POLICY = "/tenants/contoso/sspr-policy"
SIGN_IN = "Sign-in to the admin portal"


@pytest.fixture
def contoso(tenant: Tenant, make_user: Any) -> Tenant:
    make_user(tenant, "breakglass@contoso.com", roles=["global-administrator"])
    update_policy(tenant, {"helpdesk_url": HELPDESK}, actor="test")
    create_location(tenant, "Office", ["203.0.113.0/24"], trusted=True)
    access_policies.create_access_policy(
        tenant,
        {
            "name": "Admins from the office",
            "action": "admin_sign_in",
            "include_roles": "global-administrator",
            "exclude_users": "breakglass@contoso.com",
            "where": "untrusted",
            "decision": "block",
            "state": "on",
        },
    )
    return tenant


@pytest.fixture
def admin(contoso: Tenant, make_user: Any) -> User:
    user = make_user(contoso, "admin@contoso.com", roles=["global-administrator"])
    register_email(user)
    mail.outbox.clear()
    return user


@pytest.fixture
def token(admin: User, api: Api) -> Api:
    assert api.sign_in("contoso", admin.upn).status_code == 201
    return api


def sign_ins() -> list[tuple[str, str]]:
    return [
        (e.result, e.details["conditional_access"]["address"])
        for e in AuditEvent.objects.filter(activity=SIGN_IN).order_by("pk")
    ]


class TestBlock:
    def test_blocked_from_outside_with_the_helpdesk_link(self, token: Api, contoso: Tenant) -> None:
        refused = token.call("GET", POLICY, REMOTE_ADDR=HOME)
        assert refused.status_code == 403
        body = refused.json()
        assert body["code"] == "access_blocked"
        assert body["helpdesk"] == HELPDESK and HELPDESK in body["message"]
        assert "does not allow signing in to the admin portal" in body["message"]
        changed = token.call("PATCH", POLICY, {"enabled_for": "all"}, REMOTE_ADDR=HOME)
        assert changed.status_code == 403
        assert sign_ins() == [("failure", HOME), ("failure", HOME)]
        event = AuditEvent.objects.filter(activity=SIGN_IN).first()
        assert event is not None and event.reason == "Blocked by conditional access"
        assert get_policy(contoso).enabled_for == "none"

    def test_from_the_office_evaluated_once_per_address(self, token: Api) -> None:
        for _ in range(3):
            assert token.call("GET", POLICY, REMOTE_ADDR=OFFICE).status_code == 200
        assert token.call("GET", "/tenants/contoso/users", REMOTE_ADDR=OFFICE).status_code == 200
        assert sign_ins() == [("success", OFFICE)]
        event = AuditEvent.objects.get(activity=SIGN_IN)
        assert event.details["channel"] == "api"
        assert event.details["conditional_access"]["trusted_location"] is True
        # Another address is evaluated again.
        assert token.call("GET", POLICY, REMOTE_ADDR=HOME).status_code == 403
        assert sign_ins() == [("success", OFFICE), ("failure", HOME)]

    def test_a_policy_change_takes_effect_at_once(self, token: Api, contoso: Tenant) -> None:
        assert token.call("GET", POLICY, REMOTE_ADDR=OFFICE).status_code == 200
        access_policies.update_access_policy(contoso, "Admins from the office", {"where": "any"})
        assert token.call("GET", POLICY, REMOTE_ADDR=OFFICE).status_code == 403
        access_policies.update_access_policy(contoso, "Admins from the office", {"state": "off"})
        assert token.call("GET", POLICY, REMOTE_ADDR=OFFICE).status_code == 200

    def test_a_location_change_takes_effect_at_once(self, token: Api, contoso: Tenant) -> None:
        assert token.call("GET", POLICY, REMOTE_ADDR=OFFICE).status_code == 200
        update_location(contoso, "Office", {"ranges": ["198.51.100.0/24"]})
        assert token.call("GET", POLICY, REMOTE_ADDR=OFFICE).status_code == 403

    def test_without_a_policy_nothing_is_evaluated_or_recorded(
        self, tenant: Tenant, as_role: Any
    ) -> None:
        admin = as_role("global-administrator")
        assert admin.call("GET", POLICY, REMOTE_ADDR=HOME).status_code == 200
        assert sign_ins() == []

    def test_each_token_is_evaluated(self, token: Api, admin: User, make_api: Any) -> None:
        assert token.call("GET", POLICY, REMOTE_ADDR=OFFICE).status_code == 200
        other = make_api()
        other.sign_in("contoso", admin.upn)
        assert other.call("GET", POLICY, REMOTE_ADDR=OFFICE).status_code == 200
        assert sign_ins() == [("success", OFFICE), ("success", OFFICE)]

    def test_an_excluded_administrator_is_let_in(self, contoso: Tenant, api: Api) -> None:
        breakglass = api
        assert breakglass.sign_in("contoso", "breakglass@contoso.com").status_code == 201
        assert breakglass.call("GET", POLICY, REMOTE_ADDR=HOME).status_code == 200

    def test_the_policy_is_about_the_roles_it_names(self, contoso: Tenant, as_role: Any) -> None:
        helpdesk = as_role("helpdesk-administrator")
        assert helpdesk.call("GET", POLICY, REMOTE_ADDR=HOME).status_code == 200

    def test_non_administrators_are_refused_before_any_evaluation(
        self, contoso: Tenant, as_role: Any
    ) -> None:
        plain = as_role(None)
        refused = plain.call("GET", POLICY, REMOTE_ADDR=HOME)
        assert refused.status_code == 403 and refused.json()["code"] == "forbidden"
        assert sign_ins() == []

    def test_other_tenants_policies_do_not_apply(
        self, contoso: Tenant, other_tenant: Tenant, make_user: Any, make_api: Any
    ) -> None:
        make_user(other_tenant, "boss@fabrikam.com", roles=["global-administrator"])
        boss = make_api()
        boss.sign_in("fabrikam", "boss@fabrikam.com")
        reply = boss.call("GET", "/tenants/fabrikam/sspr-policy", REMOTE_ADDR=HOME)
        assert reply.status_code == 200

    def test_report_only_records_and_lets_in(self, token: Api, contoso: Tenant) -> None:
        access_policies.update_access_policy(
            contoso, "Admins from the office", {"state": "report_only"}
        )
        assert token.call("GET", POLICY, REMOTE_ADDR=HOME).status_code == 200
        event = AuditEvent.objects.get(activity=SIGN_IN)
        assert event.details["conditional_access"]["report_only_decision"] == "block"


class TestRequireMethod:
    @pytest.fixture
    def require_method(self, contoso: Tenant) -> None:
        access_policies.update_access_policy(
            contoso, "Admins from the office", {"decision": "require_method"}
        )

    def test_step_up_first_then_in(self, token: Api, admin: User, require_method: None) -> None:
        refused = token.call("GET", POLICY, REMOTE_ADDR=HOME)
        assert refused.status_code == 403
        body = refused.json()
        assert body["code"] == "step_up_required" and body["methods"] == ["email"]
        event = AuditEvent.objects.get(activity=SIGN_IN)
        assert event.reason == "Conditional access requires an already-registered method"
        sent = token.call("POST", "/me/step-up/challenges", {"method": "email"}, REMOTE_ADDR=HOME)
        assert sent.status_code == 202
        proven = token.call(
            "POST",
            "/me/step-up/verifications",
            {"method": "email", "code": last_code_to(admin.upn)},
            REMOTE_ADDR=HOME,
        )
        assert proven.status_code == 200
        assert token.call("GET", POLICY, REMOTE_ADDR=HOME).status_code == 200
        latest = AuditEvent.objects.filter(activity=SIGN_IN).first()
        assert latest is not None and latest.result == "success"
        assert latest.details["conditional_access"]["proven_by"] == "email"
