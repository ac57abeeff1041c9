"""Can this user reset a password right now? One answer, with every reason it is no.

Used by the reset flow (which never shows the reasons before the gates are passed), by the
policy impact preview, and by the service desk.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from django.utils import timezone

from sspr.directory.groups import effective_members
from sspr.directory.models import Lockout, Source, User
from sspr.directory.plans import Feature, Plan, allows, cheapest_plan_for
from sspr.directory.roles import Role, is_admin
from sspr.hybrid import status as hybrid_status
from sspr.hybrid.models import SyncedUser
from sspr.methods.models import RegisteredMethod
from sspr.policy.models import SsprPolicy
from sspr.throttling import limits
from sspr.throttling.counters import blocked_until

# Administrators always get the strong policy, whatever the tenant's settings say.
ADMIN_METHODS_REQUIRED = 2
ADMIN_FORBIDDEN_METHODS = frozenset({"questions"})


@dataclass(frozen=True)
class Requirements:
    methods_required: int
    methods_allowed: tuple[str, ...]


@dataclass(frozen=True)
class Eligibility:
    eligible: bool
    reasons: tuple[str, ...]
    requirements: Requirements
    usable_methods: tuple[RegisteredMethod, ...] = field(default=())

    @property
    def methods(self) -> list[str]:
        return [m.method for m in self.usable_methods]


REASON_TEXT = {
    "plan": "The organisation's plan does not include self-service password reset.",
    "disabled": "The account is disabled.",
    "sspr_off": "Self-service password reset is turned off for the organisation.",
    "not_in_scope": "The user is not in a group that self-service password reset is enabled for.",
    "too_few_methods": "The user has not registered enough verification methods.",
    "synced_without_writeback": "The account comes from the on-premises directory and password "
    "writeback is not available.",
}


def requirements(user: User, policy: SsprPolicy, roles: list[str] | None = None) -> Requirements:
    admin = is_admin(roles if roles is not None else user.roles)
    enabled = tuple(policy.methods_enabled)
    if admin:
        allowed = tuple(m for m in enabled if m not in ADMIN_FORBIDDEN_METHODS)
        return Requirements(ADMIN_METHODS_REQUIRED, allowed)
    return Requirements(policy.methods_required, enabled)


def in_scope(user: User, policy: SsprPolicy, scoped_ids: set[int] | None = None) -> bool:
    if policy.enabled_for == SsprPolicy.Scope.ALL:
        return True
    if policy.enabled_for == SsprPolicy.Scope.NONE:
        return False
    if scoped_ids is None:
        scoped_ids = effective_members(policy.enabled_groups.all())
    return user.pk in scoped_ids


def usable_methods(user: User, needs: Requirements) -> tuple[RegisteredMethod, ...]:
    active = RegisteredMethod.objects.filter(user=user, state=RegisteredMethod.State.ACTIVE)
    by_name = {m.method: m for m in active}
    return tuple(by_name[name] for name in needs.methods_allowed if name in by_name)


def assess(
    user: User,
    policy: SsprPolicy,
    *,
    scoped_ids: set[int] | None = None,
    roles: list[str] | None = None,
    writeback_ready: bool = False,
) -> Eligibility:
    """Every reason this user cannot reset under `policy` (none when they can)."""
    tenant = user.tenant
    needs = requirements(user, policy, roles)
    methods = usable_methods(user, needs)
    reasons = []
    if not allows(tenant.plan, Feature.CLOUD_PASSWORD_RESET):
        reasons.append("plan")
    if user.source == Source.SYNCED and not (
        allows(tenant.plan, Feature.HYBRID_WRITEBACK)
        and policy.writeback_enabled
        and writeback_ready
    ):
        reasons.append("synced_without_writeback")
    if not user.enabled:
        reasons.append("disabled")
    if policy.enabled_for == SsprPolicy.Scope.NONE:
        reasons.append("sspr_off")
    elif not in_scope(user, policy, scoped_ids):
        reasons.append("not_in_scope")
    if len(methods) < needs.methods_required:
        reasons.append("too_few_methods")
    return Eligibility(not reasons, tuple(reasons), needs, methods)


# --- The service desk's question: every check, in words ------------------------------------------


@dataclass(frozen=True)
class Check:
    """One thing a reset depends on. `ok` is false only when it stops the reset now."""

    name: str
    ok: bool
    detail: str


@dataclass(frozen=True)
class Explanation:
    eligible: bool
    summary: str
    checks: tuple[Check, ...]
    reasons: tuple[str, ...]
    plan: str
    enabled_for: str
    scope_groups: tuple[str, ...]
    member_of_scope_groups: tuple[str, ...]
    admin_policy: bool
    methods_required: int
    methods_allowed: tuple[str, ...]
    methods_registered: tuple[str, ...]
    methods_usable: tuple[str, ...]
    blocked_until: datetime | None
    enabled: bool
    locked_until: datetime | None
    locked_on_premises: bool | None
    source: str
    writeback_needed: bool
    writeback_enabled: bool
    agent_ready: bool | None
    agent_status: str


# Which per-name throttle guards which methods' challenges (see reset._challenge_limits).
_CHALLENGE_LIMIT = {"email": limits.EMAIL_CODES}


def _at(moment: datetime) -> str:
    return moment.strftime("%H:%M UTC on %d %B %Y")


def _names(items: tuple[str, ...] | list[str]) -> str:
    return ", ".join(items) if items else "none"


def _scope_check(policy: SsprPolicy, groups: list[str], member_of: list[str]) -> tuple[Check, str]:
    if policy.enabled_for == SsprPolicy.Scope.NONE:
        detail = (
            "Self-service password reset is turned off for the organisation (enabled for none)."
        )
        return Check("in_scope", False, detail), "sspr_off"
    if policy.enabled_for == SsprPolicy.Scope.ALL:
        return Check("in_scope", True, "Self-service password reset is enabled for all users."), ""
    if member_of:
        detail = (
            f"Self-service password reset is enabled for selected groups, and the user is a "
            f"member of {_names(member_of)} (directly or through a nested group)."
        )
        return Check("in_scope", True, detail), ""
    detail = (
        "Self-service password reset is enabled for selected groups only "
        f"({_names(groups)}), and the user is in none of them."
    )
    return Check("in_scope", False, detail), "not_in_scope"


def _distinct(methods: tuple[RegisteredMethod, ...]) -> int:
    # Text and call to one number are one factor: the reset flow refuses the second gate.
    return len({m.value or m.method for m in methods})


def _methods_check(
    needs: Requirements,
    registered: list[RegisteredMethod],
    usable: tuple[RegisteredMethod, ...],
    admin: bool,
) -> Check:
    active = [m.method for m in registered if m.state == RegisteredMethod.State.ACTIVE]
    pending = [m.method for m in registered if m.state != RegisteredMethod.State.ACTIVE]
    names = tuple(m.method for m in usable)
    count = _distinct(usable)
    ok = count >= needs.methods_required
    detail = (
        f"{needs.methods_required} method{'s' if needs.methods_required != 1 else ''} "
        f"required, {len(names)} registered that count ({_names(names)}). "
        f"Methods that count: {_names(needs.methods_allowed)}."
    )
    if count < len(names):
        detail += " Two of them reach the same phone number, which counts once."
    ignored = [m for m in active if m not in names]
    if ignored:
        why = "not offered by the policy" if not admin else "not allowed for administrators"
        detail += f" Registered but not counted ({why}): {_names(ignored)}."
    if pending:
        detail += f" Registration not finished: {_names(pending)}."
    return Check("methods", ok, detail)


def _admin_check(
    user: User, policy: SsprPolicy, roles: list[str], usable: tuple[RegisteredMethod, ...]
) -> Check:
    if not is_admin(roles):
        return Check(
            "admin_policy",
            True,
            "The user holds no administrator role: the organisation's policy applies.",
        )
    held = ", ".join(Role(r).label for r in roles)
    detail = (
        f"The user holds an administrator role ({held}), so the administrator policy applies: "
        f"{ADMIN_METHODS_REQUIRED} methods, never security questions, whatever the "
        "organisation's settings say."
    )
    # The policy is the cause only when the organisation's own settings would have been met.
    ordinary = Requirements(policy.methods_required, tuple(policy.methods_enabled))
    met_ordinary = len(usable_methods(user, ordinary)) >= ordinary.methods_required
    met_admin = _distinct(usable) >= ADMIN_METHODS_REQUIRED
    if met_ordinary and not met_admin:
        detail += " The user's methods would be enough for a user without a role, not for them."
    return Check("admin_policy", met_admin or not met_ordinary, detail)


def _blocked_check(
    user: User, needs: Requirements, usable: tuple[RegisteredMethod, ...]
) -> tuple[Check, datetime | None]:
    tenant_id = user.tenant_id
    everything = blocked_until(limits.VERIFY_FAILURES, tenant_id, user.upn)
    if everything is not None:
        detail = (
            f"Blocked from self-service password reset until {_at(everything)}: too many "
            "failed verifications."
        )
        return Check("blocked", False, detail), everything
    blocks = {
        m.method: blocked_until(
            _CHALLENGE_LIMIT.get(m.method, limits.PHONE_OR_APP_ATTEMPTS), tenant_id, user.upn
        )
        for m in usable
    }
    held = {name: until for name, until in blocks.items() if until is not None}
    if not held:
        return Check("blocked", True, "Not blocked by any attempt limit."), None
    left = tuple(m for m in usable if m.method not in held)
    latest = max(held.values())
    listed = ", ".join(f"{name} until {_at(until)}" for name, until in sorted(held.items()))
    if _distinct(left) >= needs.methods_required:
        detail = f"Blocked from using {listed} (too many attempts); the other methods are enough."
        return Check("blocked", True, detail), None
    detail = (
        f"Blocked from using {listed} (too many attempts), and the remaining methods are not "
        "enough."
    )
    return Check("blocked", False, detail), latest


def _lock_check(
    user: User, policy: SsprPolicy, now: datetime
) -> tuple[Check, datetime | None, bool | None]:
    row = Lockout.objects.filter(tenant_id=user.tenant_id, key=user.upn).first()
    until = row.locked_until if row and row.locked_until and row.locked_until > now else None
    parts = [
        f"Sign-in is locked by smart lockout until {_at(until)}; a password reset ends the lock."
        if until
        else "Sign-in is not locked."
    ]
    on_premises = None
    if user.source == Source.SYNCED:
        on_premises = bool(
            SyncedUser.objects.filter(user=user).values_list("locked_out", flat=True).first()
        )
        if on_premises:
            unlock = (
                "the user can unlock it on the reset page"
                if policy.unlock_enabled
                else "unlocking without a reset is turned off in the policy"
            )
            parts.append(
                "The account is locked out in the on-premises directory (as of the last sync); "
                f"a reset does not unlock it there, {unlock}."
            )
        else:
            parts.append("Not locked out in the on-premises directory (as of the last sync).")
    return Check("locked", True, " ".join(parts)), until, on_premises


def _writeback_checks(user: User, policy: SsprPolicy) -> tuple[Check, Check, str, bool | None]:
    if user.source != Source.SYNCED:
        return (
            Check("writeback", True, "A cloud account: no on-premises writeback is needed."),
            Check("agent", True, "No on-premises agent is needed for a cloud account."),
            "",
            None,
        )
    line = hybrid_status.status(user.tenant)
    ready = hybrid_status.writeback_ready(user.tenant)
    agent = Check(
        "agent",
        ready,
        line.message
        if ready
        else f"No on-premises agent can write the password back right now. {line.message}",
    )
    plan = Plan(user.tenant.plan)
    if not allows(plan, Feature.HYBRID_WRITEBACK):
        needed = cheapest_plan_for(Feature.HYBRID_WRITEBACK)
        detail = (
            "The account comes from the on-premises directory; password writeback needs the "
            f"{needed.label} plan or higher, and this organisation is on {plan.label}."
        )
        return Check("writeback", False, detail), agent, line.message, ready
    if not policy.writeback_enabled:
        detail = (
            "The account comes from the on-premises directory, and password writeback is turned "
            "off in the policy."
        )
        return Check("writeback", False, detail), agent, line.message, ready
    detail = "The account comes from the on-premises directory; password writeback is on."
    return Check("writeback", True, detail), agent, line.message, ready


_REASON_OF = {
    "plan": "plan",
    "account_enabled": "disabled",
    "admin_policy": "admin_policy",
    "methods": "too_few_methods",
    "blocked": "blocked",
    "writeback": "writeback_off",
    "agent": "agent_unavailable",
}


def explain(user: User, policy: SsprPolicy, *, now: datetime | None = None) -> Explanation:
    """Whether `user` can reset right now, with every check in words, for the service desk.

    Unlike `assess` (what the reset flow needs), this also looks at throttling blocks, lockouts
    and the agents, and it is never shown to the user at the keyboard.
    """
    now = now or timezone.now()
    tenant = user.tenant
    roles = [r.value for r in user.roles]
    needs = requirements(user, policy, roles)
    registered = list(RegisteredMethod.objects.filter(user=user).order_by("method", "-state"))
    usable = usable_methods(user, needs)
    plan = Plan(tenant.plan)
    if allows(plan, Feature.CLOUD_PASSWORD_RESET):
        plan_check = Check(
            "plan", True, f"The organisation's {plan.label} plan includes password reset."
        )
    else:
        needed = cheapest_plan_for(Feature.CLOUD_PASSWORD_RESET)
        plan_check = Check(
            "plan",
            False,
            f"The organisation's {plan.label} plan does not include self-service password "
            f"reset; the {needed.label} plan or higher does.",
        )
    groups = list(policy.enabled_groups.order_by("name"))
    member_of = [g.name for g in groups if user.pk in effective_members([g])]
    scope, scope_reason = _scope_check(policy, [g.name for g in groups], member_of)
    blocked, until = _blocked_check(user, needs, usable)
    locked, locked_until, locked_on_premises = _lock_check(user, policy, now)
    writeback, agent, agent_line, ready = _writeback_checks(user, policy)
    checks = (
        plan_check,
        Check(
            "account_enabled",
            user.enabled,
            "The account is enabled." if user.enabled else "The account is disabled.",
        ),
        scope,
        _admin_check(user, policy, roles, usable),
        _methods_check(needs, registered, usable, is_admin(roles)),
        blocked,
        locked,
        writeback,
        agent,
    )
    failing = [c for c in checks if not c.ok]
    reasons = tuple(scope_reason if c.name == "in_scope" else _REASON_OF[c.name] for c in failing)
    if failing:
        summary = f"{user.upn} cannot reset their password right now. " + " ".join(
            c.detail for c in failing
        )
    else:
        summary = (
            f"{user.upn} can reset their password now, with {needs.methods_required} of: "
            f"{_names(tuple(m.method for m in usable))}."
        )
    synced = user.source == Source.SYNCED
    return Explanation(
        eligible=not failing,
        summary=summary,
        checks=checks,
        reasons=reasons,
        plan=plan.value,
        enabled_for=policy.enabled_for,
        scope_groups=tuple(g.name for g in groups),
        member_of_scope_groups=tuple(member_of),
        admin_policy=is_admin(roles),
        methods_required=needs.methods_required,
        methods_allowed=needs.methods_allowed,
        methods_registered=tuple(
            m.method for m in registered if m.state == RegisteredMethod.State.ACTIVE
        ),
        methods_usable=tuple(m.method for m in usable),
        blocked_until=until,
        enabled=user.enabled,
        locked_until=locked_until,
        locked_on_premises=locked_on_premises,
        source=user.source,
        writeback_needed=synced,
        writeback_enabled=bool(policy.writeback_enabled and allows(plan, Feature.HYBRID_WRITEBACK)),
        agent_ready=ready,
        agent_status=agent_line,
    )
