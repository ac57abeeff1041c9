"""Password writeback for synced users: the directory writes first, and its answer is final.

The flows call these functions before they change anything in the service. An `ok` result lets
the flow record the new state; any other outcome becomes a sentence for the user and nothing
changes anywhere.
"""

from __future__ import annotations

from django.utils.translation import gettext as _
from django.utils.translation import gettext_noop

from sspr.directory.models import Source, User
from sspr.directory.plans import Feature, require
from sspr.errors import DomainError
from sspr.hybrid import commands
from sspr.policy.sspr_policy import get_policy
from sspr_protocol.messages import CommandKind, Outcome, Result, Target

# What the on-premises directory said, in words for the person who asked.
REFUSALS: dict[str, str] = {
    Outcome.PASSWORD_TOO_SHORT: gettext_noop(
        "Your organisation's directory refused the password: it is too short for its rules."
    ),
    Outcome.PASSWORD_NOT_COMPLEX: gettext_noop(
        "Your organisation's directory refused the password: it does not meet its complexity "
        "rules (mix upper- and lower-case letters, digits and symbols, and leave out your name)."
    ),
    Outcome.PASSWORD_IN_HISTORY: gettext_noop(
        "Your organisation's directory refused the password: you have used it before. Choose "
        "one you have not used."
    ),
    Outcome.PASSWORD_TOO_YOUNG: gettext_noop(
        "Your organisation's directory refused the change: your password was changed too "
        "recently. Try again later or contact your helpdesk."
    ),
    Outcome.PASSWORD_UNCHANGED: gettext_noop(
        "Your organisation's directory refused the password: it is the same as the current one."
    ),
    Outcome.WRONG_PASSWORD: gettext_noop("Your current password is incorrect."),
    Outcome.ACCOUNT_LOCKED: gettext_noop(
        "Your account is locked in your organisation's directory. Unlock it or contact your "
        "helpdesk."
    ),
    Outcome.ACCOUNT_DISABLED: gettext_noop(
        "Your account is disabled in your organisation's directory. Contact your helpdesk."
    ),
    Outcome.USER_NOT_FOUND: gettext_noop(
        "Your account was not found in your organisation's directory. Contact your helpdesk."
    ),
    Outcome.EXPIRED: gettext_noop(
        "Your organisation's on-premises password service did not answer in time. Nothing was "
        "changed. Try again in a moment."
    ),
    Outcome.DIRECTORY_UNAVAILABLE: gettext_noop(
        "Your organisation's directory could not be reached. Nothing was changed. Try again "
        "later or contact your helpdesk."
    ),
}
FALLBACK = gettext_noop(
    "Your organisation's directory did not accept the change. Nothing was changed. "
    "Contact your helpdesk if this goes on."
)


class DirectoryRefused(DomainError):
    status = 422

    def __init__(self, result: Result) -> None:
        self.code = f"directory_{result.outcome}"
        super().__init__(_(REFUSALS.get(result.outcome, FALLBACK)), outcome=result.outcome)


class WritebackUnavailable(DomainError):
    status = 409
    code = "writeback_unavailable"

    def __init__(self) -> None:
        super().__init__(
            _(
                "Your account is managed by your organisation's on-premises directory, and "
                "password writeback is not switched on. Contact your helpdesk."
            )
        )


class UnlockUnavailable(DomainError):
    status = 409
    code = "unlock_unavailable"

    def __init__(self) -> None:
        super().__init__(
            _("Unlocking without a reset is not offered here. Choose a new password instead.")
        )


def is_synced(user: User) -> bool:
    return user.source == Source.SYNCED


def target_of(user: User) -> Target:
    return Target(anchor=user.on_prem_anchor, dn=user.on_prem_dn, upn=user.upn)


def _writeback_allowed(user: User) -> None:
    require(user.tenant.plan, Feature.HYBRID_WRITEBACK)
    if not get_policy(user.tenant).writeback_enabled:
        raise WritebackUnavailable()


def _expect_ok(result: Result) -> None:
    if not result.ok:
        raise DirectoryRefused(result)


def reset(user: User, new_password: str, *, must_change: bool, enforce_policy: bool) -> None:
    """A reset in the on-premises directory.

    `enforce_policy`: the directory's own password policy (length, quality, history) applies, as
    for the user's own change: a self-service reset. An administrator's reset leaves it off and
    is exempt where the directory allows (as in Entra, where an administrator's reset skips the
    history).
    """
    _writeback_allowed(user)
    _expect_ok(
        commands.run(
            user.tenant,
            CommandKind.RESET_PASSWORD,
            target_of(user),
            {"new_password": new_password},
            {"must_change": must_change, "enforce_policy": enforce_policy},
        )
    )


def change(user: User, old_password: str, new_password: str) -> None:
    _writeback_allowed(user)
    _expect_ok(
        commands.run(
            user.tenant,
            CommandKind.CHANGE_PASSWORD,
            target_of(user),
            {"old_password": old_password, "new_password": new_password},
            {},
        )
    )


def unlock(user: User) -> None:
    require(user.tenant.plan, Feature.HYBRID_WRITEBACK)
    if not get_policy(user.tenant).unlock_enabled:
        raise UnlockUnavailable()
    _expect_ok(commands.run(user.tenant, CommandKind.UNLOCK, target_of(user), {}, {}))
