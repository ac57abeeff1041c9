"""Conditional access for security info, through the API and the pages as a user meets it.

Contoso trusts its office range 203.0.113.0/24. The policy "Protect registration" asks everyone
outside it to prove an already-registered method (or a Temporary Access Pass) before adding or
changing one. Requests come from an address set on the test client's socket (REMOTE_ADDR).
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.core import mail
from django.test import Client
from django.utils import timezone

from sspr.access import access_policies, temporary_pass
from sspr.access.locations import create_location
from sspr.access.models import StepUp
from sspr.audit.models import AuditEvent
from sspr.directory.models import User
from sspr.messaging.models import OutboxMessage
from sspr.policy.sspr_policy import update_policy
from tests.conftest import Api, browser, csrf_token
from tests.reset_helpers import last_code_to, register_email

pytestmark = pytest.mark.django_db

OFFICE = "203.0.113.20"
HOME = "192.0.2.77"
HELPDESK = "https://help.contoso.com/security-info"


@pytest.fixture
def contoso(tenant: Any) -> Any:
    update_policy(
        tenant,
        {"enabled_for": "all", "methods_enabled": "email,sms,totp", "helpdesk_url": HELPDESK},
        actor="test",
    )
    create_location(tenant, "Office", ["203.0.113.0/24", "2001:db8:1::/48"], trusted=True)
    access_policies.create_access_policy(
        tenant,
        {
            "name": "Protect registration",
            "include_all": True,
            "where": "untrusted",
            "decision": "require_method",
            "state": "on",
        },
    )
    return tenant


@pytest.fixture
def registered(contoso: Any, alice: User) -> User:
    """Alice, with her email registered."""
    register_email(alice)
    mail.outbox.clear()
    return alice


@pytest.fixture
def me(registered: User, api: Api) -> Api:
    assert api.sign_in("contoso", registered.upn).status_code == 201
    return api


def add_sms(api: Api, address: str, number: str = "+14255550123") -> Any:
    return api.call("POST", "/me/methods", {"method": "sms", "value": number},
                    REMOTE_ADDR=address)


def last_event(activity: str) -> AuditEvent:
    event = AuditEvent.objects.filter(activity=activity).first()  # newest first
    assert event is not None, f"no {activity!r} event"
    return event


class TestUntrustedAddress:
    def test_adding_a_method_needs_proof_first(self, me: Api) -> None:
        refused = add_sms(me, HOME)
        assert refused.status_code == 403
        assert refused.json()["code"] == "step_up_required"
        assert "already registered" in refused.json()["message"]
        assert refused.json()["methods"] == ["email"]
        assert not OutboxMessage.objects.filter(to="+14255550123").exists(), "a code was sent"

    def test_the_refusal_is_audited_with_the_address_and_the_policy(self, me: Api) -> None:
        add_sms(me, HOME)
        event = last_event("User registered security info")
        assert event.result == "failure" and event.ip == HOME
        evaluation = event.details["conditional_access"]
        assert evaluation["address"] == HOME and evaluation["decision"] == "require_method"
        assert evaluation["policies"] == [{
            "id": evaluation["policies"][0]["id"], "name": "Protect registration", "state": "on",
            "applies": True, "result": "require_method", "report_only": False,
            "reason": "all users, outside trusted locations",
        }]

    def test_proving_the_registered_email_lets_the_user_add_a_method(
        self, me: Api, registered: User
    ) -> None:
        sent = me.call("POST", "/me/step-up/challenges", {"method": "email"}, REMOTE_ADDR=HOME)
        assert sent.status_code == 202 and sent.json()["sent_to"] == "a***@contoso.com"
        assert "change its security info" in mail.outbox[-1].body
        wrong = me.call("POST", "/me/step-up/verifications",
                        {"method": "email", "code": "00000000"}, REMOTE_ADDR=HOME)
        assert wrong.status_code == 422
        proven = me.call("POST", "/me/step-up/verifications",
                         {"method": "email", "code": last_code_to(registered.upn)},
                         REMOTE_ADDR=HOME)
        assert proven.status_code == 200 and proven.json()["proven_by"] == "email"
        added = add_sms(me, HOME)
        assert added.status_code == 201
        confirmed = me.call("POST", f"/me/methods/{added.json()['id']}/verification",
                            {"code": last_code_to("+14255550123")}, REMOTE_ADDR=HOME)
        assert confirmed.status_code == 200 and confirmed.json()["state"] == "active"
        event = last_event("User registered security info")
        assert event.result == "success" and event.details["method"] == "sms"
        assert event.details["conditional_access"]["proven_by"] == "email"
        assert event.details["conditional_access"]["address"] == HOME

    def test_the_proof_lasts_ten_minutes(self, me: Api, registered: User) -> None:
        me.call("POST", "/me/step-up/challenges", {"method": "email"}, REMOTE_ADDR=HOME)
        me.call("POST", "/me/step-up/verifications",
                {"method": "email", "code": last_code_to(registered.upn)}, REMOTE_ADDR=HOME)
        StepUp.objects.update(expires_at=timezone.now() - timedelta(seconds=1))
        assert add_sms(me, HOME).json()["code"] == "step_up_required"

    def test_removing_or_confirming_a_method_needs_proof_too(self, me: Api) -> None:
        started = add_sms(me, OFFICE)
        assert started.status_code == 201
        confirm = me.call("POST", f"/me/methods/{started.json()['id']}/verification",
                          {"code": last_code_to("+14255550123")}, REMOTE_ADDR=HOME)
        assert confirm.status_code == 403 and confirm.json()["code"] == "step_up_required"
        email = me.call("GET", "/me/methods").json()["methods"][0]
        removed = me.call("DELETE", f"/me/methods/{email['id']}", REMOTE_ADDR=HOME)
        assert removed.status_code == 403 and removed.json()["code"] == "step_up_required"
        assert len(me.call("GET", "/me/methods").json()["methods"]) == 1

    def test_a_user_without_a_method_needs_a_temporary_access_pass(
        self, contoso: Any, make_user: Any, make_api: Any
    ) -> None:
        bob = make_user(contoso, "bob@contoso.com")
        api = make_api()
        api.sign_in("contoso", bob.upn)
        state = api.call("GET", "/me/step-up", REMOTE_ADDR=HOME).json()
        assert state["decision"] == "require_method" and state["methods"] == []
        assert add_sms(api, HOME).json()["code"] == "step_up_required"
        issued = temporary_pass.issue("test", bob)
        proven = api.call("POST", "/me/step-up/verifications",
                          {"temporary_access_pass": issued.passcode}, REMOTE_ADDR=HOME)
        assert proven.status_code == 200
        assert proven.json()["proven_by"] == "temporary_access_pass"
        assert add_sms(api, HOME).status_code == 201
        # One-time: the same pass does not prove a second session.
        again = make_api()
        again.sign_in("contoso", bob.upn)
        reused = again.call("POST", "/me/step-up/verifications",
                            {"temporary_access_pass": issued.passcode}, REMOTE_ADDR=HOME)
        assert reused.status_code == 422
        assert reused.json()["code"] == "temporary_access_pass_refused"


class TestTrustedAddress:
    def test_from_the_office_range_nothing_more_is_asked(self, me: Api) -> None:
        assert add_sms(me, OFFICE).status_code == 201

    def test_ipv6_office_range(self, me: Api) -> None:
        assert add_sms(me, "2001:db8:1::42").status_code == 201


class TestReportOnly:
    def test_report_only_logs_and_allows(self, me: Api, contoso: Any) -> None:
        access_policies.update_access_policy(
            contoso, "Protect registration", {"state": "report_only"}
        )
        added = add_sms(me, HOME)
        assert added.status_code == 201
        me.call("POST", f"/me/methods/{added.json()['id']}/verification",
                {"code": last_code_to("+14255550123")}, REMOTE_ADDR=HOME)
        evaluation = last_event("User registered security info").details["conditional_access"]
        assert evaluation["decision"] == "allow"
        assert evaluation["report_only_decision"] == "require_method"
        assert evaluation["policies"][0]["report_only"] is True
        assert evaluation["policies"][0]["result"] == "require_method"


class TestBlock:
    @pytest.fixture
    def blocking(self, contoso: Any) -> None:
        access_policies.update_access_policy(contoso, "Protect registration", {"decision": "block"})

    def test_the_api_says_so_with_the_helpdesk_link(self, me: Api, blocking: None) -> None:
        refused = add_sms(me, HOME)
        assert refused.status_code == 403
        body = refused.json()
        assert body["code"] == "access_blocked"
        assert HELPDESK in body["message"] and body["helpdesk"] == HELPDESK
        assert last_event("User registered security info").reason == (
            "Blocked by conditional access"
        )

    def test_a_proof_does_not_lift_a_block(self, me: Api, blocking: None, registered: User) -> None:
        me.call("POST", "/me/step-up/challenges", {"method": "email"}, REMOTE_ADDR=HOME)
        me.call("POST", "/me/step-up/verifications",
                {"method": "email", "code": last_code_to(registered.upn)}, REMOTE_ADDR=HOME)
        assert add_sms(me, HOME).json()["code"] == "access_blocked"

    def test_the_page_shows_the_message_and_the_helpdesk_link(
        self, registered: User, blocking: None
    ) -> None:
        page = browser(registered.upn)
        html = page.get("/t/contoso/register", REMOTE_ADDR=HOME).content.decode()
        assert 'id="access-blocked"' in html and f'href="{HELPDESK}"' in html
        assert "does not allow adding or changing security info" in html
        assert 'class="add-method"' not in html


class TestForwardedAddresses:
    """X-Forwarded-For counts only when the direct peer is a configured trusted proxy."""

    def test_a_spoofed_header_from_an_untrusted_peer_changes_nothing(
        self, me: Api, settings: Any
    ) -> None:
        settings.TRUSTED_PROXIES = ["127.0.0.1"]
        refused = me.call("POST", "/me/methods", {"method": "sms", "value": "+14255550123"},
                          REMOTE_ADDR=HOME, HTTP_X_FORWARDED_FOR=OFFICE)
        assert refused.status_code == 403 and refused.json()["code"] == "step_up_required"
        event = last_event("User registered security info")
        assert event.ip == HOME and event.details["conditional_access"]["address"] == HOME

    def test_the_header_of_a_trusted_proxy_is_used(self, me: Api, settings: Any) -> None:
        settings.TRUSTED_PROXIES = ["127.0.0.1"]
        added = me.call("POST", "/me/methods", {"method": "sms", "value": "+14255550123"},
                        REMOTE_ADDR="127.0.0.1", HTTP_X_FORWARDED_FOR=f"{HOME}, {OFFICE}")
        assert added.status_code == 201
        refused = me.call("POST", "/me/methods", {"method": "sms", "value": "+14255550123"},
                          REMOTE_ADDR="127.0.0.1", HTTP_X_FORWARDED_FOR=f"{OFFICE}, {HOME}")
        assert refused.status_code == 403
        assert last_event("User registered security info").ip == HOME


class TestRegistrationPage:
    def test_step_up_on_the_page_then_add(self, registered: User) -> None:
        page = browser(registered.upn)
        html = page.get("/t/contoso/register", REMOTE_ADDR=HOME).content.decode()
        assert 'id="step-up"' in html and 'class="add-method"' not in html
        forged = page.post("/t/contoso/register", {
            "action": "add", "method": "sms", "value": "+14255550123",
            "csrfmiddlewaretoken": csrf_token(html)}, REMOTE_ADDR=HOME)
        assert forged.status_code == 400 and "prove that it is you" in forged.content.decode()
        verify = page.get("/t/contoso/verify-identity", REMOTE_ADDR=HOME).content.decode()
        token = csrf_token(verify)
        page.post("/t/contoso/verify-identity", {
            "action": "send", "method": "email", "csrfmiddlewaretoken": token}, REMOTE_ADDR=HOME)
        done = page.post("/t/contoso/verify-identity", {
            "action": "verify", "method": "email", "code": last_code_to(registered.upn),
            "csrfmiddlewaretoken": token}, REMOTE_ADDR=HOME)
        assert done.status_code == 302 and done["Location"] == "/t/contoso/register"
        html = page.get("/t/contoso/register", REMOTE_ADDR=HOME).content.decode()
        assert 'id="step-up"' not in html and 'id="add-sms"' in html

    def test_from_the_office_the_page_offers_everything(self, registered: User) -> None:
        html = browser(registered.upn).get("/t/contoso/register", REMOTE_ADDR=OFFICE)
        assert 'id="add-sms"' in html.content.decode()


class TestAdminPortal:
    @pytest.fixture
    def admin(self, contoso: Any, make_user: Any) -> User:
        user = make_user(contoso, "admin@contoso.com", roles=["global-administrator"])
        register_email(user)
        access_policies.create_access_policy(contoso, {
            "name": "Admins from the office", "action": "admin_sign_in", "include_roles":
            "global-administrator", "where": "untrusted", "decision": "block", "state": "on",
        })
        return user

    def test_blocked_outside_the_office_with_the_helpdesk_link(self, admin: User) -> None:
        page = browser(admin.upn)
        refused = page.get("/t/contoso/admin/", REMOTE_ADDR=HOME)
        assert refused.status_code == 403
        html = refused.content.decode()
        assert "does not allow signing in to the admin portal" in html and HELPDESK in html
        event = last_event("Sign-in to the admin portal")
        assert event.result == "failure" and event.details["conditional_access"]["address"] == HOME

    def test_allowed_from_the_office_and_recorded_once(self, admin: User) -> None:
        page = browser(admin.upn)
        assert page.get("/t/contoso/admin/", REMOTE_ADDR=OFFICE).status_code == 200
        assert page.get("/t/contoso/admin/users/", REMOTE_ADDR=OFFICE).status_code == 200
        events = AuditEvent.objects.filter(activity="Sign-in to the admin portal")
        assert [e.result for e in events] == ["success"]
        # A new address is evaluated again.
        assert page.get("/t/contoso/admin/", REMOTE_ADDR=HOME).status_code == 403

    def test_require_method_sends_the_admin_to_prove_it(self, admin: User, contoso: Any) -> None:
        access_policies.update_access_policy(
            contoso, "Admins from the office", {"decision": "require_method"}
        )
        page = browser(admin.upn)
        sent = page.get("/t/contoso/admin/", REMOTE_ADDR=HOME)
        assert sent.status_code == 302
        assert sent["Location"] == "/t/contoso/verify-identity?next=%2Ft%2Fcontoso%2Fadmin%2F"
        verify = page.get(sent["Location"], REMOTE_ADDR=HOME).content.decode()
        token = csrf_token(verify)
        page.post("/t/contoso/verify-identity", {"action": "send", "method": "email",
                  "next": "/t/contoso/admin/", "csrfmiddlewaretoken": token}, REMOTE_ADDR=HOME)
        done = page.post("/t/contoso/verify-identity", {
            "action": "verify", "method": "email", "code": last_code_to(admin.upn),
            "next": "/t/contoso/admin/", "csrfmiddlewaretoken": token}, REMOTE_ADDR=HOME)
        assert done["Location"] == "/t/contoso/admin/"
        assert page.get("/t/contoso/admin/", REMOTE_ADDR=HOME).status_code == 200

    def test_other_tenants_policies_do_not_apply(
        self, admin: User, other_tenant: Any, make_user: Any
    ) -> None:
        make_user(other_tenant, "boss@fabrikam.com", roles=["global-administrator"])
        page = Client()
        page.post("/t/fabrikam/sign-in", {"username": "boss@fabrikam.com",
                                           "password": "Correct-Horse-42"})
        assert page.get("/t/fabrikam/admin/", REMOTE_ADDR=HOME).status_code == 200
