"""Pass-through sign-in: a synced user's password is checked by the directory, with a bind."""

from __future__ import annotations

from sspr.directory.models import User
from sspr.hybrid import commands
from sspr_protocol.messages import CommandKind, Outcome, Target


def verify(user: User, password: str) -> Outcome:
    """The directory's verdict on `password` (OK, WRONG_PASSWORD, ACCOUNT_LOCKED, ...).

    An empty password never reaches the directory: some directories treat an empty simple bind
    as an anonymous one, which "succeeds".
    """
    if not password:
        return Outcome.WRONG_PASSWORD
    target = Target(anchor=user.on_prem_anchor, dn=user.on_prem_dn, upn=user.upn)
    result = commands.run(
        user.tenant, CommandKind.VERIFY_CREDENTIALS, target, {"password": password}, {}
    )
    return Outcome(result.outcome)
