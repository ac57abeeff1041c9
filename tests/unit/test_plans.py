"""The licence matrix of PRODUCT.md section 1, and the refusals it gives."""

import pytest

from sspr.directory.plans import Feature, Plan, PlanRequired, allows, cheapest_plan_for, require

EXPECTED = {
    # feature: (free, business-standard, business-premium, p1, p2)
    Feature.CLOUD_PASSWORD_CHANGE: (True, True, True, True, True),
    Feature.CLOUD_PASSWORD_RESET: (False, True, True, True, True),
    Feature.HYBRID_WRITEBACK: (False, False, True, True, True),
}


class TestLicenceMatrix:
    @pytest.mark.parametrize("feature", list(Feature))
    def test_matches_the_product_table(self, feature: Feature) -> None:
        """Each plan allows exactly what Entra's licence table allows."""
        plans = [Plan.FREE, Plan.BUSINESS_STANDARD, Plan.BUSINESS_PREMIUM, Plan.P1, Plan.P2]
        assert tuple(allows(p, feature) for p in plans) == EXPECTED[feature]

    def test_refusal_names_the_plan_that_would_allow_it(self) -> None:
        """A free tenant asking for reset is told Business Standard would do."""
        with pytest.raises(PlanRequired) as refusal:
            require("free", Feature.CLOUD_PASSWORD_RESET)
        assert refusal.value.code == "plan_required"
        assert refusal.value.required is Plan.BUSINESS_STANDARD
        assert "Business Standard" in refusal.value.message
        assert "Free" in refusal.value.message

    def test_writeback_needs_business_premium(self) -> None:
        assert cheapest_plan_for(Feature.HYBRID_WRITEBACK) is Plan.BUSINESS_PREMIUM
        with pytest.raises(PlanRequired, match="Business Premium"):
            require(Plan.BUSINESS_STANDARD, Feature.HYBRID_WRITEBACK)

    def test_allowed_feature_passes(self) -> None:
        require(Plan.FREE, Feature.CLOUD_PASSWORD_CHANGE)
