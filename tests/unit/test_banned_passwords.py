"""Banned passwords, Entra Password Protection's algorithm: Microsoft's worked examples first."""

import random
import string
from importlib import resources

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sspr.policy.rules.banned import (
    MIN_SCORE,
    NORMALISATION,
    BannedList,
    BannedPasswordRule,
    normalise,
)
from sspr.policy.rules.base import PasswordContext

NOBODY = PasswordContext()
EMPTY = BannedList()
# Microsoft's scenario: Contoso has "contoso" on its custom list, "blank" is on the global one.
CONTOSO_USER = PasswordContext(upn="alice@contoso.com", given_name="Alice", tenant_name="Contoso")


def rule(*custom: str, global_terms: tuple[str, ...] = ()) -> BannedPasswordRule:
    return BannedPasswordRule(custom, global_list=BannedList(global_terms))


def codes(check: BannedPasswordRule, password: str, context: PasswordContext = NOBODY) -> list[str]:
    return [v.code for v in check.check(password, context)]


class TestMicrosoftExamples:
    """concept-password-ban-bad, each example as the page gives it."""

    def test_bl_at_nk_normalises_to_blank_and_is_refused(self) -> None:
        assert normalise("Bl@nK") == "blank"
        check = rule("blank")
        assert check.matched_terms("Bl@nK") == ["blank"]
        assert codes(check, "Bl@nK") == ["password_banned"]

    @pytest.mark.parametrize(
        ("password", "score"),
        [
            ("abcdeg", 1),  # last character changed: one match
            ("abcdefg", 2),  # one appended: the term, then the "g"
            ("abcde", 1),  # last one deleted: one match
        ],
    )
    def test_one_edit_from_abcdef_is_refused(self, password: str, score: int) -> None:
        check = rule("abcdef")
        assert check.matched_terms(password) == ["abcdef"]
        assert check.score(password) == score
        assert codes(check, password) == ["password_banned"]

    @pytest.mark.parametrize(
        "check",
        [rule("contoso", "blank"), rule("contoso", global_terms=("blank",))],
        ids=["both-custom", "blank-global"],
    )
    def test_c0ntos0blank12_scores_4_and_is_refused(self, check: BannedPasswordRule) -> None:
        assert check.matched_terms("C0ntos0Blank12") == ["contoso", "blank"]
        assert check.score("C0ntos0Blank12") == 4
        assert codes(check, "C0ntos0Blank12", CONTOSO_USER) == ["password_banned"]

    @pytest.mark.parametrize(
        "check",
        [rule("contoso", "blank"), rule("contoso", global_terms=("blank",))],
        ids=["both-custom", "blank-global"],
    )
    def test_contos0blnkf9_scores_5_and_is_accepted(self, check: BannedPasswordRule) -> None:
        assert normalise("ContoS0Bl@nkf9!") == "contosoblankf9!"
        assert check.matched_terms("ContoS0Bl@nkf9!") == ["contoso", "blank"]
        assert check.score("ContoS0Bl@nkf9!") == 5
        # At tenant Contoso too: the tenant's name is one more banned term, not a veto.
        assert check.score("ContoS0Bl@nkf9!", CONTOSO_USER) == 5
        assert check.check("ContoS0Bl@nkf9!", CONTOSO_USER) == []

    def test_p0ll23fb_is_refused_for_poll(self) -> None:
        """The page says refused; the score alone, [poll] + 2 + 3 + f + b, would be 5."""
        poll = PasswordContext(upn="poll@contoso.com", given_name="Poll", family_name="Smith")
        check = rule()
        assert normalise("p0LL23fb") == "poll23fb"
        assert check.score("p0LL23fb", poll) == 5
        assert check.matched_terms("p0LL23fb", poll) == ["poll"]
        [violation] = check.check("p0LL23fb", poll)
        assert violation.code == "password_banned"
        assert violation.params["reason"] == "name"
        assert "your name (“p0LL”)" in violation.message

    def test_names_under_four_characters_are_not_checked(self) -> None:
        """Microsoft's note: substring matching only for terms of at least 4 characters."""
        pol = PasswordContext(upn="p@contoso.com", given_name="Pol", tenant_name="Ace")
        assert rule().check("p0l23fbxyz", pol) == []
        assert rule().score("p0l23fbxyz", pol) == 10


