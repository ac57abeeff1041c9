"""The directory sync, as the agent sends it: full and delta batches through POST /agent/sync.

Users and groups are matched by their on-premises anchor; a full sync's final batch deletes
what it did not see; batches are idempotent and the cursor moves only with an applied batch.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable
from typing import Any

import pytest
from django.db import connection

from sspr.directory.groups import effective_members
from sspr.directory.models import Group, Tenant, User
from sspr.hybrid.enrollment import create_token
from sspr.hybrid.models import SyncedUser, SyncState
from tests.conftest import Api
from tests.integration.test_hybrid_channel import TestAgent

pytestmark = pytest.mark.django_db

U1, U2, U3, U4 = (str(uuid.UUID(int=i)) for i in range(1, 5))
G_ALL, G_SUB = str(uuid.UUID(int=101)), str(uuid.UUID(int=102))


def user(anchor: str, name: str, **extra: Any) -> dict[str, Any]:
    return {
        "anchor": anchor,
        "dn": f"CN={name},OU=Staff,DC=corp,DC=test",
        "upn": f"{name}@contoso.com",
        "display_name": name.title(),
        "given_name": name.title(),
        "mail": f"{name}@contoso.com",
        "mobile_phone": "+1 425 555 0100",
        "password_last_set": 1_700_000_000.5,
        **extra,
    }


def group(anchor: str, name: str, *members: str) -> dict[str, Any]:
    return {
        "anchor": anchor,
        "dn": f"CN={name},OU=Groups,DC=corp,DC=test",
        "name": name,
        "member_anchors": list(members),
    }


FIRST_PAGE = {
    "users": [user(U1, "ann"), user(U2, "ben")],
    # U3 arrives in the next page; G_SUB is nested in G_ALL.
    "groups": [group(G_ALL, "All staff", U1, G_SUB, U3), group(G_SUB, "Engineers", U2)],
    "cursor": "",
}
LAST_PAGE = {
    "users": [user(U3, "cat", locked_out=True, enabled=False)],
    "cursor": "usn:200",
    "final": True,
}


@pytest.fixture
def agent(tenant: Tenant) -> TestAgent:
    token, _ = create_token(tenant)
    test_agent = TestAgent()
    assert test_agent.enroll(token).status_code == 201
    test_agent.heartbeat()
    return test_agent


@pytest.fixture
def send(agent: TestAgent) -> Callable[..., dict[str, Any]]:
    def post(sync_id: str, mode: str = "full", status: int = 200, **page: Any) -> dict[str, Any]:
        response = agent.call("POST", "/agent/sync", {"sync_id": sync_id, "mode": mode, **page})
        assert response.status_code == status, response.content
        return dict(response.json())

    return post


def counts(report: dict[str, Any]) -> tuple[int, int, int, int]:
    return report["created"], report["updated"], report["deleted"], report["unchanged"]


def members(tenant: Tenant, name: str) -> set[str]:
    group_ = Group.objects.get(tenant=tenant, name=name)
    return set(
        User.objects.filter(pk__in=effective_members([group_])).values_list("upn", flat=True)
    )


def full_sync(send: Callable[..., dict[str, Any]], sync_id: str) -> list[dict[str, Any]]:
    return [send(sync_id, **FIRST_PAGE), send(sync_id, **LAST_PAGE)]


class TestFullSync:
    def test_creates_users_and_groups_and_resolves_nested_members(
        self, tenant: Tenant, send: Callable[..., dict[str, Any]]
    ) -> None:
        first, last = full_sync(send, "s1")
        assert counts(first) == (4, 0, 0, 0) and first["errors"] == []
        # The last page brings U3, which completes All staff's members.
        assert counts(last) == (1, 1, 0, 0)

        ann = User.objects.get(tenant=tenant, upn="ann@contoso.com")
        assert ann.source == "synced" and ann.on_prem_anchor == U1
        assert ann.on_prem_dn == "CN=ann,OU=Staff,DC=corp,DC=test"
        assert ann.display_name == "Ann" and ann.mobile_phone == "+1 425 555 0100"
        assert ann.password_last_set is not None
        assert ann.password_last_set.timestamp() == 1_700_000_000.5
        cat = User.objects.get(tenant=tenant, upn="cat@contoso.com")
        assert cat.enabled is False and SyncedUser.objects.get(user=cat).locked_out is True

        assert members(tenant, "All staff") == {
            "ann@contoso.com",
            "ben@contoso.com",
            "cat@contoso.com",
        }
        assert members(tenant, "Engineers") == {"ben@contoso.com"}
        all_staff = Group.objects.get(tenant=tenant, name="All staff")
        assert all_staff.source == "synced" and all_staff.on_prem_anchor == G_ALL
        assert [g.name for g in all_staff.member_groups.all()] == ["Engineers"]

        state = SyncState.objects.get(tenant=tenant)
        assert state.cursor == "usn:200" and state.full_completed
        stats = state.last_full
        assert stats["sync_id"] == "s1" and stats["finished_at"]
        assert (stats["users"], stats["groups"], stats["batches"]) == (3, 2, 2)
        assert (stats["created"], stats["updated"], stats["errors"]) == (5, 1, 0)
        assert stats["rate"] > 0

    def test_the_same_full_sync_again_changes_nothing(
        self, tenant: Tenant, send: Callable[..., dict[str, Any]]
    ) -> None:
        full_sync(send, "s1")
        before = list(User.objects.order_by("pk").values())
        first, last = full_sync(send, "s2")
        assert counts(first) == (0, 0, 0, 4) and counts(last) == (0, 0, 0, 1)
        assert list(User.objects.order_by("pk").values()) == before
        # The very same batch twice: nothing the second time either.
        assert counts(send("s2", **LAST_PAGE)) == (0, 0, 0, 1)

    def test_what_a_full_sync_did_not_see_is_deleted_at_its_end(
        self, tenant: Tenant, send: Callable[..., dict[str, Any]], alice: User
    ) -> None:
        full_sync(send, "s1")
        page = send("s2", users=[user(U1, "ann")], groups=[group(G_ALL, "All staff", U1)])
        assert counts(page) == (0, 1, 0, 1)  # All staff lost members
        assert User.objects.filter(tenant=tenant, source="synced").count() == 3  # not yet
        last = send("s2", final=True, cursor="usn:300")
        assert counts(last) == (0, 0, 3, 0)  # ben, cat and Engineers
        assert set(User.objects.values_list("upn", flat=True)) == {"ann@contoso.com", alice.upn}
        assert list(Group.objects.values_list("name", flat=True)) == ["All staff"]
        assert members(tenant, "All staff") == {"ann@contoso.com"}


    def test_a_full_sync_that_would_delete_too_much_deletes_nothing(
        self, tenant: Tenant, send: Callable[..., dict[str, Any]], settings: Any
    ) -> None:
        """A wrong base DN or filter must not empty the tenant (accidental-delete prevention)."""
        settings.SYNC_DELETION_LIMIT = 2
        full_sync(send, "s1")
        last = send("s2", final=True, cursor="usn:300")  # saw nothing: 5 objects unseen
        assert counts(last)[2] == 0
        assert [e["code"] for e in last["errors"]] == ["deletion_threshold"]
        assert "would delete 5 objects" in last["errors"][0]["message"]
        assert User.objects.filter(tenant=tenant, source="synced").count() == 3


class TestDeltaSync:
    def test_updates_adds_and_deletes(
        self, tenant: Tenant, send: Callable[..., dict[str, Any]]
    ) -> None:
        full_sync(send, "s1")
        report = send(
            "d1",
            mode="delta",
            cursor="usn:250",
            users=[
                user(U1, "ann", display_name="Ann Archer", enabled=False, locked_out=True),
                user(U4, "dan"),
            ],
            groups=[group(G_SUB, "Engineers", U2, U4)],
            deleted_anchors=[U2, "no-such-anchor"],
        )
        assert counts(report) == (1, 2, 1, 0)
        ann = User.objects.get(tenant=tenant, on_prem_anchor=U1)
        assert ann.display_name == "Ann Archer" and ann.enabled is False
        assert SyncedUser.objects.get(user=ann).locked_out is True
        assert not User.objects.filter(on_prem_anchor=U2).exists()
        assert members(tenant, "Engineers") == {"dan@contoso.com"}
        assert members(tenant, "All staff") == {
            "ann@contoso.com",
            "cat@contoso.com",
            "dan@contoso.com",
        }
        state = SyncState.objects.get(tenant=tenant)
        assert state.cursor == "usn:250" and state.last_delta["created"] == 1

    def test_a_renamed_user_keeps_its_account(
        self, tenant: Tenant, send: Callable[..., dict[str, Any]]
    ) -> None:
        full_sync(send, "s1")
        ann = User.objects.get(upn="ann@contoso.com")
        send("d1", mode="delta", users=[user(U1, "ann", upn="ann.archer@contoso.com")])
        ann.refresh_from_db()
        assert ann.upn == "ann.archer@contoso.com"

    def test_names_passed_along_in_one_page_follow_the_page_order(
        self, tenant: Tenant, send: Callable[..., dict[str, Any]]
    ) -> None:
        full_sync(send, "s1")
        # ben moves to a new name, then ann takes ben's old one: only in this order does it work,
        # which one bulk statement cannot promise; the page is then applied record by record.
        report = send(
            "d1",
            mode="delta",
            users=[
                user(U2, "ben", upn="benjamin@contoso.com"),
                user(U1, "ann", upn="ben@contoso.com"),
            ],
        )
        assert report["errors"] == [] and counts(report) == (0, 2, 0, 0)
        upns = dict(User.objects.filter(tenant=tenant).values_list("on_prem_anchor", "upn"))
        assert upns[U1] == "ben@contoso.com" and upns[U2] == "benjamin@contoso.com"

    def test_a_record_refused_in_a_full_sync_is_not_deleted_at_its_end(
        self, tenant: Tenant, send: Callable[..., dict[str, Any]]
    ) -> None:
        full_sync(send, "s1")
        send("s2", **FIRST_PAGE)
        report = send("s2", users=[user(U3, "cat", upn="not a name")], final=True)
        assert report["errors"][0]["code"] == "invalid_upn" and report["deleted"] == 0
        assert User.objects.get(on_prem_anchor=U3).upn == "cat@contoso.com"

    def test_an_object_twice_in_one_page_is_one_object(
        self, tenant: Tenant, send: Callable[..., dict[str, Any]]
    ) -> None:
        report = send(
            "d1",
            mode="delta",
            users=[user(U1, "ann"), user(U1, "ann", display_name="Ann A.")],
            groups=[group(G_ALL, "All staff", U1), group(G_ALL, "All staff", U1)],
        )
        assert counts(report) == (2, 0, 0, 0) and report["errors"] == []
        assert User.objects.get(on_prem_anchor=U1).display_name == "Ann A."


class TestPerObjectErrors:
    def test_bad_names_and_collisions_are_reported_and_the_rest_goes_on(
        self, tenant: Tenant, send: Callable[..., dict[str, Any]], alice: User
    ) -> None:
        report = send(
            "s1",
            users=[
                user(U1, "ann"),
                user(U2, "ben", upn="not a user name"),
                user(U3, "alice"),  # a cloud user holds alice@contoso.com
                {"dn": "CN=nobody"},  # no anchor at all
                user(U4, "dan", mail="not-mail"),
            ],
            groups=[group(G_ALL, "All staff", U1, U2)],
            final=True,
        )
        assert counts(report) == (3, 0, 0, 0)
        by_anchor = {e["anchor"]: e for e in report["errors"]}
        assert by_anchor[U2]["code"] == "invalid_upn"
        assert by_anchor[U2]["dn"] == "CN=ben,OU=Staff,DC=corp,DC=test"
        assert by_anchor[U3]["code"] == "upn_conflict" and "cloud" in by_anchor[U3]["message"]
        assert by_anchor[""]["code"] == "invalid_record"
        assert by_anchor[U4]["code"] == "invalid_mail"
        alice.refresh_from_db()
        assert alice.source == "cloud" and alice.on_prem_anchor == ""
        assert User.objects.get(on_prem_anchor=U4).mail == ""
        assert members(tenant, "All staff") == {"ann@contoso.com"}
        stats = SyncState.objects.get(tenant=tenant).last_full
        assert stats["errors"] == 4 and len(stats["error_list"]) == 4

    def test_a_group_named_like_a_cloud_group_is_reported(
        self, tenant: Tenant, send: Callable[..., dict[str, Any]]
    ) -> None:
        Group.objects.create(tenant=tenant, name="Engineers")
        report = send("s1", **FIRST_PAGE)
        [error] = report["errors"]
        assert error["anchor"] == G_SUB and error["code"] == "group_name_conflict"
        assert Group.objects.get(name="Engineers").source == "cloud"


class TestResuming:
    def test_the_cursor_moves_only_with_an_applied_batch(
        self,
        tenant: Tenant,
        agent: TestAgent,
        send: Callable[..., dict[str, Any]],
        admin_api_for: Callable[[], Api],
    ) -> None:
        def state() -> dict[str, Any]:
            response = agent.call("GET", "/agent/sync/state")
            assert response.status_code == 200
            return dict(response.json())

        assert state() == {"mode": "full", "cursor": "", "sync_id": ""}
        send("s1", **{**FIRST_PAGE, "cursor": "page:1"})
        # An interrupted full sync resumes under its own id from its last page.
        assert state() == {"mode": "full", "cursor": "page:1", "sync_id": "s1"}
        send("s1", mode="sideways", status=422, cursor="page:2")
        refused = send("s1", status=422, users="not a list", cursor="page:2")
        assert refused["code"] == "invalid_request"
        assert state()["cursor"] == "page:1"
        send("s1", **LAST_PAGE)
        assert state() == {"mode": "delta", "cursor": "usn:200", "sync_id": ""}

        admin = admin_api_for()
        asked = admin.call("POST", "/tenants/contoso/sync-requests", {"mode": "full"})
        assert asked.status_code == 202
        told = agent.heartbeat()
        assert told["sync"] == "full" and told["sync_request"]
        assert state()["mode"] == "full"
        send("s2", **FIRST_PAGE)
        assert agent.heartbeat() == {"sync": "none", "sync_request": ""}

    @pytest.mark.django_db(transaction=True)  # the long poll runs in its own thread
    def test_a_long_poll_tells_the_agent_of_a_sync_asked_for_once(
        self, agent: TestAgent, admin_api_for: Callable[[], Api]
    ) -> None:
        admin = admin_api_for()
        answers: list[dict[str, Any]] = []

        def poll(seen: str = "") -> dict[str, Any]:
            response = agent.call("GET", f"/agent/commands?wait=20&sync_seen={seen}")
            assert response.status_code == 200, response.content
            return dict(response.json())

        def in_thread() -> None:
            try:
                answers.append(poll())
            finally:
                connection.close()  # the thread's own; PostgreSQL must not keep it open

        waiting = threading.Thread(target=in_thread)
        waiting.start()
        time.sleep(0.3)  # the poll is waiting (if not yet, it finds the request at once)
        asked = admin.call("POST", "/tenants/contoso/sync-requests", {"mode": "full"})
        assert asked.status_code == 202
        waiting.join(20)
        [answer] = answers
        # Answered before its 20 s were up: woken by the request, not by a timer.
        assert answer["commands"] == [] and answer["sync"] == "full" and answer["sync_request"]
        again = agent.call("GET", f"/agent/commands?wait=0&sync_seen={answer['sync_request']}")
        assert again.json()["sync"] == "full"  # still pending: the agent already acts on it


@pytest.fixture
def admin_api_for(tenant: Tenant, make_user: Callable[..., User]) -> Callable[[], Api]:
    def make() -> Api:
        make_user(tenant, "ga@contoso.com", roles=["global-administrator"])
        client = Api()
        assert client.sign_in("contoso", "ga@contoso.com").status_code == 201
        return client

    return make


def test_a_large_page_is_accepted_and_timed(
    tenant: Tenant, send: Callable[..., dict[str, Any]]
) -> None:
    """2,000 users and a group holding all of them: far more than Django's 64 KiB default."""
    anchors = [str(uuid.uuid4()) for _ in range(2000)]
    users = [user(a, f"user{i:04d}") for i, a in enumerate(anchors)]
    began = time.monotonic()
    report = send("big", users=users, groups=[group(G_ALL, "Everyone", *anchors)], final=True)
    first = time.monotonic() - began
    assert counts(report) == (2001, 0, 0, 0)
    assert len(members(tenant, "Everyone")) == 2000
    began = time.monotonic()
    again = send("big-2", users=users, groups=[group(G_ALL, "Everyone", *anchors)], final=True)
    second = time.monotonic() - began
    assert counts(again) == (0, 0, 0, 2001)
    print(f"2000 users: first full sync {first:.2f} s, unchanged {second:.2f} s")
    assert first < 30 and second < 15
