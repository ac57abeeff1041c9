"""Comparing DNs: the parser-free path for plain DNs agrees with ldap3's DN parser."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st
from ldap3.core.exceptions import LDAPException
from ldap3.utils.dn import parse_dn

from sspr_agent.directory import norm_dn

attribute = st.sampled_from(["cn", "CN", "ou", "OU", "dc", "DC", "uid", "o", "Mail"])
value = st.text(
    alphabet=st.characters(min_codepoint=32, max_codepoint=0x24F, exclude_characters=",="),
    min_size=1,
    max_size=12,
).filter(lambda v: v.strip())
spacing = st.sampled_from(["", " ", "  "])


@st.composite
def dns(draw: st.DrawFn) -> str:
    parts = draw(st.lists(st.tuples(attribute, value, spacing, spacing), min_size=1, max_size=6))
    return ",".join(f"{s1}{a}{s2}={v}" for a, v, s1, s2 in parts)


def by_parser(dn: str) -> str:
    try:
        parts = parse_dn(dn, escape=False, strip=True)
    except LDAPException:
        return dn.strip().lower()
    return ",".join(f"{a.lower()}={v.lower()}" for a, v, _ in parts)


@given(dns())
def test_the_fast_path_agrees_with_the_parser(dn: str) -> None:
    assert norm_dn(dn) == by_parser(dn)


def test_escaped_and_multi_valued_names_go_through_the_parser() -> None:
    escaped = "CN=Smith\\, John,OU=Staff,DC=corp"
    assert norm_dn(escaped) == by_parser(escaped) != norm_dn("CN=Smith,OU=Staff,DC=corp")
    assert norm_dn("cn=a+uid=b,dc=x") == by_parser("cn=a+uid=b,dc=x")


def test_spacing_and_case_do_not_matter() -> None:
    assert norm_dn("CN=Ann Archer, OU=Staff ,DC=Corp,DC=Test") == norm_dn(
        "cn=ann archer,ou=staff,dc=corp,dc=test"
    )
