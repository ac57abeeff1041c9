"""Groups with members, nested groups counting toward membership."""

from __future__ import annotations

from typing import Any

import pytest

from sspr.directory.groups import create_group, effective_members
from sspr.errors import Conflict, NotFound

pytestmark = pytest.mark.django_db


class TestGroups:
    def test_nested_members_count(self, tenant: Any, make_user: Any) -> None:
        ann = make_user(tenant, "ann@contoso.com")
        ben = make_user(tenant, "ben@contoso.com")
        make_user(tenant, "cy@contoso.com")
        inner = create_group(tenant, "Engineers", ["ben@contoso.com"])
        outer = create_group(tenant, "Staff", ["ann@contoso.com"], ["Engineers"])
        assert effective_members([outer]) == {ann.pk, ben.pk}
        assert effective_members([inner]) == {ben.pk}

    def test_cycles_do_not_loop(self, tenant: Any, make_user: Any) -> None:
        ann = make_user(tenant, "ann@contoso.com")
        a = create_group(tenant, "A", ["ann@contoso.com"])
        b = create_group(tenant, "B", [], ["A"])
        a.member_groups.add(b)
        assert effective_members([b]) == {ann.pk}

    def test_unknown_member_and_duplicate_name(self, tenant: Any, alice: Any) -> None:
        with pytest.raises(NotFound):
            create_group(tenant, "X", ["nobody@contoso.com"])
        create_group(tenant, "X", [alice.upn])
        with pytest.raises(Conflict):
            create_group(tenant, "X")

    def test_members_come_from_their_own_tenant_only(
        self, tenant: Any, other_tenant: Any, make_user: Any
    ) -> None:
        make_user(other_tenant, "zed@fabrikam.com")
        with pytest.raises(NotFound):
            create_group(tenant, "Mixed", ["zed@fabrikam.com"])
