"""The reset and security-info pages, driven as a browser without JavaScript would."""

from __future__ import annotations

from typing import Any

import pytest
from django.core import mail
from django.test import Client

from sspr.directory.models import User
from sspr.methods.models import RegisteredMethod
from sspr.policy.sspr_policy import update_policy
from tests.conftest import PASSWORD, Api
from tests.reset_helpers import last_code_to, register_email

pytestmark = pytest.mark.django_db


@pytest.fixture
def open_tenant(tenant: Any) -> Any:
    update_policy(tenant, {"enabled_for": "all", "captcha_enabled": False,
                           "helpdesk_url": "https://help.contoso.com"}, actor="test")
    return tenant


class TestResetPages:
    def test_reset_by_email_code_end_to_end(self, open_tenant: Any, alice: User) -> None:
        register_email(alice)
        mail.outbox.clear()
        browser = Client()
        page = browser.get("/t/contoso/reset")
        assert page.status_code == 200 and b"Get back into your account" in page.content
        assert browser.post("/t/contoso/reset", {"username": alice.upn}).status_code == 302
        choose = browser.get("/t/contoso/reset/verify")
        assert b"Email a code to a***@contoso.com" in choose.content
        browser.post("/t/contoso/reset/verify", {"action": "challenge", "method": "email"})
        gate = browser.get("/t/contoso/reset/verify")
        assert b"We sent a code to a***@contoso.com" in gate.content
        wrong = browser.post("/t/contoso/reset/verify",
                             {"action": "verify", "method": "email", "code": "12345678"})
        assert wrong.status_code == 400 and b"did not match" in wrong.content
        ok = browser.post("/t/contoso/reset/verify", {
            "action": "verify", "method": "email", "code": last_code_to(alice.upn)})
        assert ok["Location"] == "/t/contoso/reset/password"
        mismatch = browser.post("/t/contoso/reset/password",
                                {"new_password": "Tidal-Grove-88", "confirm_password": "x"})
        assert b"do not match" in mismatch.content
        done = browser.post("/t/contoso/reset/password", {
            "new_password": "Tidal-Grove-88", "confirm_password": "Tidal-Grove-88"})
        assert b"Your password has been reset" in done.content
        assert browser.get("/t/contoso/account").status_code == 302  # not signed in
        assert Api().sign_in("contoso", alice.upn, "Tidal-Grove-88").status_code == 201

    def test_someone_who_cannot_reset_sees_the_helpdesk(self, open_tenant: Any) -> None:
        browser = Client()
        browser.post("/t/contoso/reset", {"username": "ghost@contoso.com"})
        page = browser.get("/t/contoso/reset/verify")
        assert page.status_code == 200
        assert b"https://help.contoso.com" in page.content

    def test_skipping_to_the_password_step_goes_back_to_the_start(
        self, open_tenant: Any, alice: User
    ) -> None:
        browser = Client()
        browser.post("/t/contoso/reset", {"username": alice.upn})
        response = browser.get("/t/contoso/reset/password")
        assert response["Location"] == "/t/contoso/reset"

    def test_sspr_shortcut_leads_to_the_default_tenant(self, open_tenant: Any) -> None:
        assert Client().get("/sspr")["Location"] == "/t/contoso/reset"
        assert Client().get("/ssprsetup")["Location"] == "/t/contoso/register"


class TestRegistrationPages:
    def test_sign_in_interrupts_and_the_user_registers_email(
        self, open_tenant: Any, alice: User
    ) -> None:
        browser = Client()
        signed_in = browser.post("/t/contoso/sign-in",
                                 {"username": alice.upn, "password": PASSWORD})
        assert signed_in["Location"] == "/t/contoso/register"
        page = browser.get("/t/contoso/register")
        assert b'id="interrupt"' in page.content and b"Skip for now" in page.content
        browser.post("/t/contoso/register", {"action": "add", "method": "email",
                                             "value": "alice.home@example.com"})
        assert b"We sent a code to a***@example.com" in browser.get("/t/contoso/register").content
        done = browser.post("/t/contoso/register", {
            "action": "confirm", "code": last_code_to("alice.home@example.com")})
        assert b"Your method is registered." in done.content
        assert RegisteredMethod.objects.get(user=alice).state == "active"
        again = Client()
        assert again.post("/t/contoso/sign-in", {"username": alice.upn, "password": PASSWORD})[
            "Location"] == "/t/contoso/account"

    def test_skip_goes_on_and_asks_again_next_time(self, open_tenant: Any, alice: User) -> None:
        browser = Client()
        browser.post("/t/contoso/sign-in", {"username": alice.upn, "password": PASSWORD})
        assert browser.post("/t/contoso/register", {"action": "skip"})[
            "Location"] == "/t/contoso/account"
        assert Client().post("/t/contoso/sign-in", {"username": alice.upn, "password": PASSWORD})[
            "Location"] == "/t/contoso/register"

    def test_no_interruption_when_registration_is_not_required(
        self, open_tenant: Any, alice: User
    ) -> None:
        update_policy(open_tenant, {"registration_required": False}, actor="test")
        assert Client().post("/t/contoso/sign-in", {"username": alice.upn, "password": PASSWORD})[
            "Location"] == "/t/contoso/account"

    def test_totp_setup_shows_a_qr_code(self, open_tenant: Any, alice: User) -> None:
        browser = Client()
        browser.post("/t/contoso/sign-in", {"username": alice.upn, "password": PASSWORD})
        browser.post("/t/contoso/register", {"action": "add", "method": "totp"})
        page = browser.get("/t/contoso/register").content
        assert b'src="data:image/svg+xml' in page and b'id="totp-secret"' in page