class TestNormalisation:
    def test_the_table(self) -> None:
        assert NORMALISATION == {"0": "o", "1": "l", "$": "s", "@": "a", "4": "a", "5": "s"}
        assert normalise("P4$$w0rd1") == "passwordl"
        assert normalise("PA55W0RD") == "password"

    @pytest.mark.parametrize("kept", ["3", "!", "9", "2", "7", "8", "6", "|", "+", "-", " "])
    def test_characters_left_as_they_are(self, kept: str) -> None:
        assert normalise(kept) == kept

    def test_one_character_stays_one_character(self) -> None:
        """İ lower-cases to two code points; positions must still line up with the input."""
        assert len(normalise("İstanbul")) == len("İstanbul")
        assert normalise("ÀÉÎ") == "àéî"

    @given(st.text())
    def test_idempotent_and_length_preserving(self, text: str) -> None:
        once = normalise(text)
        assert len(once) == len(text)
        assert normalise(once) == once


class TestFuzzyMatching:
    @pytest.mark.parametrize(
        ("stretch", "matches"),
        [
            ("contoso", True),
            ("xontoso", True),  # substituted first
            ("contosx", True),  # substituted last
            ("conxoso", True),  # substituted inside
            ("ontoso", True),  # first deleted
            ("contos", True),  # last deleted
            ("contso", True),  # one inside deleted
            ("contxoso", True),  # inserted inside
            ("xcontoso", False),  # inserted at an end: contoso itself matches a shorter stretch
            ("contosox", False),
            ("cxntxso", False),  # two edits
            ("otnoso", False),
            ("ctnoso", False),
        ],
    )
    def test_one_edit(self, stretch: str, matches: bool) -> None:
        assert (BannedList(["contoso"]).match(stretch) == "contoso") is matches

    @settings(max_examples=500, deadline=None)
    @given(
        terms=st.lists(st.text("abc", min_size=4, max_size=7), min_size=1, max_size=6),
        stretch=st.text("abcd", min_size=3, max_size=8),
    )
    def test_the_index_agrees_with_edit_distance(self, terms: list[str], stretch: str) -> None:
        """The look-ups find exactly what comparing with every term one by one finds."""

        def one_edit(term: str, w: str) -> bool:
            if len(w) < 4:
                return False
            if len(w) == len(term):
                return sum(a != b for a, b in zip(term, w, strict=True)) <= 1
            if len(w) == len(term) - 1:
                return any(term[:i] + term[i + 1 :] == w for i in range(len(term)))
            if len(w) == len(term) + 1:  # inserted strictly inside
                return any(w[:i] + w[i + 1 :] == term for i in range(1, len(w) - 1))
            return False

        found = BannedList(terms).match(stretch)
        expected = {term for term in terms if one_edit(term, stretch)}
        assert (found in expected) if expected else found is None

    def test_an_added_character_at_an_end_counts_on_its_own(self) -> None:
        check = rule("contoso")
        verdict = check.evaluate("Contosox")
        assert verdict.score == 2
        assert [m.fragment for m in verdict.matches] == ["Contoso"]

    def test_two_edits_do_not_match(self) -> None:
        assert rule("abcdef").score("abxdxf") == 6

    def test_a_four_character_term_is_not_matched_by_three(self) -> None:
        check = rule("pass")
        assert check.matched_terms("pas") == []
        assert check.matched_terms("99pas") == []  # "pas" after a deletion: too short
        assert check.matched_terms("99pss") == []
        assert check.matched_terms("paxs") == ["pass"]  # a substitution keeps 4 characters
        assert check.matched_terms("paxss") == ["pass"]  # and so does an insertion

    def test_a_term_twice_counts_twice(self) -> None:
        assert rule("blank").score("blankblank") == 2
        assert rule("blank").matched_terms("Bl@nkBLANK") == ["blank", "blank"]

    def test_the_lowest_score_is_chosen_among_overlapping_matches(self) -> None:
        # "contosoblank": contoso + blank (2) beats tosob + ... or any partial reading.
        check = rule("contoso", "blank", "tosob", "oblan")
        assert check.score("contosoblank") == 2
        assert check.matched_terms("contosoblank") == ["contoso", "blank"]

    def test_a_short_password_without_terms_is_still_too_few_points(self) -> None:
        [violation] = rule().check("x9#q", NOBODY)
        assert violation.code == "password_banned"
        assert violation.params["matched"] == []

    @settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
    @given(data=st.data())
    def test_any_term_one_edit_away_and_padded_is_refused(self, data: st.DataObject) -> None:
        letters = string.ascii_lowercase
        term = data.draw(st.text(letters, min_size=4, max_size=16), label="term")
        kind = data.draw(st.sampled_from(["substitute", "delete", "insert", "append"]))
        edited = term
        end_insertion = False
        if kind == "substitute":
            i = data.draw(st.integers(0, len(term) - 1))
            edited = term[:i] + data.draw(st.sampled_from(string.printable[:94])) + term[i + 1 :]
        elif kind == "delete" and len(term) >= 5:
            i = data.draw(st.integers(0, len(term) - 1))
            edited = term[:i] + term[i + 1 :]
        elif kind == "insert":
            i = data.draw(st.integers(1, len(term) - 1))
            edited = term[:i] + data.draw(st.sampled_from(string.printable[:94])) + term[i:]
        elif kind == "append":
            char = data.draw(st.sampled_from(string.printable[:94]))
            edited = data.draw(st.sampled_from([char + term, term + char]))
            end_insertion = True
        # Random case: the term is matched whatever the case.
        edited = "".join(c.upper() if data.draw(st.booleans()) else c for c in edited)
        # An added character at an end scores on its own, so one less of padding fits.
        room = 2 if end_insertion else 3
        padding = data.draw(st.text(string.printable[:94], max_size=room), label="padding")
        cut = data.draw(st.integers(0, len(padding)))
        password = padding[:cut] + edited + padding[cut:]
        check = rule(term)
        assert check.score(password) < MIN_SCORE
        assert codes(check, password) == ["password_banned"]

    @settings(max_examples=200, deadline=None)
    @given(password=st.text(max_size=64), name=st.text(max_size=12))
    def test_the_score_never_exceeds_the_length(self, password: str, name: str) -> None:
        context = PasswordContext(upn=f"{name}@x.test", given_name=name, tenant_name=name)
        score = BannedPasswordRule(["contoso", "blank"]).score(password, context)
        assert 0 <= score <= len(password)
        assert (score == 0) is (password == "")

    @given(st.text("2346789#%&*^~=?;:<>", min_size=MIN_SCORE, max_size=40))
    def test_characters_that_make_no_term_pass(self, password: str) -> None:
        # No term can match: no term, nor any term one edit away, is made of these alone.
        check = rule("contoso", "blank", "abcdef", global_terms=("password", "qwerty"))
        assert check.score(password) == len(password)
        assert check.check(password, CONTOSO_USER) == []


