"""Self-service reset through the API, gate by gate, with decoys that look the same."""

from __future__ import annotations

from typing import Any

import pytest
from django.core import mail

from sspr.audit.models import AuditEvent
from sspr.directory.models import User
from sspr.flows.models import ResetFlow
from sspr.methods.question_list import PREDEFINED_QUESTIONS
from sspr.policy.sspr_policy import update_policy
from tests.conftest import PASSWORD, Api
from tests.reset_helpers import last_code_to, register_email, register_questions, register_totp

pytestmark = pytest.mark.django_db
NEW = "Fresh-Meadow-2041"


@pytest.fixture
def sspr_on(tenant: Any) -> Any:
    update_policy(tenant, {"enabled_for": "all", "captcha_enabled": False,
                           "methods_enabled": "email,sms,totp,questions"}, actor="test")
    return tenant


@pytest.fixture
def registered_alice(sspr_on: Any, alice: User) -> User:
    register_email(alice)
    mail.outbox.clear()
    return alice


def start(api: Api, username: str, tenant: str = "contoso") -> Any:
    return api.call("POST", f"/tenants/{tenant}/password-resets", {"username": username})


class TestHappyPath:
    def test_one_gate_by_email_then_a_new_password(
        self, api: Api, registered_alice: User, make_api: Any,
        django_capture_on_commit_callbacks: Any,
    ) -> None:
        signed_in = make_api()
        signed_in.sign_in("contoso", registered_alice.upn)
        started = start(api, "Alice@contoso.com")
        assert started.status_code == 201
        flow = started.json()
        assert flow["state"] == "awaiting_verification"
        assert flow["gates_required"] == 1 and flow["gates_passed"] == 0
        assert flow["methods"] == [{"method": "email", "hint": "a***@contoso.com"}]
        sent = api.call("POST", f"/password-resets/{flow['id']}/challenges", {"method": "email"})
        assert sent.status_code == 202 and sent.json()["sent_to"] == "a***@contoso.com"
        code = last_code_to("alice@contoso.com")
        verified = api.call("POST", f"/password-resets/{flow['id']}/verifications",
                            {"method": "email", "code": code})
        assert verified.status_code == 200 and verified.json()["state"] == "verified"
        with django_capture_on_commit_callbacks(execute=True):
            done = api.call("POST", f"/password-resets/{flow['id']}/completion",
                            {"new_password": NEW})
        assert done.status_code == 200 and done.json()["state"] == "completed"
        assert make_api().sign_in("contoso", registered_alice.upn, NEW).status_code == 201
        assert make_api().sign_in("contoso", registered_alice.upn, PASSWORD).status_code == 401
        assert signed_in.call("GET", "/me").status_code == 401  # every session ended
        assert any("password was reset" in m.subject for m in mail.outbox)
        activities = list(AuditEvent.objects.values_list("activity", flat=True))
        assert "Reset password (self-service)" in activities
        assert "Self-service password reset flow activity progress" in activities

    def test_two_gates_for_an_administrator_never_questions(
        self, api: Api, sspr_on: Any, make_user: Any
    ) -> None:
        admin = make_user(sspr_on, "boss@contoso.com", roles=["helpdesk-administrator"])
        register_email(admin)
        _, app = register_totp(admin)
        used = app.totp.at(app.read_at)
        flow = start(api, admin.upn).json()
        assert flow["gates_required"] == 2
        assert {m["method"] for m in flow["methods"]} == {"email", "totp"}
        fid = flow["id"]
        api.call("POST", f"/password-resets/{fid}/challenges", {"method": "email"})
        one = api.call("POST", f"/password-resets/{fid}/verifications",
                       {"method": "email", "code": last_code_to(admin.upn)}).json()
        assert (one["state"], one["gates_passed"]) == ("awaiting_verification", 1)
        early = api.call("POST", f"/password-resets/{fid}/completion", {"new_password": NEW})
        assert early.status_code == 409 and early.json()["code"] == "invalid_step"
        api.call("POST", f"/password-resets/{fid}/challenges", {"method": "totp"})
        two = api.call("POST", f"/password-resets/{fid}/verifications",
                       {"method": "totp", "code": used}).json()
        # The code that registered the app is spent; the next step's code (one step of drift)
        # is the one the app shows half a minute later.
        assert two["code"] == "verification_failed"
        two = api.call("POST", f"/password-resets/{fid}/verifications",
                       {"method": "totp", "code": app.next_code()}).json()
        assert two["state"] == "verified"
        assert api.call("POST", f"/password-resets/{fid}/completion",
                        {"new_password": NEW}).status_code == 200

    def test_security_questions_with_a_fresh_draw_after_a_wrong_answer(
        self, api: Api, sspr_on: Any, alice: User
    ) -> None:
        answers = {q: f"answer number {i}" for i, q in enumerate(PREDEFINED_QUESTIONS[:3])}
        register_questions(alice, answers)
        fid = start(api, alice.upn).json()["id"]
        asked = api.call("POST", f"/password-resets/{fid}/challenges",
                         {"method": "questions"}).json()["questions"]
        wrong = [{"question": q, "answer": "nope nope"} for q in asked]
        bad = api.call("POST", f"/password-resets/{fid}/verifications",
                       {"method": "questions", "answers": wrong})
        assert bad.status_code == 422 and bad.json()["code"] == "verification_failed"
        stale = api.call("POST", f"/password-resets/{fid}/verifications", {
            "method": "questions",
            "answers": [{"question": q, "answer": answers[q]} for q in asked]})
        assert stale.status_code == 422  # the draw is spent: ask again
        asked = api.call("POST", f"/password-resets/{fid}/challenges",
                         {"method": "questions"}).json()["questions"]
        right = [{"question": q, "answer": "  " + answers[q].upper()} for q in asked]
        ok = api.call("POST", f"/password-resets/{fid}/verifications",
                      {"method": "questions", "answers": right})
        assert ok.json()["state"] == "verified"


