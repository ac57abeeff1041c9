"""The licence matrix: which plan allows which feature. Every gated action asks `require`."""

from __future__ import annotations

from enum import StrEnum

from django.utils.translation import gettext as _
from django.utils.translation import gettext_noop

from sspr.errors import DomainError


class Plan(StrEnum):
    FREE = "free"
    BUSINESS_STANDARD = "business-standard"
    BUSINESS_PREMIUM = "business-premium"
    P1 = "p1"
    P2 = "p2"

    @property
    def label(self) -> str:
        return PLAN_LABELS[self]


PLAN_LABELS = {
    Plan.FREE: "Free",
    Plan.BUSINESS_STANDARD: "Business Standard",
    Plan.BUSINESS_PREMIUM: "Business Premium",
    Plan.P1: "P1",
    Plan.P2: "P2",
}

# Cheapest first: a refusal names the first plan that allows the feature.
PLAN_ORDER = [Plan.FREE, Plan.BUSINESS_STANDARD, Plan.BUSINESS_PREMIUM, Plan.P1, Plan.P2]


class Feature(StrEnum):
    CLOUD_PASSWORD_CHANGE = "cloud_password_change"
    CLOUD_PASSWORD_RESET = "cloud_password_reset"
    HYBRID_WRITEBACK = "hybrid_writeback"


FEATURE_LABELS = {
    Feature.CLOUD_PASSWORD_CHANGE: gettext_noop("Password change for cloud users"),
    Feature.CLOUD_PASSWORD_RESET: gettext_noop("Self-service password reset for cloud users"),
    Feature.HYBRID_WRITEBACK: gettext_noop(
        "Password change, reset and unlock with on-premises writeback"
    ),
}

LICENCE_MATRIX: dict[Feature, frozenset[Plan]] = {
    Feature.CLOUD_PASSWORD_CHANGE: frozenset(Plan),
    Feature.CLOUD_PASSWORD_RESET: frozenset(
        {Plan.BUSINESS_STANDARD, Plan.BUSINESS_PREMIUM, Plan.P1, Plan.P2}
    ),
    Feature.HYBRID_WRITEBACK: frozenset({Plan.BUSINESS_PREMIUM, Plan.P1, Plan.P2}),
}


class PlanRequired(DomainError):
    status = 403
    code = "plan_required"

    def __init__(self, feature: Feature, current: Plan) -> None:
        self.feature = feature
        self.required = cheapest_plan_for(feature)
        super().__init__(
            _(
                "%(feature)s needs the %(required)s plan or higher; this organisation is on the "
                "%(current)s plan."
            )
            % {
                "feature": _(FEATURE_LABELS[feature]),
                "required": self.required.label,
                "current": current.label,
            }
        )


def allows(plan: Plan | str, feature: Feature) -> bool:
    return Plan(plan) in LICENCE_MATRIX[feature]


def cheapest_plan_for(feature: Feature) -> Plan:
    return next(plan for plan in PLAN_ORDER if plan in LICENCE_MATRIX[feature])


def require(plan: Plan | str, feature: Feature) -> None:
    if not allows(plan, feature):
        raise PlanRequired(feature, Plan(plan))
