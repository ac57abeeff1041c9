"""What the service desk sees: users found by name, one account at a glance, groups and members.

Read-only except through the flows it names (admin_reset, caller_verification). Registered
methods are shown masked, as the user sees them at reset; secrets never leave their rows.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from django.db.models import Count, Q, QuerySet

from sspr.audit.events import Activity
from sspr.audit.models import AuditEvent
from sspr.directory.groups import effective_members, nested_group_ids
from sspr.directory.models import Group, Tenant, User
from sspr.directory.roles import Role, resets_passwords, roles_beyond_reach
from sspr.errors import DomainError, Forbidden
from sspr.flows import caller_verification, eligibility
from sspr.flows.writeback import DirectoryRefused, WritebackUnavailable
from sspr.hybrid.commands import AgentUnavailable, WritebackTimeout
from sspr.hybrid.status import status_line
from sspr.methods.models import RegisteredMethod
from sspr.methods.registry import METHOD_CLASSES, method_for
from sspr.policy.models import SsprPolicy
from sspr.policy.sspr_policy import get_policy

MAX_SEARCH = 256


def search_users(tenant: Tenant, term: str = "") -> QuerySet[User]:
    """The tenant's users whose UPN, names or mail contain `term`, by UPN."""
    users = User.objects.filter(tenant=tenant).prefetch_related("role_assignments")
    term = term.strip()[:MAX_SEARCH]
    if term:
        users = users.filter(
            Q(upn__icontains=term)
            | Q(display_name__icontains=term)
            | Q(given_name__icontains=term)
            | Q(family_name__icontains=term)
            | Q(mail__icontains=term)
        )
    return users.order_by("upn")


def explain(user: User) -> eligibility.Explanation:
    return eligibility.explain(user, get_policy(user.tenant))


def reset_refusal(actor: User, target: User) -> str:
    """Why `actor` may not reset `target`'s password, in words; empty when they may."""
    if not resets_passwords(actor.roles):
        return (
            "Your role does not include resetting passwords: Global, Password and Helpdesk "
            "Administrators can reset them."
        )
    beyond = roles_beyond_reach(actor.roles, target.roles)
    if not beyond:
        return ""
    held = " and ".join(r.label for r in actor.roles)
    theirs = " and ".join(r.label for r in beyond)
    return (
        f"As {held} you cannot reset the password of a user who holds the {theirs} role. "
        "A Global Administrator can."
    )


def reset_failure(error: DomainError, actor: User, target: User) -> str:
    """A refused admin reset in the administrator's words (the domain speaks to the user)."""
    if isinstance(error, Forbidden):
        return reset_refusal(actor, target) or error.message
    if isinstance(error, AgentUnavailable):
        return (
            f"Nothing was changed: {target.upn} comes from the on-premises directory, and no "
            "on-premises agent is connected to write the password there. "
            f"{status_line(target.tenant)}"
        )
    if isinstance(error, WritebackUnavailable):
        return (
            f"Nothing was changed: {target.upn} comes from the on-premises directory, and "
            "password writeback is turned off in the policy."
        )
    if isinstance(error, DirectoryRefused | WritebackTimeout):
        return f"Nothing was changed. The on-premises directory answered: {error.message}"
    return error.message


@dataclass(frozen=True)
class MethodRow:
    method: str
    label: str
    hint: str
    state: str
    created_at: datetime
    verified_at: datetime | None
    confirmed_at: datetime | None


@dataclass(frozen=True)
class PasswordEvent:
    activity: str
    at: datetime
    actor: str


@dataclass(frozen=True)
class Overview:
    user: User
    roles: list[Role]
    groups: list[Group]
    methods: list[MethodRow]
    last_reset: PasswordEvent | None
    last_change: PasswordEvent | None
    explanation: eligibility.Explanation
    caller_options: list[caller_verification.Option]
    reset_refusal: str


def _methods(user: User) -> list[MethodRow]:
    policy = get_policy(user.tenant)
    rows = []
    for r in RegisteredMethod.objects.filter(user=user).order_by("method", "created_at"):
        cls = METHOD_CLASSES.get(r.method)
        rows.append(
            MethodRow(
                method=r.method,
                label=cls.label if cls else r.method,
                hint=method_for(r.method, policy).hint(r) if cls else "",
                state=r.state,
                created_at=r.created_at,
                verified_at=r.verified_at,
                confirmed_at=r.confirmed_at,
            )
        )
    return rows


def _last(user: User, activities: list[str]) -> PasswordEvent | None:
    event = AuditEvent.objects.filter(
        tenant_id=user.tenant_id,
        target=user.upn,
        activity__in=activities,
        result=AuditEvent.Result.SUCCESS,
    ).first()  # newest first
    if event is None:
        return None
    return PasswordEvent(event.activity, event.occurred_at, event.actor)


def overview(actor: User, user: User) -> Overview:
    return Overview(
        user=user,
        roles=user.roles,
        groups=list(user.member_of.order_by("name")),
        methods=_methods(user),
        last_reset=_last(user, [Activity.RESET_PASSWORD, Activity.RESET_PASSWORD_BY_ADMIN]),
        last_change=_last(user, [Activity.CHANGE_PASSWORD]),
        explanation=explain(user),
        caller_options=caller_verification.options(user),
        reset_refusal=reset_refusal(actor, user),
    )


def groups(tenant: Tenant) -> QuerySet[Group]:
    return (
        Group.objects.filter(tenant=tenant)
        .annotate(
            member_count=Count("members", distinct=True),
            group_count=Count("member_groups", distinct=True),
        )
        .order_by("name")
    )


@dataclass(frozen=True)
class GroupOverview:
    group: Group
    members: QuerySet[User]
    nested: list[Group]
    parents: list[Group]
    effective_count: int
    sspr_scope: str


def group_overview(group: Group) -> GroupOverview:
    return GroupOverview(
        group=group,
        members=group.members.order_by("upn"),
        nested=list(group.member_groups.order_by("name")),
        parents=list(group.parent_groups.order_by("name")),
        effective_count=len(effective_members([group])),
        sspr_scope=sspr_scopes(group.tenant).get(group.pk, ""),
    )


def sspr_scopes(tenant: Tenant) -> dict[int, str]:
    """For the policy's selected groups: group id to 'chosen', or 'nested' when inside one."""
    policy = get_policy(tenant)
    if policy.enabled_for != SsprPolicy.Scope.SELECTED:
        return {}
    chosen = {g.pk for g in policy.enabled_groups.all()}
    reached = nested_group_ids(policy.enabled_groups.all())
    return {pk: "chosen" if pk in chosen else "nested" for pk in reached}