class TestNoEnumeration:
    def test_unknown_out_of_scope_and_unregistered_look_like_real(
        self, api: Api, registered_alice: User, make_user: Any, tenant: Any
    ) -> None:
        bare = make_user(tenant, "bare@contoso.com")  # no methods
        shapes = {}
        for name in (registered_alice.upn, "ghost@contoso.com", bare.upn):
            response = start(api, name)
            assert response.status_code == 201
            body = response.json()
            shapes[name] = (tuple(sorted(body)), body["state"], body["gates_required"])
            assert body["methods"], name
        assert len(set(shapes.values())) == 1
        ghost = start(api, "ghost@contoso.com").json()
        again = start(api, "ghost@contoso.com").json()
        assert ghost["methods"] == again["methods"]  # stable decoys

    def test_a_decoy_sends_nothing_and_never_passes(
        self, api: Api, sspr_on: Any
    ) -> None:
        flow = start(api, "ghost@contoso.com").json()
        method = flow["methods"][0]["method"]
        sent = api.call("POST", f"/password-resets/{flow['id']}/challenges", {"method": method})
        assert sent.status_code == 202
        assert mail.outbox == []
        tries = [api.call("POST", f"/password-resets/{flow['id']}/verifications",
                          {"method": method, "code": f"{i:08d}"}).status_code for i in range(6)]
        assert tries == [422] * 5 + [429]

    def test_a_list_of_user_names_is_refused(self, api: Api, registered_alice: User) -> None:
        response = api.call("POST", "/tenants/contoso/password-resets",
                            {"username": [registered_alice.upn, "attacker@evil.test"]})
        assert response.status_code == 422
        assert mail.outbox == []

    def test_a_look_alike_name_is_not_the_user(self, api: Api, registered_alice: User) -> None:
        flow = start(api, "al\u0131ce@contoso.com").json()  # dotless i
        assert ResetFlow.objects.get(pk=flow["id"]).decoy


