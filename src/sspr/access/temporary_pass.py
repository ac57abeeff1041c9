"""Temporary Access Pass: a time-limited passcode to register methods with, issued by an
administrator and shown once.

Stored as a keyed hash bound to its user; compared in constant time; one-time or good for N
uses within its lifetime (10 minutes to 30 days); revocable; a new pass replaces the user's
earlier one. Signing in with it gives a session that may only register methods: it never
changes or resets a password and never reaches the admin portal. Wrong passes count toward
the name's smart lockout, like wrong passwords, and get the same answer.
"""

from __future__ import annotations

import hmac
import re
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db import transaction
from django.utils import timezone

from sspr.access.models import PassSession, StepUp, TemporaryAccessPass
from sspr.audit.events import Activity, failure, record
from sspr.crypto import keyed_digest
from sspr.directory import credentials, lockout
from sspr.directory.models import Credential, Tenant, User
from sspr.directory.roles import Role, can_reset_password
from sspr.directory.signin import AccountDisabled, SignedIn, begin_attempt, refuse
from sspr.errors import Forbidden, InvalidValue, NotFound

METHOD = "temporary_access_pass"
MIN_LIFETIME = timedelta(minutes=10)
MAX_LIFETIME = timedelta(days=30)
DEFAULT_LIFETIME = timedelta(hours=1)
MAX_USES = 100
# Letters and digits nobody confuses when reading them out (no i, l, o, 0, 1).
ALPHABET = "abcdefghjkmnpqrstuvwxyz23456789"
LENGTH = 16  # about 79 bits
# A session signed in with a pass lasts at most this long.
SESSION_LIFETIME = timedelta(hours=1)
_AUTHENTICATION_POLICY_REACH = frozenset(
    {
        Role.AUTHENTICATION_POLICY_ADMINISTRATOR,
        Role.PASSWORD_ADMINISTRATOR,
        Role.HELPDESK_ADMINISTRATOR,
    }
)


class InvalidLifetime(InvalidValue):
    code = "invalid_lifetime"


class InvalidUses(InvalidValue):
    code = "invalid_uses"


class UnknownPass(NotFound):
    code = "unknown_access_pass"


@dataclass(frozen=True)
class Issued:
    access_pass: TemporaryAccessPass
    # The passcode itself: in this answer only, never stored or logged.
    passcode: str


def normalise(passcode: str) -> str:
    return re.sub(r"[\s-]", "", passcode).lower()[:64]


def _digest(user_id: int, passcode: str) -> str:
    return keyed_digest(METHOD, f"{user_id}\x00{normalise(passcode)}").hex()


def _new_passcode() -> str:
    raw = "".join(secrets.choice(ALPHABET) for _ in range(LENGTH))
    return "-".join(raw[i : i + 4] for i in range(0, LENGTH, 4))


_UNITS = {"m": 60, "h": 3600, "d": 86400}


def parse_lifetime(text: str | int | timedelta) -> timedelta:
    """ "90m", "1h", "7d", a number of minutes, or a timedelta; 10 minutes to 30 days."""
    if isinstance(text, timedelta):
        lifetime = text
    else:
        value = str(text).strip().lower()
        found = re.fullmatch(r"(\d{1,7})\s*([mhd]?)", value)
        if found is None:
            raise InvalidLifetime(
                f"'{value[:20]}' is not a lifetime: write e.g. 30m, 8h or 7d.", field="lifetime"
            )
        lifetime = timedelta(seconds=int(found[1]) * _UNITS[found[2] or "m"])
    if not MIN_LIFETIME <= lifetime <= MAX_LIFETIME:
        raise InvalidLifetime(
            "A Temporary Access Pass lasts from 10 minutes to 30 days.", field="lifetime"
        )
    return lifetime


