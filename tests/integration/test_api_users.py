"""Administrators list and create users; everyone else is refused with a code."""

from __future__ import annotations

from typing import Any

import pytest

from sspr.audit.models import AuditEvent
from sspr.directory.models import User
from tests.conftest import Api

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin(tenant: Any, make_user: Any) -> User:
    return make_user(tenant, "admin@contoso.com", roles=["global-administrator"])


class TestUsers:
    def test_admin_creates_a_user_with_a_temporary_password(
        self, api: Api, admin: User, make_api: Any
    ) -> None:
        api.sign_in("contoso", admin.upn)
        response = api.call("POST", "/tenants/contoso/users", {
            "upn": "Dan@Contoso.com", "password": "Harbor-Quartz-57", "mail": "dan@contoso.com",
            "roles": ["helpdesk-administrator"]})
        assert response.status_code == 201
        body = response.json()
        assert body["upn"] == "dan@contoso.com"
        assert body["must_change_password"] is True
        assert body["roles"] == ["helpdesk-administrator"]
        dan = make_api()
        assert dan.sign_in("contoso", "dan@contoso.com", "Harbor-Quartz-57").json()[
            "must_change_password"] is True
        activities = set(AuditEvent.objects.values_list("activity", flat=True))
        assert {"Add user", "Add member to role"} <= activities

    def test_weak_password_is_refused_with_the_rules(self, api: Api, admin: User) -> None:
        api.sign_in("contoso", admin.upn)
        response = api.call("POST", "/tenants/contoso/users",
                            {"upn": "eve@contoso.com", "password": "weak"})
        assert response.status_code == 422
        assert response.json()["code"] == "password_rejected"
        assert not User.objects.filter(upn="eve@contoso.com").exists()

    def test_duplicate_upn_is_a_conflict(self, api: Api, admin: User, alice: User) -> None:
        api.sign_in("contoso", admin.upn)
        response = api.call("POST", "/tenants/contoso/users", {"upn": "ALICE@contoso.com"})
        assert response.status_code == 409
        assert response.json()["code"] == "conflict"

    def test_bad_upn_and_unknown_role_are_explained(self, api: Api, admin: User) -> None:
        api.sign_in("contoso", admin.upn)
        bad_upn = api.call("POST", "/tenants/contoso/users", {"upn": "not an address"})
        assert (bad_upn.status_code, bad_upn.json()["code"]) == (422, "invalid_value")
        bad_role = api.call("POST", "/tenants/contoso/users",
                            {"upn": "x@contoso.com", "roles": ["emperor"]})
        assert bad_role.status_code == 422 and "emperor" in bad_role.json()["message"]

    def test_list_and_search(self, api: Api, admin: User, alice: User) -> None:
        api.sign_in("contoso", admin.upn)
        everyone = api.call("GET", "/tenants/contoso/users").json()
        assert everyone["count"] == 2
        assert [u["upn"] for u in everyone["items"]] == ["admin@contoso.com", "alice@contoso.com"]
        found = api.call("GET", "/tenants/contoso/users?search=alic").json()
        assert [u["upn"] for u in found["items"]] == ["alice@contoso.com"]

    def test_plain_users_see_no_user_list(self, api: Api, alice: User) -> None:
        api.sign_in("contoso", alice.upn)
        response = api.call("GET", "/tenants/contoso/users")
        assert response.status_code == 403 and response.json()["code"] == "forbidden"

    def test_helpdesk_may_list_but_not_create(
        self, api: Api, tenant: Any, make_user: Any
    ) -> None:
        make_user(tenant, "help@contoso.com", roles=["helpdesk-administrator"])
        api.sign_in("contoso", "help@contoso.com")
        assert api.call("GET", "/tenants/contoso/users").status_code == 200
        refused = api.call("POST", "/tenants/contoso/users", {"upn": "z@contoso.com"})
        assert refused.status_code == 403
        assert not User.objects.filter(upn="z@contoso.com").exists()
