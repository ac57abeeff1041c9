"""Self-service password reset: user ID and CAPTCHA, one or two gates, a new password.

The states and transitions are drawn in reset.mmd. Someone who cannot reset here (a name nobody
holds, a disabled account, a user out of scope or with too few methods) gets a decoy flow: the
same answers, hints derived from a keyed hash of the name, nothing sent, and no way through.
"""

from __future__ import annotations

from datetime import timedelta
from functools import partial
from typing import Any

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_noop

from sspr.afterwards import after_commit
from sspr.audit import context
from sspr.audit.events import Activity, failure, record
from sspr.crypto import keyed_digest
from sspr.directory import credentials
from sspr.directory.identifiers import normalise_upn
from sspr.directory.models import Lockout, Tenant, User
from sspr.directory.passwords import hash_password
from sspr.directory.plans import Feature, require
from sspr.errors import DomainError
from sspr.flows import eligibility, writeback
from sspr.flows.blocking import blocking, take_all
from sspr.flows.models import ResetFlow
from sspr.flows.notifications import notify_reset
from sspr.hybrid.status import writeback_ready
from sspr.methods.models import RegisteredMethod
from sspr.methods.registry import method_for
from sspr.policy.passwords import check_new_password
from sspr.policy.sspr_policy import get_policy
from sspr.throttling import limits
from sspr.throttling.counters import clear, release, take

FLOW_LIFETIME = timedelta(minutes=15)
State = ResetFlow.State
FINISHED = gettext_noop("This reset is finished. Start again if you need another.")


class CaptchaFailed(DomainError):
    status = 400
    code = "captcha_failed"

    def __init__(self) -> None:
        super().__init__(_("Please complete the check that you are not a robot, then try again."))


class FlowNotFound(DomainError):
    status = 404
    code = "reset_not_found"

    def __init__(self) -> None:
        super().__init__(_("This password reset has expired or does not exist. Start again."))


class WrongStep(DomainError):
    status = 409
    code = "invalid_step"


class VerificationFailed(DomainError):
    status = 422
    code = "verification_failed"

    def __init__(self) -> None:
        super().__init__(_("That did not match. Check it and try again, or choose another method."))


def _progress(flow: ResetFlow, reason: str, ok: bool = True, **details: Any) -> None:
    target = flow.user if flow.user is not None else flow.username
    if ok:
        record(
            flow.tenant,
            Activity.RESET_PROGRESS,
            target=target,
            reason=reason,
            flow=flow.id[:8],
            **details,
        )
    else:
        failure(
            flow.tenant, Activity.RESET_PROGRESS, reason, target=target, flow=flow.id[:8], **details
        )


def _decoy_methods(tenant: Tenant, username: str, digest: bytes) -> list[dict[str, str]]:
    policy = get_policy(tenant)
    enabled = list(policy.methods_enabled)
    ranked = sorted(enabled, key=lambda m: keyed_digest("decoy-order", username + m))
    count = min(len(ranked), policy.methods_required + digest[0] % 2)
    chosen = [m for m in enabled if m in ranked[:count]]
    return [
        {"method": m, "hint": method_for(m, policy).decoy_hint(digest, username)} for m in chosen
    ]


def start(tenant: Tenant, username: str, captcha: str | None) -> ResetFlow:
    require(tenant.plan, Feature.CLOUD_PASSWORD_RESET)
    policy = get_policy(tenant)
    name = normalise_upn(username)[:256]
    address = context.current().ip or "unknown"
    take_all(tenant, name, [(limits.RESET_STARTS_PER_ADDRESS, address)])
    if policy.captcha_enabled:
        from sspr import captcha as captcha_check

        if not captcha or not captcha_check.verify(captcha):
            raise CaptchaFailed()
    user = User.objects.filter(tenant=tenant, upn=name).first()
    verdict = (
        eligibility.assess(
            user,
            policy,
            writeback_ready=writeback.is_synced(user) and writeback_ready(tenant),
        )
        if user is not None
        else None
    )
    now = timezone.now()
    flow = ResetFlow(tenant=tenant, username=name, expires_at=now + FLOW_LIFETIME)
    if user is not None and verdict is not None and verdict.eligible:
        flow.user = user
        flow.gates_required = verdict.requirements.methods_required
        flow.methods = [
            {"method": m.method, "hint": method_for(m.method, policy).hint(m)}
            for m in verdict.usable_methods
        ]
    else:
        flow.decoy = True
        flow.reasons = list(verdict.reasons) if verdict else ["unknown_user"]
        flow.gates_required = policy.methods_required
        flow.methods = _decoy_methods(tenant, name, keyed_digest("decoy", name))
    with transaction.atomic():
        flow.save()
        _progress(
            flow,
            "User started the password reset flow",
            ok=not flow.decoy,
            cannot_reset=flow.reasons,
        )
    return flow


