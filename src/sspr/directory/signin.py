"""Sign-in with a password: one generic answer for every wrong name or password."""

from __future__ import annotations

from dataclasses import dataclass
from typing import NoReturn

from django.db import transaction
from django.utils.translation import gettext as _

from sspr.audit.events import Activity, failure, record
from sspr.directory import credentials, lockout
from sspr.directory.identifiers import normalise_upn
from sspr.directory.models import Credential, Source, Tenant, User
from sspr.directory.passwords import hash_password, needs_rehash, verify_password
from sspr.errors import DomainError
from sspr_protocol.messages import Outcome


class InvalidCredentials(DomainError):
    status = 401
    code = "invalid_credentials"

    def __init__(self) -> None:
        super().__init__(_("Your account or password is incorrect."))


class AccountDisabled(DomainError):
    status = 403
    code = "account_disabled"

    def __init__(self) -> None:
        super().__init__(
            _("Your account has been disabled. Contact your helpdesk to have it enabled.")
        )


@dataclass(frozen=True)
class SignedIn:
    user: User
    token: str
    credential: Credential

    @property
    def must_change_password(self) -> bool:
        return self.user.must_change_password


def begin_attempt(tenant: Tenant, username: str, secret: str) -> tuple[str, lockout.Attempt]:
    """The name as stored, and one attempt reserved for it (a locked name is refused, audited)."""
    key = normalise_upn(username)[:256]
    try:
        attempt = lockout.begin(tenant, key, secret)
    except lockout.AccountLocked:
        with transaction.atomic():
            failure(tenant, Activity.SIGN_IN, "Account locked (smart lockout)", target=key)
        raise
    return key, attempt


def sign_in(tenant: Tenant, username: str, password: str, kind: str) -> SignedIn:
    key, attempt = begin_attempt(tenant, username, password)
    user = User.objects.filter(tenant=tenant, upn=key).first()
    if user is not None and user.source == Source.SYNCED:
        must_change = _pass_through(tenant, user, key, password, attempt)
    else:
        # verify_password spends the same time on a missing user as on a real one.
        if not verify_password(user.password_hash if user else "", password) or user is None:
            refuse(tenant, key, attempt)
        must_change = False
    assert user is not None
    if not user.enabled:
        lockout.succeeded(attempt)
        with transaction.atomic():
            failure(tenant, Activity.SIGN_IN, "Account disabled", target=user)
        raise AccountDisabled()
    # One transaction for everything a successful sign-in writes.
    with transaction.atomic():
        lockout.succeeded(attempt)
        if must_change and not user.must_change_password:
            user.must_change_password = True
            user.save(update_fields=["must_change_password"])
        if user.password_hash and needs_rehash(user.password_hash):
            user.password_hash = hash_password(password)
            user.save(update_fields=["password_hash"])
        token, credential = credentials.issue(user, kind)
        record(
            tenant,
            Activity.SIGN_IN,
            actor=user,
            target=user,
            kind=kind,
            must_change=user.must_change_password,
        )
    return SignedIn(user, token, credential)


class DirectoryUnavailable(DomainError):
    status = 503
    code = "directory_unavailable"

    def __init__(self) -> None:
        super().__init__(
            _(
                "Your organisation's directory could not be reached to check your password. "
                "Try again in a moment, or contact your helpdesk."
            )
        )


class LockedOnPremises(DomainError):
    status = 423
    code = "account_locked_on_premises"

    def __init__(self) -> None:
        super().__init__(
            _(
                "Your account is locked in your organisation's directory. Reset your password "
                "or unlock your account, or contact your helpdesk."
            )
        )


def refuse(
    tenant: Tenant,
    key: str,
    attempt: lockout.Attempt,
    reason: str = "Invalid username or password",
    **details: str,
) -> NoReturn:
    """A wrong name or secret: counted toward the lockout, audited, one answer for all."""
    lockout.failed(attempt)
    with transaction.atomic():
        failure(tenant, Activity.SIGN_IN, reason, target=key, **details)
    raise InvalidCredentials()


def _pass_through(
    tenant: Tenant, user: User, key: str, password: str, attempt: lockout.Attempt
) -> bool:
    """Ask the directory; True when the password is right but must be changed now."""
    from sspr.hybrid import passthrough

    try:
        outcome = passthrough.verify(user, password)
    except DomainError:
        lockout.succeeded(attempt)  # the agent's absence is not the user's mistake
        with transaction.atomic():
            failure(tenant, Activity.SIGN_IN, "Pass-through agent unavailable", target=user)
        raise
    if outcome == Outcome.ACCOUNT_LOCKED:
        lockout.succeeded(attempt)
        with transaction.atomic():
            failure(tenant, Activity.SIGN_IN, "Account locked on-premises", target=user)
        raise LockedOnPremises()
    if outcome == Outcome.ACCOUNT_DISABLED:
        lockout.succeeded(attempt)
        with transaction.atomic():
            failure(tenant, Activity.SIGN_IN, "Account disabled on-premises", target=user)
        raise AccountDisabled()
    if outcome in (Outcome.DIRECTORY_UNAVAILABLE, Outcome.DIRECTORY_ERROR, Outcome.EXPIRED):
        lockout.succeeded(attempt)  # the directory's trouble, not a wrong password
        with transaction.atomic():
            failure(
                tenant,
                Activity.SIGN_IN,
                f"Directory could not check the password ({outcome})",
                target=user,
            )
        raise DirectoryUnavailable()
    if outcome not in (Outcome.OK, Outcome.MUST_CHANGE):
        refuse(tenant, key, attempt)
    return outcome == Outcome.MUST_CHANGE


def sign_out(credential: Credential) -> None:
    with transaction.atomic():
        credentials.revoke(credential)
        record(
            credential.user.tenant, Activity.SIGN_OUT, actor=credential.user, target=credential.user
        )
