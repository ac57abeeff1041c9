"""Sign-in names: one normal form, and look-alikes never meet."""

import pytest
from hypothesis import given
from hypothesis import strategies as st

from sspr.directory.identifiers import normalise_upn, validate_slug, validate_upn
from sspr.errors import InvalidValue


class TestUpn:
    def test_normalised_to_lower_case(self) -> None:
        assert validate_upn("  Alice@Contoso.COM ") == "alice@contoso.com"

    @pytest.mark.parametrize(
        "bad",
        ["alice", "@contoso.com", "alice@", "al ice@contoso.com", "alice@contoso",
         "a..b@contoso.com", "alıce@contoso.com", "alice@contoso.com\x00", "a" * 65 + "@c.com"],
    )
    def test_refused(self, bad: str) -> None:
        with pytest.raises(InvalidValue):
            validate_upn(bad)

    def test_full_width_letters_fold_to_ascii(self) -> None:
        """NFKC turns full-width 'ａ' into 'a': the same account, not a look-alike one."""
        assert normalise_upn("ａlice@contoso.com") == "alice@contoso.com"

    @given(st.text(max_size=120))
    def test_validated_names_are_ascii_and_stable(self, value: str) -> None:
        try:
            upn = validate_upn(value)
        except InvalidValue:
            return
        assert upn.isascii()
        assert validate_upn(upn) == upn


class TestSlug:
    def test_ok(self) -> None:
        assert validate_slug("Contoso-2") == "contoso-2"

    @pytest.mark.parametrize("bad", ["", "-a", "a-", "a_b", "a b", "x" * 64])
    def test_refused(self, bad: str) -> None:
        with pytest.raises(InvalidValue):
            validate_slug(bad)