class TestGuards:
    def test_free_plan_refuses_reset_naming_the_plan(
        self, api: Api, db: Any
    ) -> None:
        from sspr.directory.tenants import create_tenant

        create_tenant("tiny", "Tiny", "free")
        response = start(api, "someone@tiny.test", tenant="tiny")
        assert response.status_code == 403
        assert response.json()["code"] == "plan_required"
        assert "Business Standard" in response.json()["message"]

    def test_captcha_is_required_when_on(self, api: Api, registered_alice: User,
                                         tenant: Any) -> None:
        from sspr import captcha

        update_policy(tenant, {"captcha_enabled": True}, actor="test")
        missing = start(api, registered_alice.upn)
        assert missing.status_code == 400 and missing.json()["code"] == "captcha_failed"
        payload = captcha.solve(captcha.new_challenge())
        ok = api.call("POST", "/tenants/contoso/password-resets",
                      {"username": registered_alice.upn, "captcha": payload})
        assert ok.status_code == 201
        replay = api.call("POST", "/tenants/contoso/password-resets",
                          {"username": registered_alice.upn, "captcha": payload})
        assert replay.status_code == 400

    def test_a_code_works_once_and_only_for_its_flow(
        self, api: Api, registered_alice: User
    ) -> None:
        first = start(api, registered_alice.upn).json()["id"]
        second = start(api, registered_alice.upn).json()["id"]
        api.call("POST", f"/password-resets/{first}/challenges", {"method": "email"})
        code = last_code_to(registered_alice.upn)
        other = api.call("POST", f"/password-resets/{second}/verifications",
                         {"method": "email", "code": code})
        assert other.status_code == 422
        assert api.call("POST", f"/password-resets/{first}/verifications",
                        {"method": "email", "code": code}).status_code == 200

    def test_five_wrong_codes_block_for_a_day_and_say_so(
        self, api: Api, registered_alice: User, tenant: Any
    ) -> None:
        update_policy(tenant, {"helpdesk_url": "https://help.contoso.com"}, actor="test")
        fid = start(api, registered_alice.upn).json()["id"]
        api.call("POST", f"/password-resets/{fid}/challenges", {"method": "email"})
        for _ in range(5):
            api.call("POST", f"/password-resets/{fid}/verifications",
                     {"method": "email", "code": "00000000"})
        blocked = api.call("POST", f"/password-resets/{fid}/verifications",
                           {"method": "email", "code": last_code_to(registered_alice.upn)})
        assert blocked.status_code == 429
        body = blocked.json()
        assert body["code"] == "sspr_blocked" and "https://help.contoso.com" in body["message"]
        assert AuditEvent.objects.filter(
            activity="Blocked from self-service password reset").exists()

    def test_unknown_flow_and_skipped_steps(self, api: Api, registered_alice: User) -> None:
        assert api.call("POST", "/password-resets/nope/challenges",
                        {"method": "email"}).json()["code"] == "reset_not_found"
        fid = start(api, registered_alice.upn).json()["id"]
        skipped = api.call("POST", f"/password-resets/{fid}/completion", {"new_password": NEW})
        assert skipped.status_code == 409
        not_offered = api.call("POST", f"/password-resets/{fid}/challenges", {"method": "sms"})
        assert not_offered.status_code == 409

    def test_weak_new_password_names_the_rules_and_changes_nothing(
        self, api: Api, registered_alice: User
    ) -> None:
        fid = start(api, registered_alice.upn).json()["id"]
        api.call("POST", f"/password-resets/{fid}/challenges", {"method": "email"})
        api.call("POST", f"/password-resets/{fid}/verifications",
                 {"method": "email", "code": last_code_to(registered_alice.upn)})
        weak = api.call("POST", f"/password-resets/{fid}/completion", {"new_password": "abc"})
        assert weak.status_code == 422
        assert "password_too_short" in [r["code"] for r in weak.json()["rules"]]
        assert Api().sign_in("contoso", registered_alice.upn).status_code == 201


def pass_email_gate(api: Api, fid: str, address: str) -> None:
    api.call("POST", f"/password-resets/{fid}/challenges", {"method": "email"})
    api.call("POST", f"/password-resets/{fid}/verifications",
             {"method": "email", "code": last_code_to(address)})


