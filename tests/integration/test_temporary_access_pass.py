"""Temporary Access Pass: issued by an administrator, shown once, signs a user in to register
methods and nothing else; one-time or N uses, expires, revocable, audited."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

import pytest
from django.test import Client
from django.utils import timezone

from sspr.access.models import TemporaryAccessPass
from sspr.audit.models import AuditEvent
from sspr.directory.models import User
from sspr.policy.sspr_policy import update_policy
from tests.conftest import PASSWORD, Api, csrf_token
from tests.secrets_scan import assert_not_logged

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin(tenant: Any, as_role: Any) -> Api:
    update_policy(tenant, {"enabled_for": "all", "methods_enabled": "email,sms,totp"}, actor="t")
    return as_role("global-administrator", "admin@contoso.com")


def issue(admin: Api, upn: str = "alice@contoso.com", **body: Any) -> Any:
    return admin.call("POST", f"/tenants/contoso/users/{upn}/temporary-access-passes", body)


def pass_sign_in(passcode: str, upn: str = "alice@contoso.com", tenant: str = "contoso") -> Any:
    api = Api()
    response = api.call("POST", f"/tenants/{tenant}/sessions",
                        {"username": upn, "temporary_access_pass": passcode})
    if response.status_code == 201:
        api.token = response.json()["token"]
    return api, response


class TestIssue:
    def test_shown_once_stored_hashed(self, admin: Api, alice: User) -> None:
        issued = issue(admin)
        assert issued.status_code == 201
        body = issued.json()
        passcode = body["temporary_access_pass"]
        assert len(passcode.replace("-", "")) == 16 and body["max_uses"] == 1
        assert timedelta(minutes=59) < (
            timezone.datetime.fromisoformat(body["expires_at"]) - timezone.now()
        ) <= timedelta(hours=1)
        listed = admin.call("GET", "/tenants/contoso/users/alice@contoso.com/"
                                   "temporary-access-passes").json()["items"]
        assert [p["state"] for p in listed] == ["active"]
        assert passcode not in json.dumps(listed)
        stored = TemporaryAccessPass.objects.get()
        assert passcode not in stored.pass_hash and passcode.replace("-", "") not in (
            stored.pass_hash
        )
        event = AuditEvent.objects.filter(activity="Admin registered security info").get()
        assert event.actor == "admin@contoso.com" and event.target == alice.upn
        assert passcode not in json.dumps(event.details)

    @pytest.mark.parametrize(
        ("body", "code"),
        [({"lifetime": "5m"}, "invalid_lifetime"), ({"lifetime": "31d"}, "invalid_lifetime"),
         ({"lifetime": "soon"}, "invalid_lifetime"), ({"max_uses": 0}, "invalid_uses"),
         ({"max_uses": 101}, "invalid_uses")],
    )
    def test_out_of_range_is_refused_clearly(
        self, admin: Api, alice: User, body: dict[str, Any], code: str
    ) -> None:
        refused = issue(admin, **body)
        assert refused.status_code == 422 and refused.json()["code"] == code
        assert not TemporaryAccessPass.objects.exists()

    def test_a_new_pass_replaces_the_old_one(self, admin: Api, alice: User) -> None:
        first = issue(admin).json()["temporary_access_pass"]
        issue(admin)
        assert pass_sign_in(first)[1].status_code == 401

    def test_role_rules(self, tenant: Any, alice: User, as_role: Any, make_user: Any) -> None:
        make_user(tenant, "root@contoso.com", roles=["global-administrator"])
        helpdesk = as_role("helpdesk-administrator")
        assert issue(helpdesk).status_code == 201
        refused = issue(helpdesk, "root@contoso.com")
        assert refused.status_code == 403 and refused.json()["code"] == "forbidden"
        assert issue(helpdesk, "helpdesk-administrator@contoso.com").status_code == 403
        policy_admin = as_role("authentication-policy-administrator")
        assert issue(policy_admin).status_code == 201
        assert issue(policy_admin, "root@contoso.com").status_code == 403
        assert issue(as_role(None)).status_code == 403


class TestSignIn:
    def test_the_session_may_only_register_methods(self, admin: Api, alice: User) -> None:
        api, signed_in = pass_sign_in(issue(admin).json()["temporary_access_pass"])
        assert signed_in.status_code == 201
        added = api.call("POST", "/me/methods", {"method": "email", "value": "a@home.example"})
        assert added.status_code == 201
        changed = api.call("POST", "/me/password",
                           {"current_password": PASSWORD, "new_password": "Brand-New-Pass-77"})
        assert changed.status_code == 403
        assert changed.json()["code"] == "temporary_access_pass_session"
        alice.refresh_from_db()
        assert Api().sign_in("contoso", alice.upn).status_code == 201, "the password changed"
        assert api.call("GET", "/me").json()["upn"] == alice.upn
        assert api.call("DELETE", "/me/session").status_code == 204

    def test_it_never_reaches_the_administration(self, admin: Api, tenant: Any,
                                                 make_user: Any) -> None:
        make_user(tenant, "boss@contoso.com", roles=["global-administrator"])
        api, _ = pass_sign_in(issue(admin, "boss@contoso.com").json()["temporary_access_pass"],
                              "boss@contoso.com")
        users = api.call("GET", "/tenants/contoso/users")
        assert users.status_code == 403 and users.json()["code"] == "temporary_access_pass_session"
        reset = api.call("POST", "/tenants/contoso/users/admin@contoso.com/password-reset", {})
        assert reset.status_code == 403

    def test_one_time(self, admin: Api, alice: User) -> None:
        passcode = issue(admin).json()["temporary_access_pass"]
        assert pass_sign_in(passcode)[1].status_code == 201
        again = pass_sign_in(passcode)[1]
        assert again.status_code == 401 and again.json()["code"] == "invalid_credentials"

    def test_n_uses(self, admin: Api, alice: User) -> None:
        passcode = issue(admin, max_uses=2).json()["temporary_access_pass"]
        assert pass_sign_in(passcode)[1].status_code == 201
        assert pass_sign_in(passcode.upper().replace("-", " "))[1].status_code == 201
        assert pass_sign_in(passcode)[1].status_code == 401
        listed = admin.call("GET", "/tenants/contoso/users/alice@contoso.com/"
                                   "temporary-access-passes").json()["items"]
        assert (listed[0]["state"], listed[0]["uses"]) == ("used_up", 2)

    def test_expired(self, admin: Api, alice: User) -> None:
        passcode = issue(admin, lifetime="10m").json()["temporary_access_pass"]
        TemporaryAccessPass.objects.update(expires_at=timezone.now() - timedelta(seconds=1))
        assert pass_sign_in(passcode)[1].status_code == 401

    def test_revoked(self, admin: Api, alice: User) -> None:
        issued = issue(admin, max_uses=5).json()
        gone = admin.call("DELETE", f"/tenants/contoso/users/{alice.upn}/temporary-access-passes/"
                                    f"{issued['id']}")
        assert gone.status_code == 204
        assert pass_sign_in(issued["temporary_access_pass"])[1].status_code == 401
        event = AuditEvent.objects.filter(activity="Admin deleted security info").get()
        assert event.details["pass_ids"] == [issued["id"]]
        missing = admin.call("DELETE", f"/tenants/contoso/users/{alice.upn}/"
                                       "temporary-access-passes/999999")
        assert missing.status_code == 404 and missing.json()["code"] == "unknown_access_pass"

    def test_answers_tell_nothing_about_the_account(self, admin: Api, alice: User) -> None:
        issue(admin)
        wrong = pass_sign_in("aaaa-bbbb-cccc-dddd")[1]
        nobody = pass_sign_in("aaaa-bbbb-cccc-dddd", "nobody@contoso.com")[1]
        no_pass = pass_sign_in("aaaa-bbbb-cccc-dddd", "admin@contoso.com")[1]
        assert wrong.status_code == nobody.status_code == no_pass.status_code == 401
        assert wrong.json() == nobody.json() == no_pass.json()

    def test_wrong_passes_count_toward_the_lockout(self, admin: Api, alice: User) -> None:
        passcode = issue(admin).json()["temporary_access_pass"]
        for attempt in range(10):
            pass_sign_in(f"wrong-{attempt:04d}-pass")
        locked = pass_sign_in(passcode)[1]
        assert locked.status_code == 429 and locked.json()["code"] == "account_locked"
        assert Api().sign_in("contoso", alice.upn).status_code == 429

    def test_a_pass_works_in_its_own_tenant_only(
        self, admin: Api, alice: User, other_tenant: Any, make_user: Any
    ) -> None:
        make_user(other_tenant, alice.upn)
        passcode = issue(admin).json()["temporary_access_pass"]
        assert pass_sign_in(passcode, tenant="fabrikam")[1].status_code == 401
        assert pass_sign_in(passcode)[1].status_code == 201

    def test_password_and_pass_together_are_refused(self, admin: Api, alice: User) -> None:
        both = Api().call("POST", "/tenants/contoso/sessions", {
            "username": alice.upn, "password": PASSWORD, "temporary_access_pass": "x"})
        assert both.status_code == 422


class TestPages:
    def test_sign_in_with_a_pass_then_only_security_info(self, admin: Api, alice: User) -> None:
        passcode = issue(admin).json()["temporary_access_pass"]
        page = Client(enforce_csrf_checks=True)
        form = page.get("/t/contoso/sign-in").content.decode()
        assert 'href="/t/contoso/sign-in/temporary-access-pass"' in form
        token = csrf_token(page.get("/t/contoso/sign-in/temporary-access-pass").content.decode())
        signed_in = page.post("/t/contoso/sign-in/temporary-access-pass", {
            "username": alice.upn, "temporary_access_pass": passcode,
            "csrfmiddlewaretoken": token})
        assert signed_in.status_code == 302 and signed_in["Location"] == "/t/contoso/register"
        html = page.get("/t/contoso/register").content.decode()
        assert 'id="pass-session"' in html and 'id="add-email"' in html
        for elsewhere in ("/t/contoso/account", "/t/contoso/change", "/t/contoso/admin/"):
            response = page.get(elsewhere)
            assert response.status_code == 302, elsewhere
            assert response["Location"] == "/t/contoso/register", elsewhere

    def test_a_wrong_pass_on_the_page(self, alice: User) -> None:
        page = Client()
        refused = page.post("/t/contoso/sign-in/temporary-access-pass", {
            "username": alice.upn, "temporary_access_pass": "nope-nope"})
        assert refused.status_code == 401
        assert "Your account or password is incorrect." in refused.content.decode()


def test_the_pass_stays_out_of_logs_and_audit(
    admin: Api, alice: User, every_log_record: pytest.LogCaptureFixture
) -> None:
    passcode = issue(admin, max_uses=3).json()["temporary_access_pass"]
    pass_sign_in(passcode)
    pass_sign_in(passcode.replace("-", "") + "x")
    api = Api()
    api.sign_in("contoso", alice.upn)
    api.call("POST", "/me/step-up/verifications", {"temporary_access_pass": passcode})
    secrets = {"pass": passcode, "pass without dashes": passcode.replace("-", "")}
    assert_not_logged(every_log_record.records, secrets)
    for event in AuditEvent.objects.all():
        text = json.dumps(event.details) + event.reason
        assert all(s not in text for s in secrets.values()), event.activity