def get_flow(flow_id: str) -> ResetFlow:
    flow = (
        ResetFlow.objects.select_related("tenant", "user", "user__tenant")
        .filter(pk=str(flow_id)[:32])
        .first()
    )
    if flow is None or flow.expired:
        raise FlowNotFound()
    return flow


def _expect(flow: ResetFlow, state: str) -> None:
    if flow.state != state:
        messages = {
            State.AWAITING_VERIFICATION: gettext_noop("Verify your identity first."),
            State.VERIFIED: gettext_noop(
                "Your identity is already verified: choose your new password."
            ),
            State.COMPLETED: FINISHED,
        }
        raise WrongStep(_(messages.get(ResetFlow.State(flow.state), gettext_noop("Start again."))))


def _open_gate(flow: ResetFlow, method: str) -> None:
    _expect(flow, State.AWAITING_VERIFICATION)
    if not flow.offers(method):
        raise WrongStep(
            _("That method is not available for this reset; choose one of those listed.")
        )
    if method in flow.gates_passed:
        raise WrongStep(_("You have already verified with that method; choose another."))


def _registration(flow: ResetFlow, method: str) -> RegisteredMethod:
    registration = RegisteredMethod.objects.filter(
        user=flow.user, method=method, state=RegisteredMethod.State.ACTIVE
    ).first()
    if registration is None:  # removed since the flow started
        raise WrongStep(_("That method is no longer registered; choose another."))
    return registration


def _challenge_limits(flow: ResetFlow, method: str) -> list[tuple[limits.Limit, str]]:
    address = context.current().ip or "unknown"
    per_user = limits.EMAIL_CODES if method == "email" else limits.PHONE_OR_APP_ATTEMPTS
    chosen = [(per_user, flow.username), (limits.CODES_PER_ADDRESS, address)]
    if method == "sms":
        daily = get_policy(flow.tenant).sms_daily_limit
        chosen.append((limits.sms_per_tenant(daily), "tenant"))
    return chosen


def challenge(flow_id: str, method: str) -> dict[str, Any]:
    """Send a code (or pose the questions) for one gate."""
    flow = get_flow(flow_id)
    _open_gate(flow, method)
    policy = get_policy(flow.tenant)
    take_all(flow.tenant, flow.username, _challenge_limits(flow, method))
    handler = method_for(method, policy)
    scratch = dict(flow.scratch.get(method, {}))
    if flow.decoy or flow.user is None:
        answer = handler.decoy_challenge(
            flow.hint_for(method), keyed_digest("decoy", flow.username)
        )
    else:
        answer = handler.challenge(_registration(flow, method), f"reset:{flow.id}", scratch)
    with transaction.atomic():
        ResetFlow.objects.filter(pk=flow.pk).update(scratch={**flow.scratch, method: scratch})
        _progress(flow, f"User asked to verify with {method}", ok=not flow.decoy, method=method)
    return {"method": method, **answer}


def verify(flow_id: str, method: str, payload: dict[str, Any]) -> ResetFlow:
    """Check one gate's answer. Five failures in a day block the name for a day."""
    flow = get_flow(flow_id)
    _open_gate(flow, method)
    policy = get_policy(flow.tenant)
    with blocking(flow.tenant, flow.username):
        take(limits.VERIFY_FAILURES, flow.tenant.pk, flow.username)
    with transaction.atomic():
        # The answer is used up (a code, an app's time step) and the gate passed in one
        # transaction: cut off in between, neither happened, and the same answer still works.
        current = ResetFlow.objects.select_for_update().get(pk=flow.pk)
        _expect(current, State.AWAITING_VERIFICATION)
        scratch = dict(current.scratch.get(method, {}))
        passed = False
        if not flow.decoy and flow.user is not None:
            registration = _registration(flow, method)
            passed = method_for(method, policy).verify(
                registration, f"reset:{flow.id}", payload, scratch
            ) and not _same_contact_as_passed(current, registration)
        current.scratch = {**current.scratch, method: scratch}
        if passed and method not in current.gates_passed:
            current.gates_passed = [*current.gates_passed, method]
            if len(current.gates_passed) >= current.gates_required:
                current.state = State.VERIFIED
        current.save(update_fields=["scratch", "gates_passed", "state"])
        _progress(
            current,
            f"User verified with {method}" if passed else f"User failed to verify with {method}",
            ok=passed,
            method=method,
        )
    if not passed:
        raise VerificationFailed()
    release(limits.VERIFY_FAILURES, flow.tenant.pk, flow.username)
    return current


def _same_contact_as_passed(flow: ResetFlow, registration: RegisteredMethod) -> bool:
    """Two gates on one phone number are one factor, not two."""
    if not registration.value or not flow.gates_passed:
        return False
    return RegisteredMethod.objects.filter(
        user=flow.user_id,
        method__in=flow.gates_passed,
        value=registration.value,
        state=RegisteredMethod.State.ACTIVE,
    ).exists()


