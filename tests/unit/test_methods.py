"""Each verification method: enrol, challenge, verify, mask."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pyotp
import pytest
from hypothesis import given
from hypothesis import strategies as st

from sspr.errors import InvalidValue
from sspr.methods import codes
from sspr.methods.email import EmailMethod
from sspr.methods.masking import mask_email, mask_phone
from sspr.methods.models import OneTimeCode, RegisteredMethod
from sspr.methods.question_list import PREDEFINED_QUESTIONS
from sspr.methods.questions import QuestionsMethod, normalise_answer, validate_answers
from sspr.methods.sms import SmsMethod
from sspr.methods.totp import STEP_SECONDS, TotpMethod, accept

Q = list(PREDEFINED_QUESTIONS)


class TestMasks:
    def test_email_and_phone_hints(self) -> None:
        assert mask_email("alice@contoso.com") == "a***@contoso.com"
        assert mask_phone("+14255550112") == "+1 ••• ••• ••12"

    def test_phone_numbers_are_normalised_or_refused(self) -> None:
        assert SmsMethod().normalise("+1 (425) 555-0112") == "+14255550112"
        assert SmsMethod().normalise("0044 20 7946 0000") == "+442079460000"
        for bad in ("4255550112", "+0123", "phone", "+1" + "2" * 20):
            with pytest.raises(InvalidValue):
                SmsMethod().normalise(bad)

    def test_email_is_checked(self) -> None:
        assert EmailMethod().normalise(" Alice@Contoso.COM ") == "alice@contoso.com"
        with pytest.raises(InvalidValue):
            EmailMethod().normalise("not-an-address")

    @given(st.binary(min_size=32, max_size=32))
    def test_decoy_phone_hints_look_real(self, digest: bytes) -> None:
        hint = SmsMethod().decoy_hint(digest, "ghost@contoso.com")
        assert len(hint) == len("+1 ••• ••• ••12") and hint[-2:].isdigit()


@pytest.mark.django_db
class TestCodes:
    def test_a_code_works_once(self) -> None:
        code = codes.issue("reset:abc", "email")
        assert len(code) == 8 and code.isdigit()
        assert codes.redeem("reset:abc", "email", code)
        assert not codes.redeem("reset:abc", "email", code)

    def test_bound_to_flow_and_method(self) -> None:
        code = codes.issue("reset:abc", "email")
        assert not codes.redeem("reset:other", "email", code)
        assert not codes.redeem("reset:abc", "sms", code)
        assert codes.redeem("reset:abc", "email", code)

    def test_a_new_code_replaces_the_old(self) -> None:
        old = codes.issue("b", "email")
        new = codes.issue("b", "email")
        assert old != new  # 1 in 10^8 otherwise
        assert not codes.redeem("b", "email", old)
        assert codes.redeem("b", "email", new)

    def test_expired_after_five_minutes(self) -> None:
        code = codes.issue("c", "email")
        OneTimeCode.objects.update(expires_at=codes.timezone.now() - timedelta(seconds=1))
        assert not codes.redeem("c", "email", code)

    def test_only_the_hash_is_stored(self) -> None:
        code = codes.issue("d", "email")
        row = OneTimeCode.objects.get(binding="d")
        assert code not in row.code_hash and len(row.code_hash) == 64

    @given(st.text(max_size=20))
    def test_garbage_never_passes(self, guess: str) -> None:
        assert not codes.redeem("never-issued", "email", guess)


@pytest.mark.django_db
class TestTotp:
    @pytest.fixture
    def app(self, alice: Any) -> tuple[RegisteredMethod, pyotp.TOTP]:
        item = RegisteredMethod.objects.create(user=alice, method="totp")
        info = TotpMethod().start_enrollment(item, {})
        assert info["otpauth_uri"].startswith("otpauth://totp/")
        assert info["secret"] not in RegisteredMethod.objects.get(pk=item.pk).secret
        return item, pyotp.TOTP(info["secret"])

    def test_rfc6238_vector(self) -> None:
        """RFC 6238 appendix B, SHA-1, T=59: 94287082 (8 digits), so 287082 for 6."""
        totp = pyotp.TOTP("GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ", digits=8)
        assert totp.at(59) == "94287082"

    def test_one_step_of_drift_either_way(self, app: Any) -> None:
        item, totp = app
        now = 1_800_000_000.0
        assert accept(item, totp.at(now - STEP_SECONDS), now)
        assert accept(item, totp.at(now + STEP_SECONDS), now + 1)
        assert not accept(item, totp.at(now + 3 * STEP_SECONDS), now + 2)

    def test_a_used_code_is_refused_the_second_time(self, app: Any) -> None:
        item, totp = app
        now = 1_800_000_000.0
        code = totp.at(now)
        assert accept(item, code, now)
        assert not accept(item, code, now)
        fresh = RegisteredMethod.objects.get(pk=item.pk)
        assert not accept(fresh, code, now + 5)  # also from another process's view

    def test_an_earlier_step_is_refused_after_a_later_one(self, app: Any) -> None:
        item, totp = app
        now = 1_800_000_000.0
        assert accept(item, totp.at(now), now)
        assert not accept(item, totp.at(now - STEP_SECONDS), now)


@pytest.mark.django_db
class TestQuestions:
    def test_answers_are_normalised_and_hashed(self, alice: Any) -> None:
        item = RegisteredMethod.objects.create(user=alice, method="questions")
        method = QuestionsMethod(3, 3)
        method.start_enrollment(item, {"answers": [
            {"question": Q[0], "answer": "Paris"},
            {"question": Q[1], "answer": "Rex  the Dog"},
            {"question": Q[2], "answer": "Blue"}]})
        stored = RegisteredMethod.objects.get(pk=item.pk).data["questions"]
        assert all(s["answer_hash"].startswith("$argon2id$") for s in stored)
        assert "Paris" not in str(stored) and "paris" not in str(stored)
        scratch: dict[str, Any] = {}
        drawn = method.challenge(item, "b", scratch)["questions"]
        answers = {Q[0]: " PARIS", Q[1]: "rex the dog", Q[2]: "blue"}
        payload = {"answers": [{"question": q, "answer": answers[q]} for q in drawn]}
        assert method.verify(item, "b", payload, scratch)
        assert "questions" not in scratch  # spent: the next try gets a fresh draw

    @pytest.mark.parametrize(("pairs", "message"), [
        ([(Q[0], "ab"), (Q[1], "bbb"), (Q[2], "ccc")], "3 to 40 characters"),
        ([(Q[0], "aaa"), (Q[0], "bbb"), (Q[2], "ccc")], "different question"),
        ([(Q[0], "same"), (Q[1], "Same"), (Q[2], "ccc")], "different answer"),
        ([(Q[0], "aaa"), (Q[1], "bbb")], "exactly 3"),
        ([(Q[0], "aaa"), (Q[1], "bbb"), ("My own question?", "ccc")], "not one of"),
        ([(Q[0], "a" * 41), (Q[1], "bbb"), (Q[2], "ccc")], "3 to 40 characters"),
    ])
    def test_refused_as_entra_refuses(self, pairs: list[tuple[str, str]], message: str) -> None:
        with pytest.raises(InvalidValue, match=message):
            validate_answers([{"question": q, "answer": a} for q, a in pairs], Q, 3)

    def test_custom_questions_are_offered(self) -> None:
        method = QuestionsMethod(3, 3, ["What is our team mascot?"])
        assert "What is our team mascot?" in method.offered

    @given(st.text(max_size=60))
    def test_normalisation_is_idempotent(self, answer: str) -> None:
        assert normalise_answer(normalise_answer(answer)) == normalise_answer(answer)
