"""Registration coverage: of the users self-service reset is on for, who has registered enough
methods to reset, who has started, who has not, and how many registered each method.

The same rules as eligibility (sspr.flows.eligibility): a method counts only while the policy
offers it, and administrators need two methods other than security questions.

With reset on for everyone, the figures come from the counts the database keeps (how many
enabled users have each set of active methods, sspr.insights.counts), plus the role holders,
who are few, looked at one by one: a few milliseconds whatever the number of users. With reset
on for selected groups, each member's standing is worked out by the database in one query.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass

from django.core.exceptions import EmptyResultSet
from django.db import connection
from django.db.models import (
    Count,
    Exists,
    FilteredRelation,
    IntegerField,
    OuterRef,
    Q,
    QuerySet,
    Subquery,
    Value,
)
from django.db.models.expressions import Expression
from django.db.models.functions import Coalesce

from sspr.directory.models import Group, RoleAssignment, Tenant, User
from sspr.directory.roles import ADMIN_ROLES
from sspr.flows.eligibility import ADMIN_FORBIDDEN_METHODS, ADMIN_METHODS_REQUIRED
from sspr.insights.counts import registration_counts
from sspr.methods.models import RegisteredMethod
from sspr.methods.registry import METHOD_CLASSES
from sspr.policy.models import SsprPolicy

Active = RegisteredMethod.State.ACTIVE


@dataclass(frozen=True)
class MethodCoverage:
    method: str
    label: str
    enabled: bool
    users: int


@dataclass(frozen=True)
class Coverage:
    enabled_for: str
    groups: tuple[str, ...]  # when enabled for selected groups
    methods_required: int
    users: int  # enabled accounts of the organisation
    in_scope: int  # enabled accounts self-service reset is on for
    registered: int  # enough usable methods to reset
    partially_registered: int  # some, not enough
    not_registered: int  # no usable method
    # Users with exactly one usable method while one is required: requiring two strands them.
    one_method_only: int
    by_method: tuple[MethodCoverage, ...]

    @property
    def registered_percent(self) -> int:
        return round(100 * self.registered / self.in_scope) if self.in_scope else 0


def group_closure(groups: Iterable[Group]) -> set[int]:
    """Ids of `groups` and of every group nested inside them: one query per level of nesting."""
    seen: set[int] = set()
    frontier = {g.pk for g in groups}
    through = Group.member_groups.through
    while frontier:
        seen |= frontier
        frontier = (
            set(
                through.objects.filter(from_group_id__in=frontier).values_list(
                    "to_group_id", flat=True
                )
            )
            - seen
        )
    return seen


def scoped_users(tenant: Tenant, policy: SsprPolicy) -> QuerySet[User]:
    """Enabled accounts that self-service reset is on for, as a query (nothing is loaded)."""
    users = User.objects.filter(tenant=tenant, enabled=True)
    if policy.enabled_for == SsprPolicy.Scope.ALL:
        return users
    if policy.enabled_for == SsprPolicy.Scope.NONE:
        return users.none()
    groups = group_closure(policy.enabled_groups.all())
    membership = Group.members.through.objects.filter(user_id=OuterRef("pk"), group_id__in=groups)
    return users.filter(Exists(membership)) if groups else users.none()


def is_role_holder() -> Exists:
    return Exists(
        RoleAssignment.objects.filter(user=OuterRef("pk"), role__in=[r.value for r in ADMIN_ROLES])
    )


def usable_count(methods: Iterable[str]) -> Expression:
    """How many of `methods` the outer user has registered and confirmed."""
    names = sorted(set(methods))
    if not names:
        return Value(0, output_field=IntegerField())
    counted = (
        RegisteredMethod.objects.filter(user=OuterRef("pk"), state=Active, method__in=names)
        .order_by()
        .values("user")
        .annotate(n=Count("pk"))
        .values("n")
    )
    return Coalesce(Subquery(counted, output_field=IntegerField()), Value(0))


def unregistered(tenant: Tenant, policy: SsprPolicy) -> QuerySet[User]:
    """Users in scope without enough usable methods to reset, by the rules of a reset."""
    enabled = list(policy.methods_enabled)
    registered = (Q(admin=False) & Q(usable__gte=policy.methods_required)) | (
        Q(admin=True) & Q(usable_as_admin__gte=ADMIN_METHODS_REQUIRED)
    )
    return (
        scoped_users(tenant, policy)
        .annotate(
            admin=is_role_holder(),
            usable=usable_count(enabled),
            usable_as_admin=usable_count(m for m in enabled if m not in ADMIN_FORBIDDEN_METHODS),
        )
        .exclude(registered)
    )


def _standing_of_users(
    users: QuerySet[User], methods: list[str], required: int
) -> tuple[int, int, int]:
    """How many of `users` (no role holders) have enough usable methods to reset, exactly one,
    and at least one: counted by the database in one pass over the registered methods (a
    count per user would be a lookup per user, seconds for a million)."""
    if not methods:
        return 0, 0, 0
    per_user = (
        RegisteredMethod.objects.filter(state=Active, method__in=methods, user__in=users)
        .order_by()
        .values("user")
        .annotate(n=Count("pk"))
        .values("n")
    )
    try:
        sql, params = per_user.query.sql_with_params()
    except EmptyResultSet:  # nobody in scope
        return 0, 0, 0
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT COALESCE(SUM(CASE WHEN n >= %s THEN 1 ELSE 0 END), 0), "  # noqa: S608
            f"COALESCE(SUM(CASE WHEN n = 1 THEN 1 ELSE 0 END), 0), COUNT(*) FROM ({sql}) per_user",
            [required, *params],
        )
        enough, one, some = cursor.fetchone()
    return int(enough), int(one), int(some)


def coverage(tenant: Tenant, policy: SsprPolicy) -> Coverage:
    if policy.enabled_for == SsprPolicy.Scope.SELECTED:
        return _coverage_of_groups(tenant, policy)
    everyone = registration_counts(tenant)
    users = sum(everyone.values())
    if policy.enabled_for == SsprPolicy.Scope.NONE:
        everyone = {}
    admins = _role_holders(tenant) if everyone else {}
    enabled = set(policy.methods_enabled)
    as_admin = enabled - set(ADMIN_FORBIDDEN_METHODS)
    required = policy.methods_required
    registered = none = one_only = 0
    for methods, n in everyone.items():
        n -= admins.get(methods, 0)  # role holders: their own rule, below
        usable = len(methods & enabled)
        registered += n if usable >= max(required, 1) else 0
        none += n if usable == 0 else 0
        one_only += n if usable == 1 else 0
    for methods, n in admins.items():
        usable = len(methods & as_admin)
        registered += n if usable >= ADMIN_METHODS_REQUIRED else 0
        none += n if usable == 0 else 0
    per_method: dict[str, int] = {}
    for methods, n in everyone.items():
        for name in methods:
            per_method[name] = per_method.get(name, 0) + n
    in_scope = sum(everyone.values())
    return _coverage(
        policy,
        users=users,
        in_scope=in_scope,
        registered=registered,
        none=none,
        one_only=one_only,
        per_method={m: n for m, n in per_method.items() if n > 0},
    )


def _role_holders(tenant: Tenant) -> dict[frozenset[str], int]:
    """How many enabled role holders have each set of active methods."""
    holders = (
        RoleAssignment.objects.filter(
            role__in=[r.value for r in ADMIN_ROLES], user__tenant=tenant, user__enabled=True
        )
        .order_by()
        .values("user_id")
        .distinct()
    )
    methods: dict[int, set[str]] = defaultdict(set)
    for pk, name in (
        User.objects.filter(pk__in=holders)
        .annotate(active=FilteredRelation("methods", condition=Q(methods__state=Active)))
        .values_list("pk", "active__method")
    ):
        methods[pk] |= {name} if name is not None else set()
    counts: dict[frozenset[str], int] = {}
    for names in methods.values():
        counts[frozenset(names)] = counts.get(frozenset(names), 0) + 1
    return counts


def _coverage_of_groups(tenant: Tenant, policy: SsprPolicy) -> Coverage:
    required = policy.methods_required
    enabled = list(policy.methods_enabled)
    scoped = scoped_users(tenant, policy)
    # Role holders are few: their stricter rule is worked out per person.
    admins = scoped.filter(is_role_holder()).annotate(
        usable_as_admin=usable_count(m for m in enabled if m not in ADMIN_FORBIDDEN_METHODS)
    )
    admin_counts = admins.aggregate(
        n=Count("pk"),
        registered=Count("pk", filter=Q(usable_as_admin__gte=ADMIN_METHODS_REQUIRED)),
        none=Count("pk", filter=Q(usable_as_admin=0)),
    )
    users = scoped.exclude(is_role_holder())
    enough, one_only, some = _standing_of_users(users, enabled, required)
    in_scope = scoped.count()
    plain = in_scope - (admin_counts["n"] or 0)
    registered = enough + (admin_counts["registered"] or 0)
    none = (plain - some) + (admin_counts["none"] or 0)
    per_method = dict(
        RegisteredMethod.objects.filter(state=Active, user__in=scoped)
        .order_by()
        .values_list("method")
        # One active registration per user and method (a constraint): no DISTINCT needed,
        # and a million users' rows are not sorted for it.
        .annotate(n=Count("pk"))
    )
    return _coverage(
        policy,
        users=User.objects.filter(tenant=tenant, enabled=True).count(),
        in_scope=in_scope,
        registered=registered,
        none=none,
        one_only=one_only,
        per_method=per_method,
    )


def _coverage(
    policy: SsprPolicy,
    *,
    users: int,
    in_scope: int,
    registered: int,
    none: int,
    one_only: int,
    per_method: dict[str, int],
) -> Coverage:
    enabled = list(policy.methods_enabled)
    shown = [*METHOD_CLASSES, *sorted(set(per_method) - set(METHOD_CLASSES))]
    return Coverage(
        enabled_for=policy.enabled_for,
        groups=tuple(sorted(policy.enabled_groups.values_list("name", flat=True)))
        if policy.enabled_for == SsprPolicy.Scope.SELECTED
        else (),
        methods_required=policy.methods_required,
        users=users,
        in_scope=in_scope,
        registered=registered,
        partially_registered=in_scope - registered - none,
        not_registered=none,
        one_method_only=one_only if policy.methods_required == 1 else 0,
        by_method=tuple(
            MethodCoverage(
                method=name,
                label=method_label(name),
                enabled=name in enabled,
                users=per_method.get(name, 0),
            )
            for name in shown
        ),
    )


def method_label(name: str) -> str:
    cls = METHOD_CLASSES.get(name)
    return cls.label if cls is not None else name