def _claim_completion(flow: ResetFlow) -> None:
    """Take the verified flow for this request: of two completions racing, one proceeds."""
    if not ResetFlow.objects.filter(pk=flow.pk, state=State.VERIFIED).update(
        state=State.COMPLETING
    ):
        raise WrongStep(_(FINISHED))


def _release_completion(flow: ResetFlow) -> None:
    ResetFlow.objects.filter(pk=flow.pk, state=State.COMPLETING).update(state=State.VERIFIED)


def complete(flow_id: str, new_password: str | None, action: str | None = None) -> ResetFlow:
    """Set the new password (or unlock), end every session of the user, notify, audit.

    For a synced user the on-premises directory is written first; if it refuses, its reason
    reaches the user and the flow stays verified, so another password can be tried.
    """
    flow = get_flow(flow_id)
    _expect(flow, State.VERIFIED)
    user = flow.user
    assert user is not None  # a decoy never reaches VERIFIED
    require(flow.tenant.plan, Feature.CLOUD_PASSWORD_RESET)
    synced = writeback.is_synced(user)
    if action == "unlock":
        if not synced:
            raise writeback.UnlockUnavailable()
        return _unlock(flow, user)
    if not new_password:
        raise WrongStep(_("Choose a new password."))
    try:
        check_new_password(
            flow.tenant, user, new_password, entry="hybrid_precheck" if synced else "reset"
        )
    except DomainError as rejected:
        with transaction.atomic():
            _progress(flow, "New password does not meet the rules", ok=False)
        raise rejected
    if synced:
        # The directory is written outside any transaction: claim the flow first, so that a
        # second completion racing this one cannot write it too.
        _claim_completion(flow)
        try:
            writeback.reset(user, new_password, must_change=False, enforce_policy=True)
        except DomainError as refused:
            _release_completion(flow)
            with transaction.atomic():
                _progress(flow, f"On-premises writeback refused ({refused.code})", ok=False)
            raise
    with transaction.atomic():
        current = ResetFlow.objects.select_for_update().get(pk=flow.pk)
        # A cloud user's flow is claimed by this lock: the claim and the new password commit
        # together or not at all, so a failure in between never leaves the flow half-done.
        if current.state != (State.COMPLETING if synced else State.VERIFIED):
            raise WrongStep(_(FINISHED))
        user.password_hash = "" if synced else hash_password(new_password)
        user.password_last_set = timezone.now()
        user.must_change_password = False
        user.save(update_fields=["password_hash", "password_last_set", "must_change_password"])
        ended = credentials.revoke_all_except(user, keep=None)
        Lockout.objects.filter(tenant=flow.tenant, key=user.upn).delete()
        current.state = State.COMPLETED
        current.completed_at = timezone.now()
        current.save(update_fields=["state", "completed_at"])
        record(
            flow.tenant,
            Activity.RESET_PASSWORD,
            actor=user,
            target=user,
            methods=current.gates_passed,
            sessions_ended=ended,
            on_premises=synced,
        )
        after_commit(partial(notify_reset, user))
    _clear_counters(flow)
    return current


def _unlock(flow: ResetFlow, user: User) -> ResetFlow:
    _claim_completion(flow)
    try:
        writeback.unlock(user)
    except DomainError as refused:
        _release_completion(flow)
        with transaction.atomic():
            failure(
                flow.tenant,
                Activity.UNLOCK,
                f"Unlock refused ({refused.code})",
                actor=user,
                target=user,
            )
        raise
    with transaction.atomic():
        current = ResetFlow.objects.select_for_update().get(pk=flow.pk)
        current.state = State.COMPLETED
        current.completed_at = timezone.now()
        current.save(update_fields=["state", "completed_at"])
        Lockout.objects.filter(tenant=flow.tenant, key=user.upn).delete()
        record(flow.tenant, Activity.UNLOCK, actor=user, target=user, methods=current.gates_passed)
    _clear_counters(flow)
    return current


def _clear_counters(flow: ResetFlow) -> None:
    clear(
        [limits.VERIFY_FAILURES, limits.PHONE_OR_APP_ATTEMPTS, limits.EMAIL_CODES],
        flow.tenant.pk,
        flow.username,
    )


def describe(flow: ResetFlow) -> dict[str, Any]:
    """The flow as the API shows it: the same shape whether it is real or a decoy."""
    return {
        "id": flow.id,
        "state": flow.state,
        "gates_required": flow.gates_required,
        "gates_passed": len(flow.gates_passed),
        "methods": [{"method": m["method"], "hint": m["hint"]} for m in flow.methods],
        "expires_at": flow.expires_at,
    }
