"""Who can reset: the rules of eligibility, over many combinations."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sspr.directory.groups import create_group
from sspr.directory.models import User
from sspr.flows.eligibility import assess
from sspr.methods.models import RegisteredMethod
from sspr.policy.models import SsprPolicy
from sspr.policy.sspr_policy import get_policy

pytestmark = pytest.mark.django_db
METHODS = ["email", "sms", "totp", "questions"]


@settings(max_examples=60, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    scope=st.sampled_from(["none", "selected", "all"]),
    required=st.integers(1, 2),
    enabled=st.lists(st.sampled_from(METHODS), min_size=1, unique=True),
    registered=st.lists(st.sampled_from(METHODS), unique=True),
    admin=st.booleans(),
    in_group=st.booleans(),
    nested=st.booleans(),
    active=st.booleans(),
)
def test_eligibility_rules(tenant: Any, make_user: Any, scope: str, required: int,
                           enabled: list[str], registered: list[str], admin: bool,
                           in_group: bool, nested: bool, active: bool) -> None:
    User.objects.filter(tenant=tenant).delete()
    tenant.groups.all().delete()
    user = make_user(tenant, "who@contoso.com",
                     roles=["helpdesk-administrator"] if admin else [])
    user.enabled = active
    user.save()
    for name in registered:
        RegisteredMethod.objects.create(user=user, method=name, state="active", value="x")
    create_group(tenant, "Inner", [user.upn] if in_group else [])
    outer = create_group(tenant, "Outer", [], ["Inner"] if nested else [])
    policy = get_policy(tenant)
    SsprPolicy.objects.filter(pk=policy.pk).update(
        enabled_for=scope, methods_required=required, methods_enabled=enabled)
    policy.refresh_from_db()
    policy.enabled_groups.set([outer])

    verdict = assess(user, policy)

    needed = 2 if admin else required
    usable = [m for m in registered if m in enabled and not (admin and m == "questions")]
    scoped = scope == "all" or (scope == "selected" and in_group and nested)
    assert verdict.requirements.methods_required == needed
    assert sorted(verdict.methods) == sorted(usable)
    assert verdict.eligible == (scoped and active and len(usable) >= needed)
    if admin:
        assert "questions" not in verdict.requirements.methods_allowed
    if scope == "none":
        assert "sspr_off" in verdict.reasons
