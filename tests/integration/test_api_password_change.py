"""Password change through the API: verified, checked, committed whole, others signed out."""

from __future__ import annotations

from typing import Any

import pytest
from django.core import mail

from sspr.audit.models import AuditEvent
from sspr.directory.models import Source, User
from sspr.directory.passwords import verify_password
from tests.conftest import PASSWORD, Api

pytestmark = pytest.mark.django_db

NEW = "Bright-Comet-77"


def change(api: Api, current: str = PASSWORD, new: str = NEW) -> Any:
    return api.call("POST", "/me/password", {"current_password": current, "new_password": new})


class TestChange:
    def test_change_takes_effect_and_the_old_password_stops_working(
        self, api: Api, alice: User, make_api: Any, django_capture_on_commit_callbacks: Any
    ) -> None:
        api.sign_in("contoso", alice.upn)
        with django_capture_on_commit_callbacks(execute=True):
            response = change(api)
        assert response.status_code == 200
        assert make_api().sign_in("contoso", alice.upn, PASSWORD).status_code == 401
        assert make_api().sign_in("contoso", alice.upn, NEW).status_code == 201

    def test_other_sessions_end_but_this_one_stays(
        self, api: Api, alice: User, make_api: Any
    ) -> None:
        other = make_api()
        other.sign_in("contoso", alice.upn)
        api.sign_in("contoso", alice.upn)
        assert change(api).status_code == 200
        assert other.call("GET", "/me").status_code == 401
        assert api.call("GET", "/me").status_code == 200

    def test_user_is_notified_by_email(
        self, api: Api, alice: User, django_capture_on_commit_callbacks: Any
    ) -> None:
        api.sign_in("contoso", alice.upn)
        with django_capture_on_commit_callbacks(execute=True):
            change(api)
        assert len(mail.outbox) == 1
        message = mail.outbox[0]
        assert message.to == ["alice@contoso.com"]
        assert "password was changed" in message.subject
        assert NEW not in message.body and PASSWORD not in message.body

    def test_audited_as_change_password_self_service(self, api: Api, alice: User) -> None:
        api.sign_in("contoso", alice.upn)
        change(api)
        event = AuditEvent.objects.get(activity="Change password (self-service)")
        assert (event.result, event.actor, event.target) == ("success", alice.upn, alice.upn)
        assert event.details["other_sessions_ended"] == 0
        assert event.correlation_id


class TestRefusals:
    def test_wrong_current_password_changes_nothing(self, api: Api, alice: User) -> None:
        api.sign_in("contoso", alice.upn)
        before = User.objects.get(pk=alice.pk).password_hash
        response = change(api, current="Not-Mine-123")
        assert response.status_code == 422
        assert response.json()["code"] == "current_password_incorrect"
        assert User.objects.get(pk=alice.pk).password_hash == before
        event = AuditEvent.objects.get(activity="Change password (self-service)")
        assert (event.result, event.reason) == ("failure", "Current password incorrect")

    def test_every_broken_rule_is_named(self, api: Api, alice: User) -> None:
        api.sign_in("contoso", alice.upn)
        response = change(api, new="alice")
        assert response.status_code == 422
        body = response.json()
        assert body["code"] == "password_rejected"
        assert [r["code"] for r in body["rules"]] == [
            "password_too_short", "password_too_simple", "password_contains_account_name",
            "password_banned", "password_breached"]
        assert all(r["message"] for r in body["rules"])
        assert verify_password(User.objects.get(pk=alice.pk).password_hash, PASSWORD)

    def test_the_current_password_cannot_be_kept(self, api: Api, alice: User) -> None:
        api.sign_in("contoso", alice.upn)
        response = change(api, new=PASSWORD)
        assert [r["code"] for r in response.json()["rules"]] == ["password_reused"]

    def test_wrong_current_password_counts_toward_lockout(self, api: Api, alice: User) -> None:
        api.sign_in("contoso", alice.upn)
        codes = [change(api, current=f"Guess-{i}-aaA").status_code for i in range(10)]
        assert codes == [422] * 10
        assert change(api).json()["code"] == "account_locked"

    def test_synced_users_need_writeback(self, api: Api, alice: User) -> None:
        api.sign_in("contoso", alice.upn)
        User.objects.filter(pk=alice.pk).update(source=Source.SYNCED)
        response = change(api)
        assert response.status_code == 409
        assert response.json()["code"] == "writeback_unavailable"


class TestMustChange:
    def test_a_must_change_user_can_only_change_the_password(
        self, api: Api, tenant: Any, make_user: Any
    ) -> None:
        make_user(tenant, "carol@contoso.com", must_change_password=True)
        signed_in = api.sign_in("contoso", "carol@contoso.com")
        assert signed_in.json()["must_change_password"] is True
        listing = api.call("GET", "/tenants/contoso/users")
        assert listing.status_code == 403
        assert listing.json()["code"] == "password_change_required"
        assert change(api).status_code == 200
        assert api.call("GET", "/me").json()["must_change_password"] is False
