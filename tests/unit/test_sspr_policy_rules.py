"""The SSPR policy refuses the combinations Entra refuses, and changes all at once or not at all."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from sspr.audit.models import AuditEvent
from sspr.directory.groups import create_group
from sspr.directory.models import Tenant
from sspr.errors import InvalidValue
from sspr.methods.question_list import PREDEFINED_QUESTIONS
from sspr.policy.sspr_policy import (
    METHODS,
    as_dict,
    get_policy,
    preview_impact,
    update_policy,
    update_policy_with_impact,
)

pytestmark = pytest.mark.django_db

ACTIVITY = "Update self-service password reset policy"


def refused(tenant: Tenant, changes: dict[str, Any]) -> InvalidValue:
    """Refused by update_policy and by preview_impact alike, and nothing saved or audited."""
    before = as_dict(get_policy(tenant))
    events = AuditEvent.objects.filter(activity=ACTIVITY).count()
    with pytest.raises(InvalidValue) as previewed:
        preview_impact(tenant, changes)
    with pytest.raises(InvalidValue) as caught:
        update_policy(tenant, changes, actor="tester")
    assert previewed.value.message == caught.value.message
    assert as_dict(get_policy(tenant)) == before
    assert AuditEvent.objects.filter(activity=ACTIVITY).count() == events
    return caught.value


class TestInvalidCombinations:
    def test_more_questions_to_reset_than_to_register(self, tenant: Tenant) -> None:
        """Users cannot be asked more questions at reset than they registered."""
        error = refused(tenant, {"questions_to_register": 3, "questions_to_reset": 4})
        assert error.details["field"] == "questions_to_reset"
        assert "cannot exceed the number to register" in error.message
        assert "register 3" in error.message and "asked 4" in error.message
        update_policy(tenant, {"questions_to_register": 4, "questions_to_reset": 4}, "tester")
        # Lowering "register" below the stored "reset" is the same mistake from the other side.
        assert refused(tenant, {"questions_to_register": 3}).details["field"] == (
            "questions_to_reset"
        )

    def test_more_methods_required_than_offered(self, tenant: Tenant) -> None:
        error = refused(tenant, {"methods_required": 2, "methods_enabled": ["email"]})
        assert error.details["field"] == "methods_enabled"
        assert error.message.startswith("2 methods are required to reset a password, but only 1 is")
        none = refused(tenant, {"methods_enabled": []})
        assert "1 method is required" in none.message and "no method is offered" in none.message

    @pytest.mark.parametrize(
        ("required", "methods"),
        [(1, ["totp"]), (2, ["totp", "email"]), (2, ["sms", "totp"])],
    )
    def test_the_app_cannot_be_the_only_method(
        self, tenant: Tenant, required: int, methods: list[str]
    ) -> None:
        """With 1 required the app needs one other method beside it; with 2, two others."""
        error = refused(tenant, {"methods_required": required, "methods_enabled": methods})
        assert error.details["field"] == "methods_enabled"
        assert "The authenticator app cannot be the only method" in error.message
        expected = "at least one other method" if required == 1 else "at least two other methods"
        assert expected in error.message

    @pytest.mark.parametrize(
        ("required", "methods"),
        [(1, ["totp", "email"]), (2, ["totp", "email", "sms"]), (2, ["email", "sms"])],
    )
    def test_the_app_with_enough_other_methods_is_fine(
        self, tenant: Tenant, required: int, methods: list[str]
    ) -> None:
        policy = update_policy(
            tenant, {"methods_required": required, "methods_enabled": methods}, "tester"
        )
        assert (policy.methods_required, policy.methods_enabled) == (required, methods)

    def test_selected_users_need_a_group(self, tenant: Tenant) -> None:
        error = refused(tenant, {"enabled_for": "selected"})
        assert error.details["field"] == "enabled_groups"
        assert "Choose at least one group" in error.message
        create_group(tenant, "Staff")
        update_policy(tenant, {"enabled_for": "selected", "enabled_groups": ["Staff"]}, "tester")
        # Taking the last group away while "selected" is the same mistake.
        assert refused(tenant, {"enabled_groups": []}).details["field"] == "enabled_groups"

    def test_custom_questions_without_the_questions_method_are_kept(self, tenant: Tenant) -> None:
        """Meaningless until questions are offered, but allowed, as in Entra."""
        policy = update_policy(
            tenant,
            {"methods_enabled": ["email", "sms"], "custom_questions": ["Our first office?"]},
            "tester",
        )
        assert "questions" not in policy.methods_enabled
        assert policy.custom_questions == ["Our first office?"]


class TestSettings:
    @pytest.mark.parametrize(
        ("key", "low", "high"),
        [
            ("questions_to_register", 3, 5),
            ("questions_to_reset", 3, 5),
            ("sms_daily_limit", 0, 1_000_000),
            ("reconfirm_days", 0, 730),
            ("methods_required", 1, 2),
        ],
    )
    def test_whole_numbers_in_range(self, tenant: Tenant, key: str, low: int, high: int) -> None:
        for bad in (low - 1, high + 1, "many", 2.5, True):
            error = refused(tenant, {key: bad})
            assert error.details["field"] == key
            assert f"from {low:,} to {high:,}" in error.message
        # Questions: "reset" may not pass "register", so both ends are tried on their own side.
        if key != "questions_to_reset":
            assert as_dict(update_policy(tenant, {key: high}, "t"))[key] == high
        if key != "questions_to_register":
            assert as_dict(update_policy(tenant, {key: str(low)}, "t"))[key] == low

    def test_new_settings_start_as_entra_does(self, tenant: Tenant) -> None:
        policy = as_dict(get_policy(tenant))
        assert policy["questions_to_register"] == policy["questions_to_reset"] == 3
        assert policy["custom_questions"] == []
        assert policy["sms_daily_limit"] == 1000

    def test_custom_questions_from_a_list_or_one_per_line(self, tenant: Tenant) -> None:
        policy = update_policy(tenant, {"custom_questions": "  First pet?\n\nFirst car?  \n"}, "t")
        assert policy.custom_questions == ["First pet?", "First car?"]
        policy = update_policy(tenant, {"custom_questions": [" Q" * 100]}, "t")
        assert policy.custom_questions == [("Q " * 100).strip()]
        assert update_policy(tenant, {"custom_questions": []}, "t").custom_questions == []

    @pytest.mark.parametrize(
        ("questions", "words"),
        [
            ([f"Question {n}?" for n in range(21)], "At most 20 custom questions; 21"),
            (["Q" * 201], "at most 200 characters"),
            (["Our first office?", "OUR FIRST OFFICE?"], "asked twice"),
            ([PREDEFINED_QUESTIONS[0].upper()], "asked twice"),
            (["Fine?", "  "], "cannot be empty"),
            (["Tab\tinside?"], "without control characters"),
            ([42], "is a piece of text"),
        ],
    )
    def test_custom_questions_are_checked(
        self, tenant: Tenant, questions: list[Any], words: str
    ) -> None:
        error = refused(tenant, {"custom_questions": questions})
        assert error.details["field"] == "custom_questions"
        assert words in error.message

    def test_twenty_questions_of_two_hundred_characters_are_fine(self, tenant: Tenant) -> None:
        questions = [f"{n:02d}" + "x" * 198 for n in range(20)]
        assert update_policy(tenant, {"custom_questions": questions}, "t").custom_questions == (
            questions
        )

    def test_unknown_settings_and_groups_are_named(self, tenant: Tenant) -> None:
        assert "colour" in refused(tenant, {"colour": "blue"}).message
        error = refused(tenant, {"enabled_for": "selected", "enabled_groups": ["Ghosts"]})
        assert "Ghosts" in error.message and error.details["field"] == "enabled_groups"

    def test_the_update_reports_its_impact(self, tenant: Tenant, alice: Any) -> None:
        update = update_policy_with_impact(tenant, {"enabled_for": "all"}, "tester")
        assert update.impact["users_in_scope_before"] == 0
        assert update.impact["users_in_scope_after"] == 1
        assert update.policy.enabled_for == "all"
        event = AuditEvent.objects.get(activity=ACTIVITY)
        assert event.details["changes"] == {"enabled_for": {"old": "none", "new": "all"}}
        assert event.details["users_losing_reset"] == 0


# --- All or nothing, over random changes, valid and not ------------------------------------

GROUPS = ("Staff", "Sales")
QUESTIONS = ("Our first office?", "our FIRST office?", "Favourite lunch spot?", "Q" * 201)
CHANGES = st.fixed_dictionaries(
    {},
    optional={
        "enabled_for": st.sampled_from(["none", "selected", "all", "some"]),
        "enabled_groups": st.lists(st.sampled_from([*GROUPS, "Ghosts"]), max_size=2),
        "methods_required": st.sampled_from([1, 2, 3]),
        "methods_enabled": st.lists(st.sampled_from([*METHODS, "fax"]), unique=True, max_size=4),
        "questions_to_register": st.integers(2, 6),
        "questions_to_reset": st.integers(2, 6),
        "custom_questions": st.lists(st.sampled_from(QUESTIONS), max_size=3),
        "sms_daily_limit": st.sampled_from([-1, 0, 50, 1_000_000, 1_000_001]),
        "notify_users": st.booleans(),
        "helpdesk_url": st.sampled_from(
            ["https://help.contoso.com", "help@contoso.com", "call Bob", "javascript://x@y", ""]
        ),
    },
)


def expected_to_pass(before: dict[str, Any], changes: dict[str, Any]) -> bool:
    """The rules, restated independently of the code under test."""
    each_valid = (
        changes.get("enabled_for", "all") in ("none", "selected", "all")
        and "Ghosts" not in changes.get("enabled_groups", [])
        and changes.get("methods_required", 1) in (1, 2)
        and "fax" not in changes.get("methods_enabled", [])
        and 3 <= changes.get("questions_to_register", 3) <= 5
        and 3 <= changes.get("questions_to_reset", 3) <= 5
        and 0 <= changes.get("sms_daily_limit", 0) <= 1_000_000
        and changes.get("helpdesk_url") not in ("call Bob", "javascript://x@y")
        and "Q" * 201 not in changes.get("custom_questions", [])
        and len({q.casefold() for q in changes.get("custom_questions", [])})
        == len(changes.get("custom_questions", []))
    )
    if not each_valid:
        return False
    after = {**before, **changes}
    methods, required = after["methods_enabled"], after["methods_required"]
    others = len([m for m in methods if m != "totp"])
    return (
        not (after["enabled_for"] == "selected" and not after["enabled_groups"])
        and len(methods) >= required
        and ("totp" not in methods or others >= required)
        and after["questions_to_reset"] <= after["questions_to_register"]
    )


@pytest.fixture
def groups(tenant: Tenant) -> None:
    for name in GROUPS:
        create_group(tenant, name)


@settings(
    max_examples=150,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(changes=CHANGES)
def test_a_change_is_saved_whole_or_not_at_all(
    tenant: Tenant, groups: None, changes: dict[str, Any]
) -> None:
    """Whatever the mix of good and bad settings, the policy afterwards is either the old one,
    untouched and unaudited, or the old one with every requested setting applied."""
    before = as_dict(get_policy(tenant))
    events = AuditEvent.objects.filter(activity=ACTIVITY).count()
    try:
        update_policy(tenant, changes, actor="hypothesis")
    except InvalidValue:
        saved = False
    else:
        saved = True
    after = as_dict(get_policy(tenant))
    event("saved" if saved else "refused")
    assert saved == expected_to_pass(before, changes), (before, changes)
    if not saved:
        assert after == before
        assert AuditEvent.objects.filter(activity=ACTIVITY).count() == events
        return
    expected = {**before, **changes}
    if "enabled_groups" in changes:
        expected["enabled_groups"] = sorted(set(changes["enabled_groups"]))
    assert after == expected
    assert AuditEvent.objects.filter(activity=ACTIVITY).count() == events + 1
