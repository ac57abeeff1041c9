"""What if this user came from this address for this action: which policies apply, what each
would do, why the others do not, and the decision. The same engine as enforcement; nothing is
recorded or changed."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sspr.access.access_policies import ACTIONS
from sspr.access.client_address import parse_address
from sspr.access.enforcement import evaluate_for
from sspr.access.policies import Evaluation
from sspr.directory.lookups import get_user
from sspr.directory.models import Tenant
from sspr.errors import InvalidValue


class InvalidAddress(InvalidValue):
    code = "invalid_address"


@dataclass(frozen=True)
class WhatIf:
    upn: str
    evaluation: Evaluation

    def as_dict(self) -> dict[str, Any]:
        e = self.evaluation
        return {
            "user": self.upn,
            "address": e.address,
            "action": e.action,
            "decision": e.decision,
            "report_only_decision": e.report_only_decision,
            "locations": list(e.in_locations),
            "trusted_location": e.trusted_location,
            "policies": [r.as_dict() for r in e.results],
        }


def what_if(tenant: Tenant, upn: str, address: str, action: str) -> WhatIf:
    if not upn.strip():
        raise InvalidValue("Name the user (user=UPN).", field="user")
    parsed = parse_address(address)
    if parsed is None:
        raise InvalidAddress(
            f"'{address.strip()[:64]}' is not an IPv4 or IPv6 address.", field="address"
        )
    if action not in ACTIONS:
        raise InvalidValue(f"The action is one of {', '.join(ACTIONS)}.", field="action")
    user = get_user(tenant, upn)
    return WhatIf(user.upn, evaluate_for(user, action, str(parsed)))
