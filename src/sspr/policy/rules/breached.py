from __future__ import annotations

import logging

from sspr.policy.breached import hibp
from sspr.policy.breached.filter import is_breached
from sspr.policy.rules.base import PasswordContext, PasswordRule, Violation
from sspr.policy.rules.base import gettext as _

log = logging.getLogger(__name__)


class BreachedPasswordRule(PasswordRule):
    """Not a password known from breaches: the shipped filter, then (per tenant) the range API.

    When the online lookup cannot answer, `fail_closed` refuses the password; otherwise the
    shipped filter's "no" stands and a warning is logged.
    """

    code = "breached"

    def __init__(self, *, online: bool = False, fail_closed: bool = False) -> None:
        self.online = online
        self.fail_closed = fail_closed

    def check(self, password: str, context: PasswordContext) -> list[Violation]:
        if is_breached(password):
            return [_breached()]
        if not self.online:
            return []
        try:
            found = hibp.is_pwned(password)
        except hibp.BreachLookupUnavailable:
            if self.fail_closed:
                return [
                    Violation(
                        "password_breach_check_unavailable",
                        _(
                            "We could not check this password against known breaches right "
                            "now; try again in a moment."
                        ),
                    )
                ]
            log.warning("breach_check_skipped reason=lookup_unavailable fail_open=true")
            return []
        return [_breached()] if found else []

    def describe(self) -> str:
        return _("Not a password known from data breaches.")


def _breached() -> Violation:
    return Violation(
        "password_breached",
        _(
            "This password has appeared in a data breach, so attackers try it first. "
            "Choose another."
        ),
    )