def may_issue(actor: User, target: User) -> bool:
    """Global Administrators for anyone; Authentication Policy Administrators for users who
    hold no role above theirs; Password and Helpdesk Administrators for the users whose
    passwords they may reset. Nobody for themselves."""
    if actor.pk == target.pk or actor.tenant_id != target.tenant_id:
        return False
    held = set(actor.roles)
    if Role.GLOBAL_ADMINISTRATOR in held:
        return True
    if Role.AUTHENTICATION_POLICY_ADMINISTRATOR in held and set(target.roles) <= (
        _AUTHENTICATION_POLICY_REACH
    ):
        return True
    return can_reset_password(held, target.roles)


def _check_actor(actor: User | str, target: User) -> None:
    if isinstance(actor, User) and not may_issue(actor, target):
        raise Forbidden(
            "Your role does not allow you to manage Temporary Access Passes for this user."
            if actor.pk != target.pk
            else "Nobody can manage a Temporary Access Pass for themselves."
        )


def live(target: User, now: datetime | None = None) -> list[TemporaryAccessPass]:
    moment = now or timezone.now()
    return [
        p
        for p in TemporaryAccessPass.objects.filter(
            user=target, revoked_at__isnull=True, expires_at__gt=moment
        )
        if p.uses < p.max_uses
    ]


@transaction.atomic
def issue(
    actor: User | str,
    target: User,
    lifetime: str | int | timedelta = DEFAULT_LIFETIME,
    max_uses: int = 1,
    starts_at: datetime | None = None,
) -> Issued:
    """A new pass for `target` (any earlier one stops working); the passcode is returned once."""
    _check_actor(actor, target)
    duration = parse_lifetime(lifetime)
    if isinstance(max_uses, bool) or not 1 <= int(max_uses) <= MAX_USES:
        raise InvalidUses(f"A pass is good for 1 to {MAX_USES} uses.", field="max_uses")
    now = timezone.now()
    start = starts_at or now
    if not now - timedelta(minutes=1) <= start <= now + MAX_LIFETIME:
        raise InvalidValue("A pass starts now or within 30 days.", field="starts_at")
    by = actor.upn if isinstance(actor, User) else actor
    replaced = [p.pk for p in live(target, now)]
    TemporaryAccessPass.objects.filter(pk__in=replaced).update(revoked_at=now, revoked_by=by)
    passcode = _new_passcode()
    access_pass = TemporaryAccessPass.objects.create(
        tenant=target.tenant,
        user=target,
        pass_hash=_digest(target.pk, passcode),
        created_by=by,
        starts_at=start,
        expires_at=start + duration,
        max_uses=int(max_uses),
    )
    record(
        target.tenant,
        Activity.ADMIN_REGISTERED_SECURITY_INFO,
        actor=actor,
        target=target,
        method=METHOD,
        pass_id=access_pass.pk,
        starts_at=access_pass.starts_at.isoformat(),
        expires_at=access_pass.expires_at.isoformat(),
        max_uses=access_pass.max_uses,
        replaced=replaced,
    )
    return Issued(access_pass, passcode)


def list_passes(actor: User | str, target: User) -> list[TemporaryAccessPass]:
    _check_actor(actor, target)
    return list(TemporaryAccessPass.objects.filter(user=target).order_by("-created_at", "-pk"))


def as_dict(access_pass: TemporaryAccessPass) -> dict[str, object]:
    """What may be shown of a pass: never the passcode, never its hash."""
    return {
        "id": access_pass.pk,
        "state": access_pass.state_at(),
        "created_by": access_pass.created_by,
        "created_at": access_pass.created_at,
        "starts_at": access_pass.starts_at,
        "expires_at": access_pass.expires_at,
        "max_uses": access_pass.max_uses,
        "uses": access_pass.uses,
        "last_used_at": access_pass.last_used_at,
        "revoked_at": access_pass.revoked_at,
    }


