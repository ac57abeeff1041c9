"""Caller verification: before a reset over the phone, the helpdesk proves who is calling.

A code goes to a method the user registered (email, text, call); the caller reads it back and
the administrator types it in. The code is stored hashed, works once, for five minutes, and only
here (its binding names this verification), so a code read to a false "helpdesk" cannot reset
the password. Five wrong codes end the verification; codes sent to one user are limited per
hour, apart from the user's own self-service limits.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db import transaction
from django.utils import timezone

from sspr.audit.events import Activity, failure, record
from sspr.directory.models import User
from sspr.directory.roles import can_reset_password
from sspr.errors import Conflict, DomainError, Forbidden, InvalidValue, NotFound
from sspr.flows.models import CallerVerification
from sspr.messaging.notify import CodeNotSent
from sspr.messaging.providers.base import DeliveryFailed
from sspr.methods import codes
from sspr.methods.code_method import CodeMethod
from sspr.methods.models import OneTimeCode, RegisteredMethod
from sspr.methods.registry import METHOD_CLASSES, method_for
from sspr.policy.sspr_policy import get_policy
from sspr.throttling import limits
from sspr.throttling.counters import Blocked, take

MAX_ATTEMPTS = 5
# How long a verified caller stays verified for the administrator who checked them.
VERIFIED_FOR = timedelta(minutes=15)
PURPOSE = "caller"
State = CallerVerification.State


class CodeWrong(DomainError):
    status = 422
    code = "caller_code_wrong"


class VerificationFailed(DomainError):
    status = 422
    code = "caller_verification_failed"

    def __init__(self) -> None:
        super().__init__(
            "Too many wrong codes: the caller is not verified. Send a new code to try again."
        )


class CodeExpired(DomainError):
    status = 422
    code = "caller_code_expired"

    def __init__(self) -> None:
        super().__init__("The code has expired: the caller is not verified. Send a new code.")


class AlreadyVerified(Conflict):
    code = "caller_already_verified"

    def __init__(self) -> None:
        super().__init__("This caller is already verified; send a new code for another check.")


class TooManyCodes(DomainError):
    status = 429
    code = "caller_codes_exhausted"

    def __init__(self, until: datetime) -> None:
        super().__init__(
            "Too many codes were sent to this user in the last hour. Try again after "
            f"{until.strftime('%H:%M UTC')}.",
            retry_after=max(1, int((until - timezone.now()).total_seconds())),
        )


@dataclass(frozen=True)
class Option:
    """A method the helpdesk can send a code to, as the administrator sees it."""

    method: str
    label: str
    hint: str


def _binding(verification: CallerVerification) -> str:
    return f"caller:{verification.pk}"


def _sends_codes(name: str) -> bool:
    cls = METHOD_CLASSES.get(name)
    return cls is not None and issubclass(cls, CodeMethod)


def options(user: User) -> list[Option]:
    """The registered methods a code can be sent to (the app and questions cannot be read out)."""
    policy = get_policy(user.tenant)
    found = RegisteredMethod.objects.filter(user=user, state=RegisteredMethod.State.ACTIVE)
    return [
        Option(r.method, METHOD_CLASSES[r.method].label, method_for(r.method, policy).hint(r))
        for r in found.order_by("method")
        if _sends_codes(r.method)
    ]


def _allowed(actor: User, target: User) -> None:
    if actor.tenant_id != target.tenant_id or not can_reset_password(actor.roles, target.roles):
        with transaction.atomic():
            failure(
                target.tenant,
                Activity.VERIFY_CALLER,
                "Not allowed by role",
                actor=actor,
                target=target,
            )
        raise Forbidden("Your role does not allow you to verify callers for this user.")


def start(actor: User, target: User, method: str) -> CallerVerification:
    """Send a code to the user's registered `method`; the caller is to read it back."""
    _allowed(actor, target)
    if not _sends_codes(method):
        raise InvalidValue(
            "Choose a method that sends a code: email, sms, voice or office_phone.", field="method"
        )
    registration = RegisteredMethod.objects.filter(
        user=target, method=method, state=RegisteredMethod.State.ACTIVE
    ).first()
    if registration is None:
        raise InvalidValue(f"The user has not registered {method}.", field="method")
    tenant = target.tenant
    try:
        take(limits.CALLER_CODES, tenant.pk, target.upn)
        if method == "sms":
            take(limits.sms_per_tenant(get_policy(tenant).sms_daily_limit), tenant.pk, "tenant")
    except Blocked as blocked:
        with transaction.atomic():
            failure(
                tenant,
                Activity.VERIFY_CALLER,
                "Too many codes sent",
                actor=actor,
                target=target,
                method=method,
            )
        raise TooManyCodes(blocked.until) from None
    handler = method_for(method, get_policy(tenant))
    assert isinstance(handler, CodeMethod)
    now = timezone.now()
    # A new code replaces any check still waiting between the same two people.
    CallerVerification.objects.filter(
        actor=actor, user=target, state=State.AWAITING_CODE, expires_at__gt=now
    ).update(expires_at=now)
    verification = CallerVerification.objects.create(
        tenant=tenant,
        user=target,
        actor=actor,
        method=method,
        hint=handler.hint(registration),
        expires_at=now + codes.CODE_LIFETIME,
    )
    try:
        handler.send_code(registration, _binding(verification), PURPOSE)
    except (CodeNotSent, DeliveryFailed):
        verification.delete()
        with transaction.atomic():
            failure(
                tenant,
                Activity.VERIFY_CALLER,
                "The code could not be sent",
                actor=actor,
                target=target,
                method=method,
            )
        raise DeliveryFailed(
            "The code could not be sent. Try another method or try again later."
        ) from None
    with transaction.atomic():
        record(
            tenant,
            Activity.VERIFY_CALLER,
            actor=actor,
            target=target,
            reason=f"Code sent ({method})",
            method=method,
            verification=verification.pk[:8],
        )
    return verification