class TestNames:
    ALICE = PasswordContext(
        upn="alice.anderson@contoso.com",
        given_name="Alice",
        family_name="Anderson",
        tenant_name="Contoso Pharmaceuticals",
    )

    @pytest.mark.parametrize(
        "password",
        [
            "Maple-@lice-Lantern-38",  # first name, normalised
            "Maple-ANDERSON-Lantern",  # last name
            "alice.anderson-Lantern",  # account name
            "Lantern-Andersonville-9",  # a name inside a word still counts
        ],
    )
    def test_the_users_own_names_refuse_outright(self, password: str) -> None:
        [violation] = rule().check(password, self.ALICE)
        assert violation.params["reason"] == "name"
        assert rule().score(password, self.ALICE) >= MIN_SCORE  # refused all the same

    def test_the_tenants_name_is_scored_like_a_banned_term(self) -> None:
        check = rule()
        assert check.matched_terms("Contoso-Maple-99", self.ALICE) == ["contoso"]
        assert check.check("Contoso-Maple-99", self.ALICE) == []  # 1 + 9 points
        assert check.score("Pharmaceuticals1", self.ALICE) == 2
        assert codes(check, "Pharmaceuticals1", self.ALICE) == ["password_banned"]

    def test_names_are_matched_exactly_not_fuzzily(self) -> None:
        assert rule().check("Alic3-Maple-Lantern", self.ALICE) == []
        assert rule().check("Andersen-Lantern-38", self.ALICE) == []

    def test_account_name_parts_of_four_or_more(self) -> None:
        context = PasswordContext(upn="jo.smith_admin@contoso.com")
        assert codes(rule(), "Smith-Lantern-38", context) == ["password_banned"]
        assert codes(rule(), "Maple-admin-Lantern", context) == ["password_banned"]
        assert rule().check("Jo-Maple-Lantern-38", context) == []

    def test_a_name_with_look_alike_characters_is_normalised_too(self) -> None:
        context = PasswordContext(given_name="B0b$on")
        assert codes(rule(), "bobson-Lantern-38", context) == ["password_banned"]


