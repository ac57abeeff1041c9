"""Sign-in with a password: one generic answer for every wrong name or password."""

from __future__ import annotations

from dataclasses import dataclass

from django.db import transaction

from sspr.audit.events import Activity, failure, record
from sspr.directory import credentials, lockout
from sspr.directory.identifiers import normalise_upn
from sspr.directory.models import Credential, Source, Tenant, User
from sspr.directory.passwords import hash_password, needs_rehash, verify_password
from sspr.errors import DomainError


class InvalidCredentials(DomainError):
    status = 401
    code = "invalid_credentials"

    def __init__(self) -> None:
        super().__init__("Your account or password is incorrect.")


class AccountDisabled(DomainError):
    status = 403
    code = "account_disabled"

    def __init__(self) -> None:
        super().__init__(
            "Your account has been disabled. Contact your helpdesk to have it enabled."
        )


@dataclass(frozen=True)
class SignedIn:
    user: User
    token: str
    credential: Credential

    @property
    def must_change_password(self) -> bool:
        return self.user.must_change_password


def sign_in(tenant: Tenant, username: str, password: str, kind: str) -> SignedIn:
    key = normalise_upn(username)[:256]
    try:
        attempt = lockout.begin(tenant, key, password)
    except lockout.AccountLocked:
        with transaction.atomic():
            failure(tenant, Activity.SIGN_IN, "Account locked (smart lockout)", target=key)
        raise
    user = User.objects.filter(tenant=tenant, upn=key, source=Source.CLOUD).first()
    # verify_password spends the same time on a missing user as on a real one.
    ok = verify_password(user.password_hash if user else "", password)
    if not ok or user is None:
        lockout.failed(attempt)
        with transaction.atomic():
            failure(tenant, Activity.SIGN_IN, "Invalid username or password", target=key)
        raise InvalidCredentials()
    lockout.succeeded(attempt)
    if not user.enabled:
        with transaction.atomic():
            failure(tenant, Activity.SIGN_IN, "Account disabled", target=user)
        raise AccountDisabled()
    with transaction.atomic():
        if needs_rehash(user.password_hash):
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


def sign_out(credential: Credential) -> None:
    with transaction.atomic():
        credentials.revoke(credential)
        record(
            credential.user.tenant, Activity.SIGN_OUT, actor=credential.user, target=credential.user
        )
