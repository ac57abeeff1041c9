"""Caller verification: the helpdesk sends a code to the user's own method, the caller reads it
back. Codes reach the outbox, only the right one verifies, attempts and sends are limited, and
neither the audit trail nor the logs ever hold a code."""

from __future__ import annotations

from typing import Any

import pytest
from django.core import mail

from sspr.audit.models import AuditEvent
from sspr.directory.models import Tenant, User
from sspr.messaging.models import OutboxMessage
from tests.conftest import Api
from tests.reset_helpers import last_code_to, register_email_and_sms, reset_for_all
from tests.secrets_scan import assert_not_logged

pytestmark = pytest.mark.django_db

MOBILE = "+14255550101"
ACTIVITY = "Verify caller identity"


@pytest.fixture
def caller(tenant: Tenant, alice: User) -> User:
    """Alice, with an email address and a mobile phone registered for password reset."""
    reset_for_all(tenant, "email,sms,voice")
    return register_email_and_sms(alice, MOBILE)


@pytest.fixture
def desk(api: Api, tenant: Tenant, make_user: Any) -> Api:
    make_user(tenant, "desk@contoso.com", roles=["helpdesk-administrator"])
    api.sign_in("contoso", "desk@contoso.com")
    return api


def send(api: Api, upn: str, method: str) -> Any:
    return api.call(
        "POST", f"/tenants/contoso/users/{upn}/caller-verifications", {"method": method}
    )


def answer(api: Api, upn: str, vid: str, code: str) -> Any:
    return api.call(
        "POST", f"/tenants/contoso/users/{upn}/caller-verifications/{vid}", {"code": code}
    )


def wrong(code: str) -> str:
    return "".join(str((int(d) + 1) % 10) for d in code)


class TestSending:
    def test_a_text_message_reaches_the_outbox_and_tells_the_user_why(
        self, desk: Api, caller: User
    ) -> None:
        response = send(desk, caller.upn, "sms")
        assert response.status_code == 201, response.content
        body = response.json()
        assert body["method"] == "sms" and body["hint"] == "+1 ••• ••• ••01" and body["id"]
        message = OutboxMessage.objects.get(to=MOBILE)
        assert message.channel == "sms" and "your helpdesk asked for" in message.body
        assert "call with your helpdesk that you started yourself" in message.body

    def test_an_email_says_it_cannot_reset_the_password(self, desk: Api, caller: User) -> None:
        assert send(desk, caller.upn, "email").json()["hint"] == "a***@contoso.com"
        [message] = mail.outbox
        assert message.to == [caller.upn]
        assert message.subject == "The code your helpdesk asked for"
        assert "cannot be used to reset your password" in message.body

    def test_only_registered_methods_that_send_a_code(self, desk: Api, caller: User) -> None:
        for method in ("voice", "totp", "questions", "carrier-pigeon"):
            response = send(desk, caller.upn, method)
            assert response.status_code == 422, method
            assert response.json()["code"] == "invalid_value"
        assert OutboxMessage.objects.count() == 0 and mail.outbox == []

    def test_codes_per_user_are_limited(self, desk: Api, caller: User) -> None:
        for _ in range(5):
            assert send(desk, caller.upn, "sms").status_code == 201
        refused = send(desk, caller.upn, "sms")
        assert refused.status_code == 429
        assert refused.json()["code"] == "caller_codes_exhausted"
        assert "Retry-After" in refused
        assert OutboxMessage.objects.filter(to=MOBILE).count() == 5


