"""Registering methods through `/api/v1/me/methods`."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pyotp
import pytest
from django.utils import timezone

from sspr.audit.models import AuditEvent
from sspr.directory.models import Credential, User
from sspr.messaging.models import OutboxMessage
from sspr.methods.models import RegisteredMethod
from sspr.methods.question_list import PREDEFINED_QUESTIONS
from sspr.policy.sspr_policy import update_policy
from tests.conftest import Api
from tests.reset_helpers import last_code_to

pytestmark = pytest.mark.django_db


@pytest.fixture
def me(tenant: Any, alice: User, api: Api) -> Api:
    update_policy(tenant, {"enabled_for": "all",
                           "methods_enabled": "email,sms,voice,totp,questions"}, actor="t")
    api.sign_in("contoso", alice.upn)
    return api


class TestRegister:
    def test_email_needs_the_code_before_it_counts(self, me: Api, alice: User) -> None:
        added = me.call("POST", "/me/methods", {"method": "email", "value": "a.home@example.com"})
        assert added.status_code == 201
        body = added.json()
        assert (body["state"], body["sent_to"]) == ("pending", "a***@example.com")
        listing = me.call("GET", "/me/methods").json()
        assert listing["methods"] == [] and listing["interruption"] == "register"
        wrong = me.call("POST", f"/me/methods/{body['id']}/verification", {"code": "00000000"})
        assert wrong.status_code == 422 and wrong.json()["code"] == "verification_failed"
        ok = me.call("POST", f"/me/methods/{body['id']}/verification",
                     {"code": last_code_to("a.home@example.com")})
        assert ok.status_code == 200 and ok.json()["state"] == "active"
        assert me.call("GET", "/me/methods").json()["interruption"] is None
        assert AuditEvent.objects.filter(activity="User registered security info").exists()

    def test_sms_goes_through_the_phone_provider(self, me: Api) -> None:
        added = me.call("POST", "/me/methods", {"method": "sms", "value": "+1 425 555 0199"})
        assert added.json()["sent_to"] == "+1 ••• ••• ••99"
        sent = OutboxMessage.objects.get(channel="sms")
        assert sent.to == "+14255550199"
        ok = me.call("POST", f"/me/methods/{added.json()['id']}/verification",
                     {"code": last_code_to("+14255550199")})
        assert ok.json()["state"] == "active"

    def test_voice_reads_the_code_out(self, me: Api) -> None:
        me.call("POST", "/me/methods", {"method": "voice", "value": "+14255550100"})
        call = OutboxMessage.objects.get(channel="voice")
        assert "verification code is" in call.body

    def test_authenticator_app_gives_an_otpauth_uri(self, me: Api) -> None:
        added = me.call("POST", "/me/methods", {"method": "totp"}).json()
        assert added["otpauth_uri"].startswith("otpauth://totp/Contoso:alice%40contoso.com")
        code = pyotp.parse_uri(added["otpauth_uri"]).now()
        ok = me.call("POST", f"/me/methods/{added['id']}/verification", {"code": code})
        assert ok.json()["state"] == "active"
        stored = RegisteredMethod.objects.get(method="totp")
        assert added["secret"] not in stored.secret

    def test_questions_are_saved_at_once(self, me: Api) -> None:
        answers = [{"question": q, "answer": f"answer {i}"}
                   for i, q in enumerate(PREDEFINED_QUESTIONS[:3])]
        added = me.call("POST", "/me/methods", {"method": "questions", "answers": answers})
        assert added.status_code == 201 and added.json()["state"] == "active"

    def test_bad_values_are_explained(self, me: Api) -> None:
        bad_phone = me.call("POST", "/me/methods", {"method": "sms", "value": "12345"})
        assert bad_phone.status_code == 422 and "international form" in bad_phone.json()["message"]
        bad_mail = me.call("POST", "/me/methods", {"method": "email", "value": "nope"})
        assert bad_mail.status_code == 422
        unknown = me.call("POST", "/me/methods", {"method": "pigeon"})
        assert unknown.status_code == 422

    def test_a_method_the_tenant_does_not_offer_is_refused(self, me: Api, tenant: Any) -> None:
        update_policy(tenant, {"methods_enabled": "email,totp"}, actor="t")
        refused = me.call("POST", "/me/methods", {"method": "sms", "value": "+14255550100"})
        assert refused.status_code == 422 and "does not offer" in refused.json()["message"]

    def test_administrators_cannot_use_questions(
        self, tenant: Any, make_user: Any, api: Api
    ) -> None:
        update_policy(tenant, {"methods_enabled": "email,totp,questions"}, actor="t")
        make_user(tenant, "boss@contoso.com", roles=["password-administrator"])
        api.sign_in("contoso", "boss@contoso.com")
        answers = [{"question": q, "answer": f"answer {i}"}
                   for i, q in enumerate(PREDEFINED_QUESTIONS[:3])]
        refused = api.call("POST", "/me/methods", {"method": "questions", "answers": answers})
        assert refused.status_code == 403


class TestRemoveAndReview:
    def test_removal_needs_a_recent_sign_in(self, me: Api, alice: User) -> None:
        added = me.call("POST", "/me/methods", {"method": "email", "value": alice.upn}).json()
        me.call("POST", f"/me/methods/{added['id']}/verification",
                {"code": last_code_to(alice.upn)})
        Credential.objects.update(created_at=timezone.now() - timedelta(minutes=11))
        stale = me.call("DELETE", f"/me/methods/{added['id']}")
        assert stale.status_code == 403 and stale.json()["code"] == "reauthentication_required"
        fresh = Api()
        fresh.sign_in("contoso", alice.upn)
        assert fresh.call("DELETE", f"/me/methods/{added['id']}").status_code == 204
        assert not RegisteredMethod.objects.exists()

    def test_another_users_method_cannot_be_touched(
        self, me: Api, tenant: Any, make_user: Any
    ) -> None:
        bob = make_user(tenant, "bob@contoso.com")
        theirs = RegisteredMethod.objects.create(user=bob, method="email", value=bob.upn,
                                                 state="active")
        assert me.call("DELETE", f"/me/methods/{theirs.pk}").status_code == 404
        assert me.call("POST", f"/me/methods/{theirs.pk}/verification",
                       {"code": "12345678"}).status_code == 404

    def test_reconfirmation_is_asked_when_due_and_review_clears_it(
        self, me: Api, alice: User, tenant: Any
    ) -> None:
        RegisteredMethod.objects.create(user=alice, method="email", value=alice.upn,
                                        state="active",
                                        confirmed_at=timezone.now() - timedelta(days=181))
        assert me.call("GET", "/me/methods").json()["interruption"] == "reconfirm"
        reviewed = me.call("POST", "/me/methods/review").json()
        assert reviewed["interruption"] is None
        update_policy(tenant, {"reconfirm_days": 0}, actor="t")
        RegisteredMethod.objects.update(confirmed_at=timezone.now() - timedelta(days=999))
        assert me.call("GET", "/me/methods").json()["interruption"] is None