def get(actor: User, target: User, verification_id: str) -> CallerVerification:
    found = CallerVerification.objects.filter(
        pk=str(verification_id)[:32], actor=actor, user=target, tenant_id=target.tenant_id
    ).first()
    if found is None:
        raise NotFound("There is no such caller verification. Send a new code.")
    return found


def check(actor: User, target: User, verification_id: str, code: str) -> CallerVerification:
    """Compare the code the caller read out; raise unless it is right."""
    _allowed(actor, target)
    verification = get(actor, target, verification_id)
    refusal: DomainError | None = None
    with transaction.atomic():
        current = CallerVerification.objects.select_for_update().get(pk=verification.pk)
        if current.state == State.VERIFIED:
            raise AlreadyVerified()
        if current.state == State.FAILED:
            raise VerificationFailed()
        if current.expired:
            raise CodeExpired()
        # Counted before the comparison, so that concurrent guesses cannot exceed the limit.
        current.attempts += 1
        if codes.redeem(_binding(current), current.method, code):
            current.state = State.VERIFIED
            current.verified_at = timezone.now()
            reason = "Caller verified"
        else:
            left = MAX_ATTEMPTS - current.attempts
            reason = f"Wrong code (attempt {current.attempts} of {MAX_ATTEMPTS})"
            if left <= 0:
                current.state = State.FAILED
                OneTimeCode.objects.filter(binding=_binding(current), used_at__isnull=True).update(
                    used_at=timezone.now()
                )
                refusal = VerificationFailed()
            else:
                refusal = CodeWrong(
                    f"That is not the code that was sent: the caller is not verified. "
                    f"{left} attempt{'s' if left != 1 else ''} left.",
                    attempts_left=left,
                )
        current.save(update_fields=["attempts", "state", "verified_at"])
        if refusal is None:
            record(
                current.tenant,
                Activity.VERIFY_CALLER,
                actor=actor,
                target=target,
                reason=reason,
                method=current.method,
                verification=current.pk[:8],
            )
        else:
            failure(
                current.tenant,
                Activity.VERIFY_CALLER,
                reason,
                actor=actor,
                target=target,
                method=current.method,
                verification=current.pk[:8],
            )
    if refusal is not None:
        raise refusal
    return current


def latest(actor: User, target: User) -> CallerVerification | None:
    """The administrator's most recent check of this user, for the page to show its state."""
    return (
        CallerVerification.objects.filter(actor=actor, user=target).order_by("-created_at").first()
    )


def recent(actor: User, target: User) -> CallerVerification | None:
    """A check this administrator passed for this user in the last 15 minutes, if any."""
    return (
        CallerVerification.objects.filter(
            actor=actor,
            user=target,
            state=State.VERIFIED,
            verified_at__gte=timezone.now() - VERIFIED_FOR,
        )
        .order_by("-verified_at")
        .first()
    )