class TestCustomList:
    def test_case_and_look_alikes_do_not_matter(self) -> None:
        check = rule("C0NTOSO", " Fabrikam ")
        assert check.matched_terms("contoso") == ["contoso"]
        assert check.matched_terms("FABR1KAM") == ["fabrikam"]

    def test_terms_shorter_than_four_are_ignored(self) -> None:
        check = rule("abc", "x", "")
        assert len(check.custom_list) == 0
        assert check.score("abcabc") == 6

    def test_matches_say_which_list(self) -> None:
        check = rule("contoso", global_terms=("blank",))
        verdict = check.evaluate("C0ntos0Blank12")
        assert [(m.source, m.fragment) for m in verdict.matches] == [
            ("custom", "C0ntos0"),
            ("global", "Blank"),
        ]

    def test_a_tenants_list_is_indexed_once(self) -> None:
        first = BannedPasswordRule(["contoso", "blank"], global_list=EMPTY)
        again = BannedPasswordRule(["contoso", "blank"], global_list=EMPTY)
        assert first.custom_list is again.custom_list

    def test_a_thousand_terms(self) -> None:
        rng = random.Random(7)
        terms = [
            "".join(rng.choice(string.ascii_lowercase) for _ in range(rng.randint(4, 16)))
            for _ in range(1000)
        ]
        check = BannedPasswordRule(terms, global_list=EMPTY)
        for term in terms[::50]:
            assert codes(check, f"{term[:1].upper()}{term[1:]}9!") == ["password_banned"]


class TestShippedList:
    def test_it_loads_once(self) -> None:
        shipped = BannedList.shipped()
        assert shipped is BannedList.shipped()
        assert 10_000 <= len(shipped) <= 20_000

    def test_it_holds_the_commonest_passwords_normalised(self) -> None:
        shipped = BannedList.shipped()
        for password in ("password", "qwerty", "iloveyou", "P@ssw0rd", "QWERTY", "123456"):
            assert password in shipped, password
        assert "l23as6" in shipped.terms

    def test_the_file_is_sorted_normalised_terms(self) -> None:
        text = resources.files("sspr.policy").joinpath("data/banned-global.txt").read_text()
        lines = text.splitlines()
        assert lines == sorted(set(lines))
        assert all(4 <= len(t) <= 16 and normalise(t) == t and t.strip() == t for t in lines)

    @pytest.mark.parametrize(
        "password",
        [
            "P@ssw0rd2024!",
            "Summer2024!",
            "Welcome123!",
            "Qwerty!2345",
            "iloveyou2",
            "Password1",
            "Tr0ub4dor&3",
            "M0nkey!123",
            "Dr@gon2020",
            "Letmein!99",
        ],
    )
    def test_common_passwords_dressed_up_are_refused(self, password: str) -> None:
        assert codes(BannedPasswordRule(), password, CONTOSO_USER) == ["password_banned"]

    @pytest.mark.parametrize(
        "password",
        [
            "Maple-Lantern-38",
            "Velvet-Orbit-9317",
            "Correct-Horse-42",
            "Nimbus-Quokka-Tundra-5",
            "Saffron.Kettle.Bridge.61",
            "xK9#mQ2$vL7p",
        ],
    )
    def test_realistic_strong_passwords_pass(self, password: str) -> None:
        check = BannedPasswordRule(["contoso", "blank"])
        assert check.check(password, CONTOSO_USER) == []

    def test_microsofts_accepted_example_meets_a_real_global_list(self) -> None:
        """With the shipped list `blankf` is one edit from `blanka`, a common password."""
        verdict = BannedPasswordRule(["contoso", "blank"]).evaluate("ContoS0Bl@nkf9!")
        assert verdict.score == 4
        assert [m.fragment for m in verdict.matches] == ["ContoS0", "Bl@nkf"]

    def test_random_passwords_pass(self) -> None:
        rng = random.Random(2024)
        alphabet = string.ascii_letters + string.digits + string.punctuation
        check = BannedPasswordRule(["contoso", "blank"])
        for _ in range(500):
            password = "".join(rng.choice(alphabet) for _ in range(16))
            assert check.check(password, CONTOSO_USER) == [], password


class TestViolation:
    def test_the_message_quotes_the_users_input_not_the_list(self) -> None:
        [violation] = rule("abcdef").check("abcdeg", NOBODY)
        assert violation.code == "password_banned"
        assert "“abcdeg”" in violation.message
        assert "abcdef" not in violation.message
        assert "abcdef" not in str(violation.as_dict())
        assert violation.params == {
            "score": 1,
            "min_score": 5,
            "matched": ["abcdeg"],
            "reason": "score",
        }

    def test_the_message_is_plain(self) -> None:
        [violation] = rule("contoso", "blank").check("C0ntos0Blank12", NOBODY)
        assert violation.message == (
            "This password is too easy to guess: it is built on a common or banned word "
            "(“C0ntos0”, “Blank”). Add more of your own characters."
        )

    def test_the_rule_describes_itself(self) -> None:
        check = rule()
        assert check.code == "banned"
        assert "banned" in check.describe()

    def test_a_higher_threshold(self) -> None:
        check = BannedPasswordRule(["contoso", "blank"], global_list=EMPTY, min_score=6)
        assert codes(check, "ContoS0Bl@nkf9!") == ["password_banned"]
