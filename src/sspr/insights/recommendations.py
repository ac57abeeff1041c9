"""Recommendations in the manner of Secure Score: what a well-run organisation sets, whether
this one has, in numbers, and a one-click fix where one click is safe.

A fix is only ever a policy change made through the policy's own update functions, so it is
checked, applied all together or not at all, and audited under the administrator's name exactly
as if they had saved the settings themselves.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from django.db.models import Count, Exists, OuterRef, Q

from sspr.directory.models import Source, Tenant, User
from sspr.directory.plans import Feature, Plan, PlanRequired, allows
from sspr.errors import Conflict, InvalidValue, NotFound
from sspr.flows.eligibility import ADMIN_FORBIDDEN_METHODS, ADMIN_METHODS_REQUIRED
from sspr.hybrid.models import Agent
from sspr.hybrid.status import status as writeback_status
from sspr.insights.coverage import Coverage, coverage, is_role_holder, usable_count
from sspr.methods.models import RegisteredMethod
from sspr.policy.models import PasswordPolicy, SsprPolicy
from sspr.policy.password_policy import password_policy, update_password_policy
from sspr.policy.sspr_policy import get_policy, update_policy_with_impact

MET = "met"
NOT_MET = "not_met"
NOT_APPLICABLE = "not_applicable"
RECONFIRM_DAYS = 180
EXAMPLES = 5


@dataclass(frozen=True)
class Recommendation:
    id: str
    title: str
    why: str
    status: str
    state: str
    # What one click changes; empty when there is no safe one-click fix.
    fix_label: str = ""
    fix_changes: dict[str, Any] = field(default_factory=dict)
    # Why there is no one-click fix now, when there would otherwise be one.
    not_fixable_because: str = ""
    # Where an administrator changes it by hand: "password-reset", "password-protection",
    # "agents".
    page: str = "password-reset"

    @property
    def met(self) -> bool:
        return self.status == MET

    @property
    def fixable(self) -> bool:
        return self.status == NOT_MET and bool(self.fix_changes) and not self.not_fixable_because


class AlreadyMet(Conflict):
    code = "recommendation_met"


class NotFixable(Conflict):
    code = "recommendation_not_fixable"


@dataclass(frozen=True)
class RoleHolders:
    count: int
    with_questions: int
    relying_on_questions: int
    examples: tuple[str, ...]


@dataclass(frozen=True)
class _Facts:
    tenant: Tenant
    policy: SsprPolicy
    passwords: PasswordPolicy
    coverage: Coverage
    agents: int
    synced_users: int
    role_holders: RoleHolders


def _n(count: int, one: str, many: str | None = None) -> str:
    return f"{count} {one if count == 1 else (many or one + 's')}"


def _role_holders(tenant: Tenant, policy: SsprPolicy) -> RoleHolders:
    """Role holders who registered security questions, and those among them with fewer than
    two other usable methods: questions are never accepted from them, so they cannot reset."""
    others = [m for m in policy.methods_enabled if m not in ADMIN_FORBIDDEN_METHODS]
    questions = RegisteredMethod.objects.filter(
        user=OuterRef("pk"), method="questions", state=RegisteredMethod.State.ACTIVE
    )
    holders = (
        User.objects.filter(tenant=tenant, enabled=True)
        .filter(is_role_holder())
        .annotate(questions=Exists(questions), others=usable_count(others))
    )
    relying = Q(questions=True, others__lt=ADMIN_METHODS_REQUIRED)
    counts = holders.aggregate(
        count=Count("pk"),
        with_questions=Count("pk", filter=Q(questions=True)),
        relying=Count("pk", filter=relying),
    )
    examples: tuple[str, ...] = ()
    if counts["relying"]:
        examples = tuple(
            holders.filter(relying).order_by("upn").values_list("upn", flat=True)[:EXAMPLES]
        )
    return RoleHolders(
        counts["count"] or 0, counts["with_questions"] or 0, counts["relying"] or 0, examples
    )


def _facts(tenant: Tenant) -> _Facts:
    policy = get_policy(tenant)
    return _Facts(
        tenant=tenant,
        policy=policy,
        passwords=password_policy(tenant),
        coverage=coverage(tenant, policy),
        agents=Agent.objects.filter(tenant=tenant, revoked_at__isnull=True).count(),
        synced_users=User.objects.filter(tenant=tenant, enabled=True, source=Source.SYNCED).count(),
        role_holders=_role_holders(tenant, policy),
    )


@dataclass(frozen=True)
class _Finding:
    """Where the organisation stands on one recommendation."""

    status: str
    state: str
    not_fixable_because: str = ""
    # False where this state has no one-click fix at all, not even one that is barred now.
    fix_offered: bool = True


def _enable_for_all(f: _Facts) -> _Finding:
    cov = f.coverage
    if not allows(f.tenant.plan, Feature.CLOUD_PASSWORD_RESET):
        plan = Plan(f.tenant.plan)
        return _Finding(NOT_APPLICABLE, PlanRequired(Feature.CLOUD_PASSWORD_RESET, plan).message)
    if f.policy.enabled_for == SsprPolicy.Scope.ALL:
        return _Finding(MET, f"SSPR is enabled for all users ({_n(cov.in_scope, 'user')}).")
    if f.policy.enabled_for == SsprPolicy.Scope.SELECTED:
        return _Finding(
            NOT_MET,
            f"SSPR is enabled for selected groups ({len(cov.groups)}): "
            f"{', '.join(cov.groups)}; {cov.in_scope} of {_n(cov.users, 'user')} are in scope.",
        )
    return _Finding(
        NOT_MET, f"SSPR is not enabled for anyone (0 of {_n(cov.users, 'user')} in scope)."
    )


def _two_methods(f: _Facts) -> _Finding:
    if f.policy.methods_required >= 2:
        return _Finding(MET, "Two methods are required to reset.")
    stranded = f.coverage.one_method_only
    return _Finding(
        NOT_MET,
        "One method is required to reset (administrators always need "
        f"{ADMIN_METHODS_REQUIRED}). "
        + (
            f"{_n(stranded, 'user')} in scope {'has' if stranded == 1 else 'have'} registered "
            "only one usable method and would need to register a second."
            if stranded
            else "Every user in scope who registered has at least two usable methods."
        ),
    )


def _registration(f: _Facts) -> _Finding:
    cov = f.coverage
    short = cov.partially_registered + cov.not_registered
    numbers = (
        f"{cov.registered} of {_n(cov.in_scope, 'user')} in scope "
        f"{'has' if cov.registered == 1 else 'have'} registered enough methods to reset"
        + (f"; {short} {'has' if short == 1 else 'have'} not." if short else ".")
    )
    if f.policy.registration_required:
        return _Finding(MET, f"Users are asked to register at sign-in. {numbers}")
    return _Finding(NOT_MET, f"Users are not asked to register at sign-in. {numbers}")


def _reconfirm(f: _Facts) -> _Finding:
    days = f.policy.reconfirm_days
    note = (
        ""
        if f.policy.registration_required
        else " It takes effect once users are required to register at sign-in."
    )
    if 0 < days <= RECONFIRM_DAYS:
        return _Finding(MET, f"Users re-confirm their methods every {_n(days, 'day')}.{note}")
    now = "never asked to re-confirm" if days == 0 else f"asked every {_n(days, 'day')}"
    return _Finding(NOT_MET, f"Users are {now}.{note}")


def _notify_users(f: _Facts) -> _Finding:
    if f.policy.notify_users:
        return _Finding(MET, "Users are notified when their password is reset.")
    return _Finding(NOT_MET, "Users are not notified when their password is reset.")


def _notify_admins(f: _Facts) -> _Finding:
    holders = _n(f.role_holders.count, "role holder")
    if f.policy.notify_admins:
        return _Finding(MET, f"Administrators are notified ({holders}).")
    return _Finding(NOT_MET, f"Administrators are not notified ({holders}).")


def _writeback(f: _Facts) -> _Finding:
    synced = f"{_n(f.synced_users, 'user')} synced from on-premises"
    if not f.agents:
        return _Finding(NOT_APPLICABLE, f"No on-premises agent is enrolled ({synced}).")
    line = writeback_status(f.tenant).message
    if f.policy.writeback_enabled:
        return _Finding(MET, f"Writeback is on ({synced}). {line}")
    blocked = ""
    if not allows(f.tenant.plan, Feature.HYBRID_WRITEBACK):
        blocked = PlanRequired(Feature.HYBRID_WRITEBACK, Plan(f.tenant.plan)).message
    return _Finding(
        NOT_MET,
        f"Writeback is off: {synced} cannot reset or change their password here. {line}",
        not_fixable_because=blocked,
    )


def _no_questions_for_admins(f: _Facts) -> _Finding:
    holders = f.role_holders
    offered = "questions" in f.policy.methods_enabled
    policy = (
        "Security questions are never accepted from administrators, whatever the policy says"
        + (
            " (they are offered to other users)."
            if offered
            else " (and they are not offered to anyone)."
        )
    )
    if not holders.relying_on_questions:
        registered = (
            f" {holders.with_questions} of {_n(holders.count, 'role holder')} registered "
            "questions, but each has two other methods."
            if holders.with_questions
            else f" No role holder relies on them ({_n(holders.count, 'role holder')} in all)."
        )
        return _Finding(MET, policy + registered)
    relying = holders.relying_on_questions
    return _Finding(
        NOT_MET,
        f"{policy} {relying} of {_n(holders.count, 'role holder')} "
        f"{'relies' if relying == 1 else 'rely'} on security questions and cannot reset "
        f"until they register {ADMIN_METHODS_REQUIRED} other methods: "
        f"{', '.join(holders.examples)}{', ...' if relying > len(holders.examples) else ''}.",
        not_fixable_because="Only the role holders themselves can register other methods.",
    )


def _banned_list(f: _Facts) -> _Finding:
    terms = len(f.policy.banned_passwords)
    if not f.passwords.check_banned:
        return _Finding(
            NOT_MET,
            f"Banned password checking is off ({_n(terms, 'custom term')} kept).",
            not_fixable_because="Turn banned password checking on in Password protection.",
            fix_offered=False,
        )
    if not terms:
        return _Finding(
            NOT_MET,
            "No custom banned terms: only the global list applies.",
            not_fixable_because="Only you know your organisation's words: add them in "
            "Password protection.",
            fix_offered=False,
        )
    if f.policy.password_protection == SsprPolicy.Protection.AUDIT:
        return _Finding(
            NOT_MET,
            f"{_n(terms, 'custom term')} in audit mode: banned passwords are accepted "
            "and only recorded.",
        )
    return _Finding(MET, f"{_n(terms, 'custom banned term')}, enforced.")


@dataclass(frozen=True)
class _Check:
    """One recommendation: its words, how to tell where the organisation stands, and the
    one-click fix, offered while it is not met (none when `fix_changes` is empty)."""

    id: str
    title: str
    why: str
    assess: Callable[[_Facts], _Finding]
    fix_label: str = ""
    fix_changes: Mapping[str, Any] = field(default_factory=dict)
    # Where an administrator changes it by hand (see Recommendation.page).
    page: str = "password-reset"

    def recommendation(self, facts: _Facts) -> Recommendation:
        found = self.assess(facts)
        fix = found.status == NOT_MET and found.fix_offered
        return Recommendation(
            id=self.id,
            title=self.title,
            why=self.why,
            status=found.status,
            state=found.state,
            fix_label=self.fix_label if fix else "",
            fix_changes=dict(self.fix_changes) if fix else {},
            not_fixable_because=found.not_fixable_because,
            page=self.page,
        )


_CHECKS = (
    _Check(
        "enable_sspr_for_all",
        "Enable self-service password reset for all users",
        "Everyone who can reset their own password is one call fewer to the service desk, and "
        "one fewer person locked out of work.",
        _enable_for_all,
        "Enable for all users",
        {"enabled_for": "all"},
    ),
    _Check(
        "require_two_methods",
        "Require two methods to reset a password",
        "With two methods, someone who takes over one mailbox or phone number still cannot "
        "reset the password.",
        _two_methods,
        "Require two methods",
        {"methods_required": 2},
    ),
    _Check(
        "require_registration",
        "Require users to register when they sign in",
        "Users who have not registered cannot reset on the day they need it; asking at sign-in "
        "is how they get registered.",
        _registration,
        "Require registration",
        {"registration_required": True},
    ),
    _Check(
        "reconfirm_within_180_days",
        f"Ask users to re-confirm their methods within {RECONFIRM_DAYS} days",
        "Phone numbers and mailboxes change; a method nobody re-confirmed may no longer reach "
        "its owner, or may reach someone else.",
        _reconfirm,
        f"Re-confirm every {RECONFIRM_DAYS} days",
        {"reconfirm_days": RECONFIRM_DAYS},
    ),
    _Check(
        "notify_users",
        "Notify users when their password is reset",
        "A user told of a reset they did not make can raise the alarm while it still matters.",
        _notify_users,
        "Notify users",
        {"notify_users": True},
    ),
    _Check(
        "notify_admins",
        "Notify all administrators when an administrator resets their password",
        "An administrator's account is the most valuable to take over; the other "
        "administrators should know at once when its password changes.",
        _notify_admins,
        "Notify administrators",
        {"notify_admins": True},
    ),
    _Check(
        "turn_on_writeback",
        "Write passwords back to the on-premises directory",
        "Without writeback, users synced from the on-premises directory cannot reset, change "
        "or unlock here, and keep calling the service desk.",
        _writeback,
        "Turn on writeback",
        {"writeback_enabled": True},
        page="agents",
    ),
    _Check(
        "no_questions_for_role_holders",
        "No security questions for anyone with a role",
        "Answers to security questions can often be found or guessed; an account that can "
        "change the organisation deserves methods that prove possession.",
        _no_questions_for_admins,
    ),
    _Check(
        "custom_banned_passwords",
        "Use a custom banned password list",
        "Attackers try the organisation's own name, products and places first; a custom list "
        "refuses passwords built on them.",
        _banned_list,
        "Enforce the banned list",
        {"password_protection": "enforce"},
        page="password-protection",
    ),
)
# Settings kept by the password policy module; everything else belongs to the SSPR policy.
_PASSWORD_POLICY_KEYS = frozenset({"password_protection"})


def recommendations(tenant: Tenant) -> list[Recommendation]:
    facts = _facts(tenant)
    return [check.recommendation(facts) for check in _CHECKS]


def get_recommendation(tenant: Tenant, recommendation_id: str) -> Recommendation:
    found = {r.id: r for r in recommendations(tenant)}
    if recommendation_id not in found:
        raise NotFound(
            f"There is no recommendation called '{recommendation_id[:64]}'; the "
            f"recommendations are {', '.join(found)}."
        )
    return found[recommendation_id]


@dataclass(frozen=True)
class Fixed:
    recommendation: Recommendation
    changes: Mapping[str, Any]
    # Who could reset before and after, when the change was to the SSPR policy.
    impact: dict[str, Any] | None


def fix(tenant: Tenant, recommendation_id: str, actor: User | str | None) -> Fixed:
    """Apply the recommendation's one-click fix; Conflict when there is none to apply."""
    current = get_recommendation(tenant, recommendation_id)
    if current.met:
        raise AlreadyMet(f"'{current.title}' is already done: {current.state}")
    if not current.fixable:
        raise NotFixable(
            f"'{current.title}' cannot be fixed in one click. "
            + (current.not_fixable_because or current.state)
        )
    changes = current.fix_changes
    impact = None
    try:
        if set(changes) <= _PASSWORD_POLICY_KEYS:
            update_password_policy(tenant, changes, actor)
        else:
            impact = update_policy_with_impact(tenant, changes, actor).impact
    except InvalidValue as refused:
        raise NotFixable(
            f"'{current.title}' cannot be fixed in one click: {refused.message}"
        ) from None
    return Fixed(get_recommendation(tenant, recommendation_id), changes, impact)
