"""Registration coverage: of the users self-service reset is on for, who has registered enough
methods to reset, who has started, who has not, and how many registered each method.

The same rules as eligibility (sspr.flows.eligibility): a method counts only while the policy
offers it, and administrators need two methods other than security questions. Each user's
standing is worked out by the database in one query, whatever the number of users.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from django.db.models import Count, Exists, IntegerField, OuterRef, Q, QuerySet, Subquery, Value
from django.db.models.expressions import Expression
from django.db.models.functions import Coalesce

from sspr.directory.models import Group, RoleAssignment, Tenant, User
from sspr.directory.roles import ADMIN_ROLES
from sspr.flows.eligibility import ADMIN_FORBIDDEN_METHODS, ADMIN_METHODS_REQUIRED
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


def coverage(tenant: Tenant, policy: SsprPolicy) -> Coverage:
    required = policy.methods_required
    enabled = list(policy.methods_enabled)
    scoped = scoped_users(tenant, policy)
    standing = scoped.annotate(
        admin=is_role_holder(),
        usable=usable_count(enabled),
        usable_as_admin=usable_count(m for m in enabled if m not in ADMIN_FORBIDDEN_METHODS),
    )
    user_rule = Q(admin=False)
    admin_rule = Q(admin=True)
    counts = standing.aggregate(
        in_scope=Count("pk"),
        registered=Count(
            "pk",
            filter=(user_rule & Q(usable__gte=required))
            | (admin_rule & Q(usable_as_admin__gte=ADMIN_METHODS_REQUIRED)),
        ),
        none=Count("pk", filter=(user_rule & Q(usable=0)) | (admin_rule & Q(usable_as_admin=0))),
        one_only=Count("pk", filter=user_rule & Q(usable=1)),
    )
    in_scope = counts["in_scope"] or 0
    registered = counts["registered"] or 0
    none = counts["none"] or 0
    per_method = dict(
        RegisteredMethod.objects.filter(state=Active, user__in=scoped)
        .order_by()
        .values_list("method")
        .annotate(n=Count("user", distinct=True))
    )
    shown = [*METHOD_CLASSES, *sorted(set(per_method) - set(METHOD_CLASSES))]
    return Coverage(
        enabled_for=policy.enabled_for,
        groups=tuple(sorted(policy.enabled_groups.values_list("name", flat=True)))
        if policy.enabled_for == SsprPolicy.Scope.SELECTED
        else (),
        methods_required=required,
        users=User.objects.filter(tenant=tenant, enabled=True).count(),
        in_scope=in_scope,
        registered=registered,
        partially_registered=in_scope - registered - none,
        not_registered=none,
        one_method_only=(counts["one_only"] or 0) if required == 1 else 0,
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
