"""The password rules: every violation collected, each with a stable code."""

import string

import pytest
from hypothesis import given
from hypothesis import strategies as st

from sspr.directory.passwords import hash_password
from sspr.policy.passwords import violations
from sspr.policy.rules import (
    AccountNameRule,
    CharacterClassesRule,
    LengthRule,
    NotCurrentPasswordRule,
    PasswordContext,
)
from sspr.policy.rules.character_classes import classes_used

DEFAULT_RULES = [LengthRule(8, 256), CharacterClassesRule(3), AccountNameRule()]
ALICE = PasswordContext(upn="alice@contoso.com", tenant_name="Contoso")


def codes(password: str, context: PasswordContext = ALICE) -> list[str]:
    return [v.code for v in violations(password, DEFAULT_RULES, context)]


class TestEntraDefaults:
    def test_a_good_password_passes(self) -> None:
        assert codes("Maple-Lantern-38") == []

    def test_every_violation_is_reported_at_once(self) -> None:
        """A short, simple password containing the account name breaks three rules."""
        assert codes("alice") == [
            "password_too_short",
            "password_too_simple",
            "password_contains_account_name",
        ]

    @pytest.mark.parametrize(("length", "ok"), [(7, False), (8, True), (256, True), (257, False)])
    def test_length_edges(self, length: int, ok: bool) -> None:
        password = ("Ab1" * 100)[:length]
        assert (codes(password) == []) is ok

    def test_three_of_four_classes(self) -> None:
        assert codes("abcdefgh1") == ["password_too_simple"]
        assert codes("abcdefgh1!") == []
        assert codes("ABCDEFGH1a") == []
        assert codes("abcd efg1") == []  # a space counts as a symbol, as in Entra

    def test_account_name_is_found_in_any_case(self) -> None:
        assert "password_contains_account_name" in codes("xxALICE-2024!")

    def test_short_account_names_are_not_checked(self) -> None:
        context = PasswordContext(upn="al@contoso.com")
        assert codes("Pal-Gardens-9", context) == []

    def test_violation_messages_are_sentences_for_people(self) -> None:
        found = violations("ab", DEFAULT_RULES, ALICE)
        assert found[0].message == "Use at least 8 characters."
        assert found[1].params["missing"] == ["upper-case letters", "digits", "symbols"]


@pytest.mark.django_db
class TestNotCurrentPassword:
    def test_the_current_password_is_refused(self) -> None:
        context = PasswordContext(upn="a@b.cd", current_password_hash=hash_password("Old-Pass-1"))
        rule = NotCurrentPasswordRule()
        assert [v.code for v in rule.check("Old-Pass-1", context)] == ["password_reused"]
        assert rule.check("New-Pass-2", context) == []

    def test_without_a_current_hash_nothing_is_compared(self) -> None:
        assert NotCurrentPasswordRule().check("anything", PasswordContext()) == []


class TestProperties:
    @given(st.text(alphabet=string.ascii_lowercase, min_size=8, max_size=40))
    def test_one_class_never_passes(self, password: str) -> None:
        assert "password_too_simple" in codes(password)

    @given(
        st.text(alphabet=string.ascii_lowercase, min_size=3, max_size=20),
        st.text(alphabet=string.ascii_uppercase, min_size=3, max_size=20),
        st.text(alphabet=string.digits, min_size=2, max_size=20),
    )
    def test_three_classes_of_enough_length_pass(self, low: str, up: str, dig: str) -> None:
        context = PasswordContext(upn="zzz-not-there@contoso.com")
        assert codes(low + up + dig, context) == []

    @given(st.text(max_size=300))
    def test_classes_counted_never_exceed_four(self, password: str) -> None:
        assert len(classes_used(password)) <= 4

    @given(st.text(max_size=300))
    def test_rules_never_crash_and_codes_are_stable(self, password: str) -> None:
        known = {"password_too_short", "password_too_long", "password_too_simple",
                 "password_contains_account_name"}
        assert set(codes(password)) <= known
