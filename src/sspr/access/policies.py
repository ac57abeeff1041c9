"""The evaluation engine: policies, who is asking, from where, for what -> the decision.

Pure: it reads only what it is given. A policy applies when its action matches, the user is
included and not excluded (exclusions win), and the address meets its location condition.
Among the policies that are on and apply, the most restrictive decision wins
(block > require_method > allow); with none, the action is allowed. Report-only policies are
evaluated the same way and appear in the trace with what they would have decided, but never
change the decision.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from sspr.access.client_address import IPNetwork, parse_address

ALLOW = "allow"
REQUIRE_METHOD = "require_method"
BLOCK = "block"
DECISIONS = (ALLOW, REQUIRE_METHOD, BLOCK)  # from the least restrictive
STATES = ("on", "off", "report_only")
WHERE = ("any", "trusted", "untrusted", "selected")


def strictest(decisions: Iterable[str]) -> str:
    return max(decisions, key=DECISIONS.index, default=ALLOW)


@dataclass(frozen=True)
class Location:
    id: int
    name: str
    networks: tuple[IPNetwork, ...]
    trusted: bool


@dataclass(frozen=True)
class Rule:
    """One policy as the engine sees it; ids are those of groups, users and locations."""

    id: int
    name: str
    action: str
    state: str
    decision: str
    include_all: bool = False
    include_groups: frozenset[int] = frozenset()
    include_roles: frozenset[str] = frozenset()
    include_users: frozenset[int] = frozenset()
    exclude_groups: frozenset[int] = frozenset()
    exclude_roles: frozenset[str] = frozenset()
    exclude_users: frozenset[int] = frozenset()
    where: str = "any"
    locations: frozenset[int] = frozenset()


@dataclass(frozen=True)
class Subject:
    """Who asks: the user, every group they are in (nesting followed) and their roles."""

    user_id: int
    groups: frozenset[int] = frozenset()
    roles: frozenset[str] = frozenset()


@dataclass(frozen=True)
class Result:
    policy_id: int
    policy: str
    state: str
    applies: bool
    # Why it applies, or why not: in words, for the audit trail and the what-if answer.
    reason: str
    decision: str
    enforced: bool

    def as_dict(self) -> dict[str, Any]:
        return {
            "id": self.policy_id,
            "name": self.policy,
            "state": self.state,
            "applies": self.applies,
            "result": self.decision if self.applies else "not_applied",
            "report_only": self.state == "report_only",
            "reason": self.reason,
        }


@dataclass(frozen=True)
class Evaluation:
    action: str
    address: str
    decision: str
    # What the report-only policies that apply would have decided (with those on).
    report_only_decision: str
    in_locations: tuple[str, ...]
    trusted_location: bool
    results: tuple[Result, ...] = field(default=())

    def as_dict(self) -> dict[str, Any]:
        """The evaluation as the audit event carries it."""
        return {
            "action": self.action,
            "address": self.address,
            "decision": self.decision,
            "report_only_decision": self.report_only_decision,
            "locations": list(self.in_locations),
            "trusted_location": self.trusted_location,
            "policies": [r.as_dict() for r in self.results if r.state != "off"],
        }


def locations_of(address: str, locations: Iterable[Location]) -> list[Location]:
    """The named locations whose ranges hold `address`; none for an address that is not one."""
    parsed = parse_address(address)
    if parsed is None:
        return []
    return [
        loc
        for loc in locations
        if any(parsed.version == n.version and parsed in n for n in loc.networks)
    ]


def _who(rule: Rule, subject: Subject) -> tuple[bool, str]:
    if subject.user_id in rule.exclude_users:
        return False, "the user is excluded"
    if subject.groups & rule.exclude_groups:
        return False, "the user is in an excluded group"
    if subject.roles & rule.exclude_roles:
        return False, "the user holds an excluded role"
    if rule.include_all:
        return True, "all users"
    if subject.user_id in rule.include_users:
        return True, "the user is included"
    if subject.groups & rule.include_groups:
        return True, "the user is in an included group"
    if subject.roles & rule.include_roles:
        return True, "the user holds an included role"
    return False, "the user is not among the users it includes"


def _where(rule: Rule, here: list[Location]) -> tuple[bool, str]:
    trusted = any(loc.trusted for loc in here)
    if rule.where == "trusted":
        return trusted, "from a trusted location" if trusted else "not from a trusted location"
    if rule.where == "untrusted":
        return (not trusted), "from a trusted location" if trusted else "outside trusted locations"
    if rule.where == "selected":
        hit = any(loc.id in rule.locations for loc in here)
        return hit, "from a selected location" if hit else "not from a selected location"
    return True, "from any location"


def judge(rule: Rule, subject: Subject, here: list[Location]) -> Result:
    """One policy against one request."""

    def result(applies: bool, reason: str) -> Result:
        enforced = applies and rule.state == "on"
        return Result(rule.id, rule.name, rule.state, applies, reason, rule.decision, enforced)

    if rule.state == "off":
        return result(False, "the policy is off")
    included, who = _who(rule, subject)
    if not included:
        return result(False, who)
    inside, where = _where(rule, here)
    if not inside:
        return result(False, where)
    return result(True, f"{who}, {where}")


def evaluate(
    rules: Iterable[Rule],
    subject: Subject,
    address: str,
    action: str,
    locations: Iterable[Location],
) -> Evaluation:
    here = locations_of(address, locations)
    results = tuple(judge(r, subject, here) for r in rules if r.action == action)
    enforced = [r.decision for r in results if r.enforced]
    evaluated = [r.decision for r in results if r.applies and r.state != "off"]
    return Evaluation(
        action=action,
        address=address,
        decision=strictest(enforced),
        report_only_decision=strictest(evaluated),
        in_locations=tuple(loc.name for loc in here),
        trusted_location=any(loc.trusted for loc in here),
        results=results,
    )
