"""Proving an already-registered method (or a Temporary Access Pass) before a protected action.

A session that proves it may add or change methods, or enter the admin portal, where a policy
requires it, for ten minutes. The proof is a code sent to a registered email or phone, the
authenticator app's current code, or a Temporary Access Pass. Security questions do not count:
whoever knows the password may well know the answers. Wrong codes and passes count toward the
same limit as wrong registration codes.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from sspr.access import temporary_pass
from sspr.access.models import StepUp
from sspr.audit.events import Activity, failure, record
from sspr.directory.models import Credential, User
from sspr.errors import DomainError, InvalidValue
from sspr.flows.blocking import blocking
from sspr.messaging.notify import CodeNotSent
from sspr.messaging.providers.base import DeliveryFailed
from sspr.methods import codes, totp
from sspr.methods.code_method import CodeMethod
from sspr.methods.models import RegisteredMethod
from sspr.methods.registry import METHOD_CLASSES, method_for
from sspr.policy.sspr_policy import get_policy
from sspr.throttling import limits
from sspr.throttling.counters import release, take

LIFETIME = timedelta(minutes=10)
PASS = temporary_pass.METHOD
PURPOSE = "security-info"


class ProofFailed(DomainError):
    status = 422
    code = "verification_failed"

    def __init__(self) -> None:
        super().__init__(
            _("That code is not right, or it has expired. Check it or ask for a new one.")
        )


class PassRefused(DomainError):
    status = 422
    code = "temporary_access_pass_refused"

    def __init__(self) -> None:
        super().__init__(
            _(
                "That Temporary Access Pass is not right, has expired, was used up or was "
                "revoked. Ask your helpdesk for a new one."
            )
        )


@dataclass(frozen=True)
class Option:
    """A registered method that can prove it is the user: what the page offers."""

    method: str
    label: str
    hint: str
    sends_code: bool


def _binding(credential: Credential) -> str:
    return f"step-up:{credential.pk}"


def options(user: User) -> list[Option]:
    policy = get_policy(user.tenant)
    found = []
    for registration in RegisteredMethod.objects.filter(
        user=user, state=RegisteredMethod.State.ACTIVE
    ).order_by("method"):
        cls = METHOD_CLASSES.get(registration.method)
        if cls is None or not (issubclass(cls, CodeMethod) or registration.method == "totp"):
            continue
        handler = method_for(registration.method, policy)
        found.append(
            Option(
                registration.method,
                cls.label,
                handler.hint(registration),
                issubclass(cls, CodeMethod),
            )
        )
    return found


def proof(credential: Credential) -> StepUp | None:
    """The session's live proof, if it has one."""
    return (
        StepUp.objects.filter(credential=credential, expires_at__gt=timezone.now())
        .order_by("-expires_at")
        .first()
    )


def _registration(user: User, method: str) -> RegisteredMethod:
    found = RegisteredMethod.objects.filter(
        user=user, method=method[:16], state=RegisteredMethod.State.ACTIVE
    ).first()
    if found is None or method not in {o.method for o in options(user)}:
        raise InvalidValue(
            _(
                "Choose one of the methods you registered: a code to your email or phone, or "
                "your authenticator app."
            ),
            field="method",
        )
    return found


def send_code(credential: Credential, method: str) -> str:
    """Send a code to the user's registered `method`; return where it went, masked."""
    user = credential.user
    registration = _registration(user, method)
    handler = method_for(method, get_policy(user.tenant))
    if not isinstance(handler, CodeMethod):
        return ""  # the authenticator app shows its own code
    with blocking(user.tenant, user.upn):
        take(limits.REGISTRATION_CODES, user.tenant.pk, user.upn)
    try:
        return handler.send_code(registration, _binding(credential), PURPOSE)
    except (CodeNotSent, DeliveryFailed):
        raise DeliveryFailed(
            _("The code could not be sent. Try another method or try again later.")
        ) from None


def _grant(credential: Credential, via: str, until: datetime | None = None) -> StepUp:
    return StepUp.objects.create(
        credential=credential, via=via, expires_at=until or timezone.now() + LIFETIME
    )


def _prove(
    credential: Credential,
    via: str,
    check: Callable[[], dict[str, Any] | None],
    refusal: Callable[[], DomainError],
) -> StepUp:
    """Count an attempt, run `check` (the details of a success, or None), grant or refuse."""
    user = credential.user
    with blocking(user.tenant, user.upn):
        take(limits.REGISTRATION_FAILURES, user.tenant.pk, user.upn)
    with transaction.atomic():
        details = check()
        if details is not None:
            granted = _grant(credential, via)
            record(
                user.tenant,
                Activity.VERIFY_IDENTITY,
                actor=user,
                target=user,
                method=via,
                **details,
            )
    if details is None:
        with transaction.atomic():
            failure(
                user.tenant,
                Activity.VERIFY_IDENTITY,
                "Wrong code or pass",
                actor=user,
                target=user,
                method=via,
            )
        raise refusal()
    release(limits.REGISTRATION_FAILURES, user.tenant.pk, user.upn)
    return granted


def verify_code(credential: Credential, method: str, code: str) -> StepUp:
    """Prove `method` with the code that was sent (or the app's current code)."""
    registration = _registration(credential.user, method)

    def check() -> dict[str, Any] | None:
        if method == "totp":
            right = totp.accept(registration, code)
        else:
            right = codes.redeem(_binding(credential), method, code)
        return {} if right else None

    return _prove(credential, method, check, ProofFailed)


def verify_pass(credential: Credential, passcode: str) -> StepUp:
    """Prove the session with a Temporary Access Pass; spends one of its uses."""

    def check() -> dict[str, Any] | None:
        used = temporary_pass.redeem(credential.user, passcode)
        return None if used is None else {"pass_id": used.pk, "uses": used.uses}

    return _prove(credential, PASS, check, PassRefused)
