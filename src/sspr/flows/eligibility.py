"""Can this user reset a password right now? One answer, with every reason it is no.

Used by the reset flow (which never shows the reasons before the gates are passed), by the
policy impact preview, and by the service desk.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from sspr.directory.groups import effective_members
from sspr.directory.models import Source, User
from sspr.directory.plans import Feature, allows
from sspr.directory.roles import is_admin
from sspr.methods.models import RegisteredMethod
from sspr.policy.models import SsprPolicy

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
