"""Sign-in through the API: tokens, one generic refusal, smart lockout, rehashing."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.test import override_settings
from django.utils import timezone

from sspr.audit.models import AuditEvent
from sspr.directory.models import Lockout, User
from sspr.directory.passwords import hasher
from tests.conftest import PASSWORD, Api

pytestmark = pytest.mark.django_db


class TestSignIn:
    def test_right_password_gives_a_token_that_works(self, api: Api, alice: User) -> None:
        response = api.sign_in("contoso", "Alice@Contoso.com")
        assert response.status_code == 201
        body = response.json()
        assert body["token_type"] == "Bearer" and body["user"]["upn"] == "alice@contoso.com"
        me = api.call("GET", "/me")
        assert me.status_code == 200 and me.json()["upn"] == "alice@contoso.com"

    def test_wrong_password_and_unknown_user_look_the_same(self, api: Api, alice: User) -> None:
        """No hint whether the account exists: same status, code and message."""
        wrong = api.sign_in("contoso", "alice@contoso.com", "Not-The-One-1")
        unknown = api.sign_in("contoso", "nobody@contoso.com", "Not-The-One-1")
        assert wrong.status_code == unknown.status_code == 401
        assert wrong.json() == unknown.json() == {
            "code": "invalid_credentials",
            "message": "Your account or password is incorrect.",
        }

    def test_unknown_tenant_is_a_json_404(self, api: Api) -> None:
        response = api.sign_in("nowhere", "a@b.cd")
        assert response.status_code == 404
        assert response.json()["code"] == "not_found"

    def test_disabled_user_is_told_only_after_the_right_password(
        self, api: Api, alice: User
    ) -> None:
        User.objects.filter(pk=alice.pk).update(enabled=False)
        assert api.sign_in("contoso", alice.upn, "Wrong-Pass-9").json()["code"] == (
            "invalid_credentials"
        )
        assert api.sign_in("contoso", alice.upn).json()["code"] == "account_disabled"

    def test_malformed_json_is_a_400_with_a_code(self, api: Api) -> None:
        response = api.client.post("/api/v1/tenants/contoso/sessions", data="{nope",
                                   content_type="application/json")
        assert response.status_code == 400
        assert set(response.json()) == {"code", "message"}

    def test_missing_field_is_a_422_naming_it(self, api: Api, tenant: Any) -> None:
        response = api.call("POST", "/tenants/contoso/sessions", {"username": "a@b.cd"})
        assert response.status_code == 422
        assert response.json()["code"] == "invalid_request"
        assert "password" in response.json()["message"]

    def test_oversized_body_is_refused_cleanly(self, api: Api, tenant: Any) -> None:
        response = api.call("POST", "/tenants/contoso/sessions",
                            {"username": "a@b.cd", "password": "x" * 100_000})
        assert response.status_code in (413, 422)
        assert "code" in response.json()

    def test_no_token_is_a_401_with_a_code(self, api: Api) -> None:
        response = api.call("GET", "/me")
        assert response.status_code == 401
        assert response.json()["code"] == "unauthenticated"

    def test_signing_out_ends_the_token(self, api: Api, alice: User) -> None:
        api.sign_in("contoso", alice.upn)
        assert api.call("DELETE", "/me/session").status_code == 204
        assert api.call("GET", "/me").status_code == 401

    def test_sign_in_is_audited_without_secrets(self, api: Api, alice: User) -> None:
        api.sign_in("contoso", alice.upn)
        api.sign_in("contoso", alice.upn, "Bad-Guess-11")
        events = AuditEvent.objects.filter(activity="Sign-in").order_by("id")
        assert [e.result for e in events] == ["success", "failure"]
        assert events[1].reason == "Invalid username or password"


class TestSmartLockout:
    def _fail(self, api: Api, upn: str, n: int) -> list[int]:
        return [api.sign_in("contoso", upn, f"Wrong-Guess-{i}").status_code for i in range(n)]

    def test_ten_failures_lock_for_a_minute_and_say_so(self, api: Api, alice: User) -> None:
        assert self._fail(api, alice.upn, 9) == [401] * 9
        assert api.sign_in("contoso", alice.upn, "Wrong-Guess-x").status_code == 401
        locked = api.sign_in("contoso", alice.upn)  # even the right password
        assert locked.status_code == 429
        body = locked.json()
        assert body["code"] == "account_locked"
        assert 55 <= body["retry_after"] <= 60
        assert f"{body['retry_after']} seconds" in body["message"]
        assert locked["Retry-After"] == str(body["retry_after"])
        last = AuditEvent.objects.filter(activity="Sign-in").first()
        assert last is not None and last.reason == "Account locked (smart lockout)"

    def test_unknown_names_lock_exactly_like_real_ones(self, api: Api, alice: User) -> None:
        real = self._fail(api, alice.upn, 11)
        ghost = self._fail(api, "ghost@contoso.com", 11)
        assert real == ghost == [401] * 10 + [429]

    def test_the_same_wrong_password_counts_once(self, api: Api, alice: User) -> None:
        for _ in range(15):
            assert api.sign_in("contoso", alice.upn, "Same-Wrong-1").status_code == 401
        assert api.sign_in("contoso", alice.upn).status_code == 201

    def test_the_lock_grows_after_it_expires(self, api: Api, alice: User) -> None:
        self._fail(api, alice.upn, 10)
        Lockout.objects.filter(key=alice.upn).update(
            locked_until=timezone.now() - timedelta(seconds=1))
        assert api.sign_in("contoso", alice.upn, "Wrong-Again-1").status_code == 401
        second = api.sign_in("contoso", alice.upn)
        assert second.status_code == 429
        assert 110 <= second.json()["retry_after"] <= 120

    def test_success_forgives_earlier_failures(self, api: Api, alice: User) -> None:
        self._fail(api, alice.upn, 9)
        assert api.sign_in("contoso", alice.upn).status_code == 201
        assert self._fail(api, alice.upn, 9) == [401] * 9

    def test_lockout_is_per_tenant(self, api: Api, alice: User, other_tenant: Any,
                                   make_user: Any) -> None:
        make_user(other_tenant, "alice@contoso.com")
        self._fail(api, alice.upn, 10)
        assert api.sign_in("fabrikam", "alice@contoso.com").status_code == 201


class TestRehash:
    def test_password_is_rehashed_when_parameters_change(self, api: Api, alice: User) -> None:
        old_hash = alice.password_hash
        assert "m=19456,t=2,p=1" in old_hash
        with override_settings(ARGON2_TIME_COST=3):
            assert hasher().time_cost == 3
            assert api.sign_in("contoso", alice.upn).status_code == 201
        alice.refresh_from_db()
        assert "m=19456,t=3,p=1" in alice.password_hash
        assert api.sign_in("contoso", alice.upn, PASSWORD).status_code == 201
