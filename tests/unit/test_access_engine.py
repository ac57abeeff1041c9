"""The conditional access engine: who, where, and the most restrictive enforced decision."""

from __future__ import annotations

import ipaddress

from hypothesis import given
from hypothesis import strategies as st

from sspr.access.policies import (
    ALLOW,
    BLOCK,
    DECISIONS,
    REQUIRE_METHOD,
    Location,
    Rule,
    Subject,
    evaluate,
    locations_of,
    strictest,
)

REGISTER = "register_security_info"
OFFICE = Location(1, "Office", (ipaddress.ip_network("203.0.113.0/24"),
                                ipaddress.ip_network("2001:db8:1::/48")), trusted=True)
PARTNER = Location(2, "Partner", (ipaddress.ip_network("198.51.100.0/24"),), trusted=False)
LOCATIONS = [OFFICE, PARTNER]
ALICE = Subject(7, groups=frozenset({10}), roles=frozenset())
ADMIN = Subject(8, groups=frozenset(), roles=frozenset({"global-administrator"}))


def rule(n: int = 1, **kwargs: object) -> Rule:
    values: dict[str, object] = {"id": n, "name": f"policy {n}", "action": REGISTER,
                                 "state": "on", "decision": REQUIRE_METHOD, "include_all": True}
    values.update(kwargs)
    return Rule(**values)  # type: ignore[arg-type]


def decide(rules: list[Rule], subject: Subject = ALICE, address: str = "192.0.2.50") -> str:
    return evaluate(rules, subject, address, REGISTER, LOCATIONS).decision


class TestLocations:
    @given(st.integers(0, 255))
    def test_every_address_of_an_ipv4_range_is_inside_it(self, last: int) -> None:
        assert locations_of(f"203.0.113.{last}", LOCATIONS) == [OFFICE]

    @given(st.ip_addresses(v=4))
    def test_ipv4_membership_is_the_cidr_test(self, address: ipaddress.IPv4Address) -> None:
        inside = address in ipaddress.ip_network("203.0.113.0/24")
        assert (OFFICE in locations_of(str(address), LOCATIONS)) == inside

    @given(st.ip_addresses(v=6))
    def test_ipv6_membership_is_the_cidr_test(self, address: ipaddress.IPv6Address) -> None:
        inside = address in ipaddress.ip_network("2001:db8:1::/48")
        if address.ipv4_mapped is None:
            assert (OFFICE in locations_of(str(address), LOCATIONS)) == inside

    def test_an_ipv4_mapped_ipv6_address_is_its_ipv4(self) -> None:
        assert locations_of("::ffff:203.0.113.9", LOCATIONS) == [OFFICE]

    def test_something_that_is_no_address_is_nowhere(self) -> None:
        assert locations_of("unknown", LOCATIONS) == []
        assert locations_of("", LOCATIONS) == []


class TestWhere:
    def test_outside_trusted_locations(self) -> None:
        untrusted = [rule(where="untrusted")]
        assert decide(untrusted, address="192.0.2.50") == REQUIRE_METHOD
        assert decide(untrusted, address="203.0.113.50") == ALLOW
        # A named location that is not trusted is still outside the trusted ones.
        assert decide(untrusted, address="198.51.100.5") == REQUIRE_METHOD

    def test_trusted_and_selected(self) -> None:
        assert decide([rule(where="trusted", decision=BLOCK)], address="203.0.113.1") == BLOCK
        assert decide([rule(where="trusted", decision=BLOCK)], address="192.0.2.1") == ALLOW
        partner_only = [rule(where="selected", locations=frozenset({2}), decision=BLOCK)]
        assert decide(partner_only, address="198.51.100.5") == BLOCK
        assert decide(partner_only, address="203.0.113.1") == ALLOW


class TestWho:
    def test_exclusions_win_over_inclusions(self) -> None:
        assert decide([rule(exclude_users=frozenset({7}))]) == ALLOW
        assert decide([rule(exclude_groups=frozenset({10}))]) == ALLOW
        assert decide([rule(exclude_roles=frozenset({"global-administrator"}))], ADMIN) == ALLOW
        assert decide([rule(exclude_roles=frozenset({"global-administrator"}))]) == REQUIRE_METHOD

    def test_groups_roles_and_users(self) -> None:
        by_group = [rule(include_all=False, include_groups=frozenset({10}))]
        assert decide(by_group) == REQUIRE_METHOD
        assert decide(by_group, ADMIN) == ALLOW
        by_role = [rule(include_all=False, include_roles=frozenset({"global-administrator"}))]
        assert decide(by_role, ADMIN) == REQUIRE_METHOD
        assert decide(by_role) == ALLOW
        assert decide([rule(include_all=False, include_users=frozenset({8}))], ADMIN) != ALLOW


class TestDecision:
    def test_another_action_is_not_concerned(self) -> None:
        assert decide([rule(action="admin_sign_in", decision=BLOCK)]) == ALLOW

    def test_off_is_ignored_and_says_so(self) -> None:
        evaluation = evaluate([rule(state="off", decision=BLOCK)], ALICE, "192.0.2.1", REGISTER,
                              LOCATIONS)
        assert evaluation.decision == ALLOW
        assert evaluation.results[0].reason == "the policy is off"
        assert evaluation.as_dict()["policies"] == []

    def test_report_only_is_logged_never_enforced(self) -> None:
        evaluation = evaluate([rule(state="report_only", decision=BLOCK)], ALICE, "192.0.2.1",
                              REGISTER, LOCATIONS)
        assert evaluation.decision == ALLOW
        assert evaluation.report_only_decision == BLOCK
        logged = evaluation.as_dict()["policies"][0]
        assert logged["report_only"] and logged["result"] == BLOCK and logged["applies"]

    @given(st.lists(st.tuples(st.sampled_from(DECISIONS),
                              st.sampled_from(["on", "off", "report_only"]), st.booleans()),
                    max_size=6))
    def test_the_most_restrictive_enforced_decision_wins(
        self, specs: list[tuple[str, str, bool]]
    ) -> None:
        rules = [rule(i, decision=d, state=s, exclude_users=frozenset({7}) if excluded
                      else frozenset())
                 for i, (d, s, excluded) in enumerate(specs)]
        enforced = [d for d, s, excluded in specs if s == "on" and not excluded]
        expected = max(enforced, key=DECISIONS.index) if enforced else ALLOW
        assert decide(rules) == expected
        # Report-only policies never loosen nor tighten what is enforced.
        with_reports = [*rules, rule(99, state="report_only", decision=BLOCK)]
        assert decide(with_reports) == expected

    def test_strictest(self) -> None:
        assert strictest([]) == ALLOW
        assert strictest([ALLOW, BLOCK, REQUIRE_METHOD]) == BLOCK
