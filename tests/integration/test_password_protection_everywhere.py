"""One engine on every path: each place a password is set refuses a banned one."""

from __future__ import annotations

from typing import Any

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from sspr.audit.models import AuditEvent
from sspr.directory.models import User
from sspr.policy.sspr_policy import update_policy
from tests.conftest import PASSWORD, Api
from tests.reset_helpers import last_code_to, register_email

pytestmark = pytest.mark.django_db
BANNED = "C0ntos0Blank1!"  # contoso + blank + 2 characters: 4 points, below 5


@pytest.fixture
def banned(tenant: Any) -> Any:
    update_policy(tenant, {"banned_passwords": "contoso,blank", "enabled_for": "all",
                           "captcha_enabled": False}, actor="t")
    return tenant


def codes(response: Any) -> list[str]:
    return [r["code"] for r in response.json().get("rules", [])]


class TestEveryEntryPoint:
    def test_change(self, api: Api, banned: Any, alice: User) -> None:
        api.sign_in("contoso", alice.upn)
        refused = api.call("POST", "/me/password",
                           {"current_password": PASSWORD, "new_password": BANNED})
        assert refused.status_code == 422 and "password_banned" in codes(refused)

    def test_self_service_reset(self, api: Api, banned: Any, alice: User) -> None:
        register_email(alice)
        fid = api.call("POST", "/tenants/contoso/password-resets",
                       {"username": alice.upn}).json()["id"]
        api.call("POST", f"/password-resets/{fid}/challenges", {"method": "email"})
        api.call("POST", f"/password-resets/{fid}/verifications",
                 {"method": "email", "code": last_code_to(alice.upn)})
        refused = api.call("POST", f"/password-resets/{fid}/completion", {"new_password": BANNED})
        assert refused.status_code == 422 and "password_banned" in codes(refused)

    def test_admin_reset(self, api: Api, banned: Any, alice: User, make_user: Any) -> None:
        make_user(banned, "ga@contoso.com", roles=["global-administrator"])
        api.sign_in("contoso", "ga@contoso.com")
        refused = api.call("POST", f"/tenants/contoso/users/{alice.upn}/password-reset",
                           {"password": BANNED})
        assert refused.status_code == 422 and "password_banned" in codes(refused)

    def test_temporary_password_at_sign_up(self, api: Api, banned: Any, make_user: Any) -> None:
        make_user(banned, "ga@contoso.com", roles=["global-administrator"])
        api.sign_in("contoso", "ga@contoso.com")
        refused = api.call("POST", "/tenants/contoso/users",
                           {"upn": "new@contoso.com", "password": BANNED})
        assert refused.status_code == 422 and "password_banned" in codes(refused)
        with pytest.raises(CommandError, match="common or banned"):
            call_command("user", "create", "contoso", "cli@contoso.com", "--password", BANNED)

    def test_the_pre_check_before_a_hybrid_writeback(
        self, api: Api, banned: Any, alice: User
    ) -> None:
        """A synced user's banned password is refused here, before any agent is asked."""
        from sspr.hybrid.models import Command

        update_policy(banned, {"writeback_enabled": True}, actor="t")
        api.sign_in("contoso", alice.upn)
        User.objects.filter(pk=alice.pk).update(source="synced", password_hash="")
        refused = api.call("POST", "/me/password",
                           {"current_password": PASSWORD, "new_password": BANNED})
        assert refused.status_code == 422 and "password_banned" in codes(refused)
        assert not Command.objects.exists()
        event = AuditEvent.objects.filter(activity="Change password (self-service)").first()
        assert event is not None and event.reason == "New password does not meet the rules"

    def test_the_user_and_tenant_names_count(self, api: Api, banned: Any, make_user: Any) -> None:
        make_user(banned, "ga@contoso.com", roles=["global-administrator"])
        api.sign_in("contoso", "ga@contoso.com")
        refused = api.call("POST", "/tenants/contoso/users", {
            "upn": "poll@contoso.com", "given_name": "Poll", "password": "p0LL23fb"})
        assert "password_banned" in codes(refused)


class TestAuditMode:
    def test_audit_mode_accepts_and_records(self, api: Api, banned: Any, alice: User) -> None:
        update_policy(banned, {"password_protection": "audit"}, actor="t")
        api.sign_in("contoso", alice.upn)
        accepted = api.call("POST", "/me/password",
                            {"current_password": PASSWORD, "new_password": BANNED})
        assert accepted.status_code == 200
        event = AuditEvent.objects.get(
            activity="Password would have been rejected (audit mode)")
        assert event.details == {"rules": ["password_banned"], "entry": "change"}
        assert BANNED not in str(event.details) and BANNED not in event.reason

    def test_audit_mode_still_enforces_the_basic_rules(
        self, api: Api, banned: Any, alice: User
    ) -> None:
        update_policy(banned, {"password_protection": "audit"}, actor="t")
        api.sign_in("contoso", alice.upn)
        refused = api.call("POST", "/me/password",
                           {"current_password": PASSWORD, "new_password": "contoso"})
        assert "password_too_short" in codes(refused)
        assert "password_banned" not in codes(refused)