@transaction.atomic
def revoke(actor: User | str, target: User, pass_id: int | str | None = None) -> int:
    """Revoke one pass (by id) or every pass of the user still usable; how many were."""
    _check_actor(actor, target)
    found = TemporaryAccessPass.objects.filter(user=target, revoked_at__isnull=True)
    if pass_id is not None:
        text = str(pass_id).strip()
        if not text.isdigit() or len(text) > 18:
            raise UnknownPass("There is no such Temporary Access Pass for this user.")
        found = found.filter(pk=int(text))
        if (
            not found.exists()
            and not TemporaryAccessPass.objects.filter(user=target, pk=int(text)).exists()
        ):
            raise UnknownPass("There is no such Temporary Access Pass for this user.")
    ids = list(found.values_list("pk", flat=True))
    by = actor.upn if isinstance(actor, User) else actor
    TemporaryAccessPass.objects.filter(pk__in=ids).update(revoked_at=timezone.now(), revoked_by=by)
    record(
        target.tenant,
        Activity.ADMIN_DELETED_SECURITY_INFO,
        actor=actor,
        target=target,
        method=METHOD,
        pass_ids=ids,
    )
    return len(ids)


def _match(user_id: int, passcode: str) -> TemporaryAccessPass | None:
    """The usable pass of the user that `passcode` is, compared in constant time."""
    expected = _digest(user_id, passcode)
    now = timezone.now()
    match = None
    candidates = TemporaryAccessPass.objects.select_for_update().filter(
        user_id=user_id, revoked_at__isnull=True, starts_at__lte=now, expires_at__gt=now
    )
    for candidate in candidates:
        if hmac.compare_digest(candidate.pass_hash, expected) and candidate.uses < (
            candidate.max_uses
        ):
            match = candidate
    return match


def _use(access_pass: TemporaryAccessPass) -> None:
    access_pass.uses += 1
    access_pass.last_used_at = timezone.now()
    access_pass.save(update_fields=["uses", "last_used_at"])


def redeem(user: User, passcode: str) -> TemporaryAccessPass | None:
    """Spend one use of the user's pass if `passcode` is it; None (nothing spent) otherwise.
    Call inside the transaction that records what the pass was used for."""
    found = _match(user.pk, passcode)
    if found is not None:
        _use(found)
    return found


def is_pass_session(credential: Credential) -> bool:
    return PassSession.objects.filter(credential=credential).exists()


def _pass_session(user: User, access_pass: TemporaryAccessPass, kind: str) -> SignedIn:
    """Spend a use of the pass and open a session that may only register methods."""
    _use(access_pass)
    token, credential = credentials.issue(user, kind)
    credential.expires_at = min(credential.expires_at, timezone.now() + SESSION_LIFETIME)
    credential.save(update_fields=["expires_at"])
    PassSession.objects.create(credential=credential, access_pass=access_pass)
    StepUp.objects.create(credential=credential, via=METHOD, expires_at=credential.expires_at)
    record(
        user.tenant,
        Activity.SIGN_IN,
        actor=user,
        target=user,
        kind=kind,
        method=METHOD,
        pass_id=access_pass.pk,
        uses=access_pass.uses,
    )
    return SignedIn(user, token, credential)


def sign_in_with_pass(tenant: Tenant, username: str, passcode: str, kind: str) -> SignedIn:
    """Sign in with a user name and a Temporary Access Pass instead of the password."""
    key, attempt = begin_attempt(tenant, username, passcode)
    user = User.objects.filter(tenant=tenant, upn=key).first()
    with transaction.atomic():
        # One query and one digest whether or not the name is someone's.
        found = _match(user.pk if user else 0, passcode)
        signed_in = (
            _pass_session(user, found, kind)
            if found is not None and user is not None and user.enabled
            else None
        )
    if signed_in is not None:
        lockout.succeeded(attempt)
        return signed_in
    if found is None or user is None:
        refuse(tenant, key, attempt, "Invalid username or Temporary Access Pass", method=METHOD)
    lockout.succeeded(attempt)  # the right pass: the account's state is no guess
    with transaction.atomic():
        failure(tenant, Activity.SIGN_IN, "Account disabled", target=key, method=METHOD)
    raise AccountDisabled()