class TestChecking:
    def test_the_right_code_verifies_the_caller(self, desk: Api, caller: User) -> None:
        vid = send(desk, caller.upn, "sms").json()["id"]
        response = answer(desk, caller.upn, vid, last_code_to(MOBILE))
        assert response.status_code == 200
        assert response.json()["verified"] is True and response.json()["method"] == "sms"
        event = AuditEvent.objects.filter(activity=ACTIVITY, reason="Caller verified").get()
        assert (event.actor, event.target, event.result) == (
            "desk@contoso.com",
            caller.upn,
            "success",
        )
        assert event.details["method"] == "sms"

    def test_a_wrong_code_is_refused_and_the_right_one_still_works(
        self, desk: Api, caller: User
    ) -> None:
        vid = send(desk, caller.upn, "sms").json()["id"]
        code = last_code_to(MOBILE)
        refused = answer(desk, caller.upn, vid, wrong(code))
        assert refused.status_code == 422
        assert refused.json()["code"] == "caller_code_wrong"
        assert refused.json()["attempts_left"] == 4
        assert "not verified" in refused.json()["message"]
        assert answer(desk, caller.upn, vid, code).json()["verified"] is True

    def test_five_wrong_codes_end_the_check_even_for_the_right_code(
        self, desk: Api, caller: User
    ) -> None:
        vid = send(desk, caller.upn, "sms").json()["id"]
        code = last_code_to(MOBILE)
        answers = [answer(desk, caller.upn, vid, wrong(code)) for _ in range(5)]
        assert [a.json()["code"] for a in answers] == ["caller_code_wrong"] * 4 + [
            "caller_verification_failed"
        ]
        late = answer(desk, caller.upn, vid, code)
        assert late.status_code == 422 and late.json()["code"] == "caller_verification_failed"
        assert AuditEvent.objects.filter(activity=ACTIVITY, result="failure").count() >= 5

    def test_a_code_works_once(self, desk: Api, caller: User) -> None:
        vid = send(desk, caller.upn, "sms").json()["id"]
        code = last_code_to(MOBILE)
        assert answer(desk, caller.upn, vid, code).status_code == 200
        again = answer(desk, caller.upn, vid, code)
        assert again.status_code == 409 and again.json()["code"] == "caller_already_verified"

    def test_a_new_code_replaces_the_one_before(self, desk: Api, caller: User) -> None:
        first = send(desk, caller.upn, "sms").json()["id"]
        old = last_code_to(MOBILE)
        send(desk, caller.upn, "email")
        late = answer(desk, caller.upn, first, old)
        assert late.status_code == 422 and late.json()["code"] == "caller_code_expired"

    def test_the_code_is_worthless_for_a_self_service_reset(
        self, desk: Api, caller: User, make_api: Any
    ) -> None:
        """Read to someone posing as the helpdesk, it still does not open the user's reset."""
        attacker = make_api()
        fid = attacker.call(
            "POST", "/tenants/contoso/password-resets", {"username": caller.upn}
        ).json()["id"]
        attacker.call("POST", f"/password-resets/{fid}/challenges", {"method": "sms"})
        send(desk, caller.upn, "sms")
        stolen = last_code_to(MOBILE)
        newest = OutboxMessage.objects.filter(to=MOBILE).first()
        assert newest is not None and "helpdesk" in newest.body  # the caller code, not the reset's
        response = attacker.call(
            "POST", f"/password-resets/{fid}/verifications", {"method": "sms", "code": stolen}
        )
        assert response.status_code == 422


class TestWhoMay:
    def test_another_administrator_cannot_finish_my_check(
        self, desk: Api, caller: User, make_user: Any, make_api: Any, tenant: Tenant
    ) -> None:
        make_user(tenant, "ga@contoso.com", roles=["global-administrator"])
        other = make_api()
        other.sign_in("contoso", "ga@contoso.com")
        vid = send(desk, caller.upn, "sms").json()["id"]
        response = answer(other, caller.upn, vid, last_code_to(MOBILE))
        assert response.status_code == 404

    def test_a_helpdesk_administrator_cannot_check_a_global_administrator(
        self, desk: Api, tenant: Tenant, make_user: Any
    ) -> None:
        boss = make_user(tenant, "boss@contoso.com", roles=["global-administrator"])
        response = send(desk, boss.upn, "email")
        assert response.status_code == 403 and response.json()["code"] == "forbidden"
        assert mail.outbox == []
        event = AuditEvent.objects.get(activity=ACTIVITY)
        assert (event.result, event.reason) == ("failure", "Not allowed by role")

    def test_plain_users_and_other_tenants_are_refused(
        self, api: Api, caller: User, make_user: Any, other_tenant: Tenant, make_api: Any
    ) -> None:
        api.sign_in("contoso", caller.upn)
        assert send(api, caller.upn, "sms").status_code == 403
        make_user(other_tenant, "admin@fabrikam.com", roles=["global-administrator"])
        outsider = make_api()
        outsider.sign_in("fabrikam", "admin@fabrikam.com")
        assert send(outsider, caller.upn, "sms").status_code == 403
        assert OutboxMessage.objects.count() == 0

    def test_unknown_user_is_a_404(self, desk: Api, caller: User) -> None:
        assert send(desk, "nobody@contoso.com", "sms").status_code == 404


class TestTrail:
    def test_the_audit_and_the_logs_never_hold_a_code(
        self, desk: Api, caller: User, every_log_record: Any
    ) -> None:
        vid = send(desk, caller.upn, "sms").json()["id"]
        code = last_code_to(MOBILE)
        answer(desk, caller.upn, vid, wrong(code))
        answer(desk, caller.upn, vid, code)
        events = list(AuditEvent.objects.filter(activity=ACTIVITY))
        assert [(e.result, e.reason) for e in reversed(events)] == [
            ("success", "Code sent (sms)"),
            ("failure", "Wrong code (attempt 1 of 5)"),
            ("success", "Caller verified"),
        ]
        for event in events:
            assert event.details["method"] == "sms"
            assert code not in f"{event.reason} {event.details}"
            assert wrong(code) not in f"{event.reason} {event.details}"
        assert_not_logged(every_log_record.records, {"code": code, "wrong code": wrong(code)})

    def test_an_admin_reset_after_the_check_records_it(self, desk: Api, caller: User) -> None:
        vid = send(desk, caller.upn, "sms").json()["id"]
        answer(desk, caller.upn, vid, last_code_to(MOBILE))
        reset = desk.call("POST", f"/tenants/contoso/users/{caller.upn}/password-reset", {})
        assert reset.status_code == 200
        event = AuditEvent.objects.get(activity="Reset password (by admin)")
        assert event.details["caller_verified_with"] == "sms"
