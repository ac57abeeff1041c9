"""A token or session of one tenant reads and changes nothing of another, on every endpoint."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client

from sspr.directory.models import User
from sspr.web.api.app import api as ninja_api
from tests.conftest import PASSWORD, Api

pytestmark = pytest.mark.django_db


@pytest.fixture
def fabrikam_admin(other_tenant: Any, make_user: Any) -> User:
    return make_user(other_tenant, "boss@fabrikam.com", roles=["global-administrator"])


@pytest.fixture
def contoso_admin(tenant: Any, make_user: Any) -> User:
    return make_user(tenant, "admin@contoso.com", roles=["global-administrator"])


PUBLIC_OPERATIONS = ("/sessions", "/password-resets", "/password-checks")


def tenant_operations() -> list[tuple[str, str]]:
    """Every operation whose path names a tenant, from the OpenAPI document itself."""
    schema = ninja_api.get_openapi_schema()
    return [
        (method.upper(), path.removeprefix("/api/v1"))
        for path, operations in schema["paths"].items()
        if "{tenant}" in path
        for method in operations
    ]


class TestApiIsolation:
    def test_the_document_lists_tenant_operations(self) -> None:
        assert ("GET", "/tenants/{tenant}/users") in tenant_operations()

    @pytest.mark.parametrize(("method", "path"), tenant_operations())
    def test_a_contoso_admin_token_gets_nothing_from_fabrikam(
        self, method: str, path: str, api: Api, contoso_admin: User, fabrikam_admin: User
    ) -> None:
        api.sign_in("contoso", contoso_admin.upn)
        # Valid for every operation's schema, so that the answer is about who asks, not what.
        body = {"upn": "intruder@fabrikam.com", "password": "Intruder-Pass-1",
                "username": fabrikam_admin.upn, "method": "email", "code": "12345678",
                "template": "announcement", "group": "Staff"}
        target = path.replace("{tenant}", "fabrikam").replace("{template}", "announcement")
        response = api.call(method, target, body)
        if path.endswith(PUBLIC_OPERATIONS):
            # Public operations ignore the token: a contoso token changes nothing there.
            anonymous = Api().call(method, target, body)
            assert response.status_code == anonymous.status_code
            assert response.json().get("code") == anonymous.json().get("code")
        else:
            assert response.status_code == 403
            assert response.json()["code"] == "forbidden"
        assert not User.objects.filter(upn="intruder@fabrikam.com").exists()

    def test_same_upn_in_two_tenants_are_two_accounts(
        self, api: Api, alice: User, other_tenant: Any, make_user: Any
    ) -> None:
        make_user(other_tenant, alice.upn, password="Other-Tenant-Pw9")
        assert api.sign_in("fabrikam", alice.upn, PASSWORD).status_code == 401
        assert api.sign_in("contoso", alice.upn, "Other-Tenant-Pw9").status_code == 401
        assert api.sign_in("fabrikam", alice.upn, "Other-Tenant-Pw9").status_code == 201
        assert api.call("GET", "/me").json()["upn"] == alice.upn

    def test_me_endpoints_act_on_the_token_owner_only(
        self, api: Api, alice: User, other_tenant: Any, make_user: Any
    ) -> None:
        twin = make_user(other_tenant, alice.upn, password="Other-Tenant-Pw9")
        api.sign_in("contoso", alice.upn)
        api.call("POST", "/me/password",
                 {"current_password": PASSWORD, "new_password": "Fresh-Start-55"})
        twin.refresh_from_db()
        assert Api().sign_in("fabrikam", alice.upn, "Other-Tenant-Pw9").status_code == 201


class TestPageIsolation:
    def test_a_contoso_session_is_not_signed_in_at_fabrikam(
        self, alice: User, other_tenant: Any
    ) -> None:
        client = Client()
        response = client.post("/t/contoso/sign-in",
                               {"username": alice.upn, "password": PASSWORD})
        assert response.status_code == 302 and response["Location"] == "/t/contoso/account"
        assert client.get("/t/contoso/account").status_code == 200
        elsewhere = client.get("/t/fabrikam/account")
        assert elsewhere.status_code == 302
        assert elsewhere["Location"] == "/t/fabrikam/sign-in"
        assert client.get("/t/fabrikam/change").status_code == 302