class TestNotifications:
    def test_every_registered_email_and_the_upn_hear_of_it(
        self, api: Api, sspr_on: Any, alice: User, django_capture_on_commit_callbacks: Any
    ) -> None:
        register_email(alice, "alice.home@example.com")
        fid = start(api, alice.upn).json()["id"]
        pass_email_gate(api, fid, "alice.home@example.com")
        mail.outbox.clear()
        with django_capture_on_commit_callbacks(execute=True):
            api.call("POST", f"/password-resets/{fid}/completion", {"new_password": NEW})
        told = sorted(to for m in mail.outbox for to in m.to)
        assert told == ["alice.home@example.com", "alice@contoso.com"]
        assert all(NEW not in m.body for m in mail.outbox)

    def test_admins_are_told_when_an_admin_resets_if_enabled(
        self, api: Api, sspr_on: Any, make_user: Any, django_capture_on_commit_callbacks: Any
    ) -> None:
        update_policy(sspr_on, {"notify_admins": True, "methods_required": 1}, actor="t")
        make_user(sspr_on, "ga@contoso.com", roles=["global-administrator"])
        helper = make_user(sspr_on, "help@contoso.com", roles=["helpdesk-administrator"])
        register_email(helper)
        register_email(helper, "help.home@example.com")  # replaces: one email per user
        _, app = register_totp(helper)
        fid = start(api, helper.upn).json()["id"]
        pass_email_gate(api, fid, "help.home@example.com")
        api.call("POST", f"/password-resets/{fid}/verifications",
                 {"method": "totp", "code": app.next_code()})
        mail.outbox.clear()
        with django_capture_on_commit_callbacks(execute=True):
            done = api.call("POST", f"/password-resets/{fid}/completion", {"new_password": NEW})
        assert done.status_code == 200
        notices = [m for m in mail.outbox if "administrator" in m.subject.lower()]
        assert [m.to for m in notices] == [["ga@contoso.com"]]

    def test_users_are_not_told_when_notifications_are_off(
        self, api: Api, registered_alice: User, tenant: Any,
        django_capture_on_commit_callbacks: Any,
    ) -> None:
        update_policy(tenant, {"notify_users": False}, actor="t")
        fid = start(api, registered_alice.upn).json()["id"]
        pass_email_gate(api, fid, registered_alice.upn)
        mail.outbox.clear()
        with django_capture_on_commit_callbacks(execute=True):
            api.call("POST", f"/password-resets/{fid}/completion", {"new_password": NEW})
        assert mail.outbox == []


class TestCaps:
    def test_the_daily_sms_cap_of_a_tenant(
        self, api: Api, sspr_on: Any, make_user: Any
    ) -> None:
        from sspr.flows import registration

        flows = []
        for i in range(3):
            user = make_user(sspr_on, f"u{i}@contoso.com")
            item, _ = registration.begin(user, "sms", {"value": f"+1425555010{i}"})
            registration.confirm(user, item.pk, {"code": last_code_to(f"+1425555010{i}")})
            flows.append(start(api, user.upn).json()["id"])
        # Three texts went out to register; the tenant may send five a day.
        update_policy(sspr_on, {"sms_daily_limit": 5}, actor="t")
        sent = [api.call("POST", f"/password-resets/{fid}/challenges",
                         {"method": "sms"}).status_code for fid in flows]
        assert sent == [202, 202, 429]

    def test_starts_per_address_are_limited(self, api: Api, sspr_on: Any) -> None:
        codes = [start(api, f"n{i}@contoso.com").status_code for i in range(31)]
        assert codes == [201] * 30 + [429]
        other = api.call("POST", "/tenants/contoso/password-resets",
                         {"username": "x@contoso.com"}, REMOTE_ADDR="10.0.0.9")
        assert other.status_code == 201

    def test_unlock_is_not_for_cloud_accounts(self, api: Api, registered_alice: User) -> None:
        fid = start(api, registered_alice.upn).json()["id"]
        pass_email_gate(api, fid, registered_alice.upn)
        refused = api.call("POST", f"/password-resets/{fid}/completion", {"action": "unlock"})
        assert refused.status_code == 409 and refused.json()["code"] == "unlock_unavailable"
