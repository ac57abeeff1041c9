"""ALTCHA proof of work: a solution passes once; anything else is a quiet no."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from datetime import timedelta
from typing import Any
from unittest.mock import patch

import pytest
from altcha.v1 import ChallengeOptions, create_challenge
from django.core.cache import cache
from django.test import Client
from hypothesis import given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from sspr import captcha


@pytest.fixture(autouse=True)
def small_work(settings: Any) -> Iterator[None]:
    settings.CAPTCHA_MAX_NUMBER = 2_000
    cache.clear()
    yield
    cache.clear()


def _decode(payload: str) -> dict[str, Any]:
    return json.loads(base64.b64decode(payload))


def _encode(data: dict[str, Any]) -> str:
    return base64.b64encode(json.dumps(data).encode()).decode()


class TestChallenge:
    def test_has_the_altcha_v1_fields(self) -> None:
        challenge = captcha.new_challenge()
        assert set(challenge) == {"algorithm", "challenge", "maxnumber", "salt", "signature"}
        assert challenge["algorithm"] == "SHA-256"
        assert challenge["maxnumber"] == 2_000
        assert "expires=" in challenge["salt"]

    def test_max_number_defaults_to_about_a_second_of_browser_work(self, settings: Any) -> None:
        del settings.CAPTCHA_MAX_NUMBER
        assert captcha.new_challenge()["maxnumber"] == 50_000

    def test_each_challenge_is_new(self) -> None:
        first, second = captcha.new_challenge(), captcha.new_challenge()
        assert first["salt"] != second["salt"] and first["signature"] != second["signature"]


class TestVerify:
    def test_a_solution_passes_once(self) -> None:
        payload = captcha.solve(captcha.new_challenge())
        assert captcha.verify(payload) is True
        assert captcha.verify(payload) is False

    def test_two_solutions_of_two_challenges_each_pass(self) -> None:
        one, two = (captcha.solve(captcha.new_challenge()) for _ in range(2))
        assert captcha.verify(one) and captcha.verify(two)

    @pytest.mark.parametrize(
        "change",
        [
            lambda d: {**d, "number": d["number"] + 1},
            lambda d: {**d, "number": str(d["number"])},
            lambda d: {**d, "salt": d["salt"].replace("expires=", "expires=9")},
            lambda d: {**d, "salt": d["salt"] + "expires=99999999999&"},
            lambda d: {**d, "signature": "0" * 64},
            lambda d: {**d, "signature": d["signature"].upper()},
            lambda d: {**d, "challenge": "0" * 64},
            lambda d: {**d, "algorithm": "SHA-1"},
            lambda d: {k: v for k, v in d.items() if k != "signature"},
            lambda d: [d],
        ],
        ids=[
            "number",
            "number-as-text",
            "salt-expiry",
            "salt-extra",
            "signature",
            "signature-case",
            "challenge",
            "algorithm",
            "missing-field",
            "not-an-object",
        ],
    )
    def test_tampered_payload_is_refused(self, change: Any) -> None:
        solved = _decode(captcha.solve(captcha.new_challenge()))
        assert captcha.verify(_encode(change(solved))) is False
        # and the untouched solution still works: a refusal does not burn it
        assert captcha.verify(_encode(solved)) is True

    def test_solution_signed_with_another_key_is_refused(self, settings: Any) -> None:
        payload = captcha.solve(captcha.new_challenge())
        settings.SECRET_KEY = "another-deployment-" + "x" * 40
        assert captcha.verify(payload) is False

    def test_expired_challenge_is_refused(self) -> None:
        payload = captcha.solve(captcha.new_challenge(lifetime=timedelta(seconds=-1)))
        assert captcha.verify(payload) is False

    def test_challenge_without_expiry_is_refused(self) -> None:
        made = create_challenge(ChallengeOptions(max_number=100, hmac_key=captcha._hmac_key()))
        payload = captcha.solve(
            {
                "challenge": made.challenge,
                "salt": made.salt,
                "maxnumber": 100,
                "signature": made.signature,
            }
        )
        assert captcha.verify(payload) is False

    @pytest.mark.parametrize(
        "garbage",
        [
            "",
            " ",
            "not base64!",
            "====",
            base64.b64encode(b"not json").decode(),
            base64.b64encode(b"\xff\xfe").decode(),
            _encode({}),
            _encode(None),  # type: ignore[arg-type]
            base64.b64encode(b'"algorithmchallengenumbersaltsignature"').decode(),
            base64.b64encode(b"12").decode(),
            "A" * 100_000,
        ],
    )
    def test_garbage_is_false(self, garbage: str) -> None:
        with patch.object(captcha.log, "warning") as warned:
            assert captcha.verify(garbage) is False
        warned.assert_not_called()

    @hypothesis_settings(max_examples=300, deadline=None)
    @given(
        st.one_of(
            st.text(),
            st.binary().map(lambda b: base64.b64encode(b).decode()),
            st.recursive(
                st.none() | st.booleans() | st.integers() | st.floats() | st.text(),
                lambda inner: st.lists(inner) | st.dictionaries(st.text(), inner),
            ).map(lambda v: base64.b64encode(json.dumps(v).encode()).decode()),
            st.fixed_dictionaries(
                {
                    "algorithm": st.sampled_from(["SHA-256", "SHA-1", "MD5"]) | st.integers(),
                    "challenge": st.text() | st.integers(),
                    "number": st.integers() | st.floats() | st.text() | st.booleans(),
                    "salt": st.text() | st.none(),
                    "signature": st.text() | st.lists(st.text()),
                }
            ).map(_encode),
        )
    )
    def test_arbitrary_payloads_are_false_and_never_raise(self, payload: str) -> None:
        # Refused by the checks themselves, not by the catch-all that logs a warning.
        with patch.object(captcha.log, "warning") as warned:
            assert captcha.verify(payload) is False
        warned.assert_not_called()


class TestRequire:
    def test_missing_says_the_check_is_missing(self) -> None:
        with pytest.raises(captcha.CaptchaRequired) as missing:
            captcha.require("")
        assert missing.value.code == "captcha_required" and "JavaScript" in missing.value.message

    def test_reused_is_refused(self) -> None:
        payload = captcha.solve(captcha.new_challenge())
        captcha.require(payload)
        with pytest.raises(captcha.CaptchaRequired):
            captcha.require(payload)


class TestApi:
    def test_get_captcha_returns_a_solvable_challenge(self) -> None:
        response = Client().get("/api/v1/captcha")
        assert response.status_code == 200
        assert response["Cache-Control"] == "no-store"
        body = response.json()
        assert set(body) == {"algorithm", "challenge", "maxnumber", "salt", "signature"}
        assert captcha.verify(captcha.solve(body)) is True
