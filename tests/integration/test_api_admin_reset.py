"""Service desk resets: a temporary password within Entra's rules of who may reset whom."""

from __future__ import annotations

from typing import Any

import pytest
from django.core import mail

from sspr.audit.models import AuditEvent
from sspr.directory.models import User
from tests.conftest import Api

pytestmark = pytest.mark.django_db


@pytest.fixture
def people(tenant: Any, make_user: Any) -> dict[str, User]:
    return {
        "ga": make_user(tenant, "ga@contoso.com", roles=["global-administrator"]),
        "helpdesk": make_user(tenant, "hd@contoso.com", roles=["helpdesk-administrator"]),
        "pa": make_user(tenant, "pa@contoso.com", roles=["password-administrator"]),
        "user": make_user(tenant, "user@contoso.com"),
    }


def reset(api: Api, upn: str, body: Any = None) -> Any:
    return api.call("POST", f"/tenants/contoso/users/{upn}/password-reset", body or {})


class TestAdminReset:
    def test_helpdesk_resets_a_user_who_must_then_change_it(
        self, api: Api, people: dict[str, User], make_api: Any,
        django_capture_on_commit_callbacks: Any,
    ) -> None:
        victim_session = make_api()
        victim_session.sign_in("contoso", "user@contoso.com")
        api.sign_in("contoso", "hd@contoso.com")
        with django_capture_on_commit_callbacks(execute=True):
            response = reset(api, "user@contoso.com")
        assert response.status_code == 200
        temporary = response.json()["temporary_password"]
        assert len(temporary) == 19 and response.json()["must_change_password"] is True
        assert victim_session.call("GET", "/me").status_code == 401
        fresh = make_api()
        assert fresh.sign_in("contoso", "user@contoso.com", temporary).json()[
            "must_change_password"] is True
        assert [m.to for m in mail.outbox] == [["user@contoso.com"]]
        assert temporary not in mail.outbox[0].body
        event = AuditEvent.objects.get(activity="Reset password (by admin)")
        assert (event.actor, event.target, event.result) == (
            "hd@contoso.com", "user@contoso.com", "success")
        assert temporary not in str(event.details)

    @pytest.mark.parametrize(("actor", "target", "allowed"), [
        ("hd@contoso.com", "ga@contoso.com", False),
        ("pa@contoso.com", "hd@contoso.com", False),
        ("hd@contoso.com", "pa@contoso.com", True),
        ("ga@contoso.com", "hd@contoso.com", True),
    ])
    def test_role_rules(self, api: Api, people: dict[str, User], actor: str, target: str,
                        allowed: bool) -> None:
        api.sign_in("contoso", actor)
        before = User.objects.get(upn=target).password_hash
        response = reset(api, target)
        assert (response.status_code == 200) is allowed
        assert (User.objects.get(upn=target).password_hash != before) is allowed
        if not allowed:
            assert response.json()["code"] == "forbidden"

    def test_plain_users_cannot_reset_anyone(self, api: Api, people: dict[str, User]) -> None:
        api.sign_in("contoso", "user@contoso.com")
        assert reset(api, "hd@contoso.com").status_code == 403

    def test_a_chosen_password_goes_through_the_rules(
        self, api: Api, people: dict[str, User]
    ) -> None:
        api.sign_in("contoso", "ga@contoso.com")
        weak = reset(api, "user@contoso.com", {"password": "short"})
        assert weak.status_code == 422 and weak.json()["code"] == "password_rejected"
        ok = reset(api, "user@contoso.com", {"password": "Granite-Hollow-47"})
        assert ok.json()["temporary_password"] == "Granite-Hollow-47"

    def test_unknown_user_is_a_404(self, api: Api, people: dict[str, User]) -> None:
        api.sign_in("contoso", "ga@contoso.com")
        assert reset(api, "nobody@contoso.com").status_code == 404
