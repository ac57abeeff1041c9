"""Usage & insights: the numbers an administrator reads are the registrations and resets that
really happened, counted by the database whatever the size of the organisation."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from django.core import mail
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from sspr.audit.events import Activity
from sspr.audit.models import AuditEvent
from sspr.directory.groups import create_group
from sspr.directory.models import Group, RoleAssignment, Tenant, User
from sspr.insights.activity import activity
from sspr.insights.period import parse_period
from sspr.insights.report import insights
from sspr.methods.models import RegisteredMethod
from sspr.methods.question_list import PREDEFINED_QUESTIONS
from sspr.policy.sspr_policy import update_policy
from tests.conftest import ADMIN_ROLES, PASSWORD, Api, browser
from tests.reset_helpers import last_code_to, register_email, register_questions, reset_for_all

pytestmark = pytest.mark.django_db

INSIGHTS = "/tenants/contoso/insights"
PAGE = "/t/contoso/admin/insights"
NEW = "Fresh-Meadow-2041"


@pytest.fixture
def sspr_on(tenant: Tenant) -> Tenant:
    return reset_for_all(tenant, "email,sms,totp,questions")


def register_email_through_api(client: Api, address: str) -> None:
    added = client.call("POST", "/me/methods", {"method": "email", "value": address})
    assert added.status_code == 201, added.content
    confirmed = client.call(
        "POST",
        f"/me/methods/{added.json()['id']}/verification",
        {"code": last_code_to(address)},
    )
    assert confirmed.status_code == 200, confirmed.content


def answers() -> dict[str, str]:
    return {q: f"answer number {i}" for i, q in enumerate(PREDEFINED_QUESTIONS[:3])}


@pytest.fixture
def people(sspr_on: Tenant, make_user: Any, as_role: Any) -> dict[str, Any]:
    """ga: an administrator with one method (administrators need two); ann: email (registered
    through the API) and questions; bob: email; cara: nothing; dave: disabled, with email."""
    ga = as_role("global-administrator", "ga@contoso.com")
    register_email_through_api(ga, "ga@contoso.com")
    ann = make_user(sspr_on, "ann@contoso.com")
    ann_api = Api()
    assert ann_api.sign_in("contoso", ann.upn).status_code == 201
    register_email_through_api(ann_api, ann.upn)
    register_questions(ann, answers())
    bob = make_user(sspr_on, "bob@contoso.com")
    register_email(bob)
    cara = make_user(sspr_on, "cara@contoso.com")
    dave = make_user(sspr_on, "dave@contoso.com")
    register_email(dave)
    User.objects.filter(pk=dave.pk).update(enabled=False)
    mail.outbox.clear()
    return {"ga": ga, "ann": ann, "bob": bob, "cara": cara, "ann_api": ann_api}


def reset(api: Api, username: str) -> dict[str, Any]:
    started = api.call("POST", "/tenants/contoso/password-resets", {"username": username})
    assert started.status_code == 201, started.content
    flow: dict[str, Any] = started.json()
    return flow


def challenge(api: Api, flow: dict[str, Any], method: str = "email") -> None:
    sent = api.call("POST", f"/password-resets/{flow['id']}/challenges", {"method": method})
    assert sent.status_code == 202, sent.content


def verify(api: Api, flow: dict[str, Any], code: str, method: str = "email") -> Any:
    return api.call(
        "POST", f"/password-resets/{flow['id']}/verifications", {"method": method, "code": code}
    )


def by_method(outcomes: dict[str, Any]) -> dict[str, tuple[int, int]]:
    return {m["method"]: (m["success"], m["failure"]) for m in outcomes["by_method"]}


def read(client: Api, query: str = "") -> dict[str, Any]:
    response = client.call("GET", INSIGHTS + query)
    assert response.status_code == 200, response.content
    body: dict[str, Any] = response.json()
    return body


class TestRegistrationCoverage:
    def test_users_are_counted_by_what_they_can_reset_with(self, people: Any) -> None:
        """Registered enough, partly, not at all; an administrator needs two methods; disabled
        accounts are left out."""
        body = read(people["ga"])
        reg = body["registration"]
        assert reg["enabled_for"] == "all"
        assert reg["users"] == reg["users_in_scope"] == 4  # dave is disabled
        assert (reg["registered"], reg["partially_registered"], reg["not_registered"]) == (2, 1, 1)
        assert reg["registered_percent"] == 50
        methods = {m["method"]: m for m in body["registration_by_method"]}
        assert methods["email"]["users"] == 3
        assert methods["questions"]["users"] == 1
        assert methods["sms"]["users"] == 0 and methods["sms"]["enabled"] is True
        assert methods["voice"]["enabled"] is False

    def test_selected_groups_count_their_nested_members_only(
        self, people: Any, tenant: Tenant
    ) -> None:
        create_group(tenant, "Sub", ["cara@contoso.com"])
        create_group(tenant, "Pilot", ["ann@contoso.com"], subgroups=["Sub"])
        update_policy(tenant, {"enabled_for": "selected", "enabled_groups": "Pilot"}, "test")
        reg = read(people["ga"])["registration"]
        assert reg["groups"] == ["Pilot"]
        assert reg["users_in_scope"] == 2
        assert (reg["registered"], reg["partially_registered"], reg["not_registered"]) == (1, 0, 1)

    def test_a_method_the_policy_no_longer_offers_does_not_count(
        self, people: Any, tenant: Tenant
    ) -> None:
        update_policy(tenant, {"methods_enabled": "sms,totp,questions"}, "test")
        body = read(people["ga"])
        reg = body["registration"]
        # ann still has questions; bob and ga had only email; questions never count for ga.
        assert (reg["registered"], reg["partially_registered"], reg["not_registered"]) == (1, 0, 3)
        email = next(m for m in body["registration_by_method"] if m["method"] == "email")
        assert email == {"method": "email", "label": "Email", "enabled": False, "users": 3}

    def test_nobody_is_in_scope_while_reset_is_off(self, people: Any, tenant: Tenant) -> None:
        update_policy(tenant, {"enabled_for": "none"}, "test")
        reg = read(people["ga"])["registration"]
        assert reg["users"] == 4
        assert reg["users_in_scope"] == reg["registered"] == reg["not_registered"] == 0


class TestActivity:
    def test_resets_changes_and_failures_as_they_happened(
        self, people: Any, make_api: Callable[[], Api]
    ) -> None:
        anonymous = make_api()
        flow = reset(anonymous, "ann@contoso.com")
        challenge(anonymous, flow)
        assert verify(anonymous, flow, "00000000").status_code == 422
        assert verify(anonymous, flow, last_code_to("ann@contoso.com")).status_code == 200
        done = anonymous.call(
            "POST", f"/password-resets/{flow['id']}/completion", {"new_password": NEW}
        )
        assert done.status_code == 200, done.content
        decoy = reset(anonymous, "nobody@contoso.com")
        challenge(anonymous, decoy, decoy["methods"][0]["method"])
        reset(anonymous, "cara@contoso.com")
        bob = make_api()
        assert bob.sign_in("contoso", "bob@contoso.com").status_code == 201
        wrong = bob.call(
            "POST", "/me/password", {"current_password": "Not-It-99", "new_password": NEW}
        )
        assert wrong.status_code == 422
        changed = bob.call(
            "POST", "/me/password", {"current_password": PASSWORD, "new_password": NEW}
        )
        assert changed.status_code == 200, changed.content

        body = read(people["ga"])
        resets = body["resets"]
        assert (resets["success"], resets["failure"]) == (1, 4)
        decoy_method = decoy["methods"][0]["method"]
        # ann's reset: one email gate passed, one failed; the decoy's request counts as failed.
        failed = {"email": 1}
        failed[decoy_method] = failed.get(decoy_method, 0) + 1
        assert by_method(resets) == {m: (int(m == "email"), n) for m, n in failed.items()}
        assert (body["changes"]["success"], body["changes"]["failure"]) == (1, 1)
        assert body["unlocks"]["total"] == 0
        today = body["daily"][-1]
        assert today["date"] == timezone.now().date().isoformat()
        assert (today["resets_succeeded"], today["resets_failed"]) == (1, 4)
        assert (today["changes_succeeded"], today["changes_failed"]) == (1, 1)
        assert len(body["daily"]) == 30 and body["period"]["days"] == 30
        assert all(d["resets_succeeded"] == 0 for d in body["daily"][:-1])
        reasons = {r["reason"]: r["count"] for r in body["failure_reasons"]}
        assert reasons["User failed to verify with email"] == 1
        assert reasons["Current password incorrect"] == 1
        assert reasons["Could not start a reset: No account has this user name."] == 1
        asked = (
            f"User asked to verify with {decoy_method} (a name that cannot reset: nothing was sent)"
        )
        assert reasons[asked] == 1
        assert (
            reasons[
                "Could not start a reset: The user has not registered enough verification methods."
            ]
            == 1
        )

    def test_a_user_blocked_for_too_many_attempts_is_listed_until_the_block_ends(
        self, people: Any, make_api: Callable[[], Api]
    ) -> None:
        anonymous = make_api()
        flow = reset(anonymous, "bob@contoso.com")
        challenge(anonymous, flow)
        for _ in range(5):
            assert verify(anonymous, flow, "00000000").status_code == 422
        blocked = verify(anonymous, flow, "00000000")
        assert blocked.status_code == 429 and blocked.json()["code"] == "sspr_blocked"

        body = read(people["ga"])
        now = body["blocked_now"]
        assert now["count"] == 1
        assert [u["username"] for u in now["users"]] == ["bob@contoso.com"]
        until = datetime.fromisoformat(now["users"][0]["blocked_until"])
        assert timedelta(hours=23) < until - timezone.now() <= timedelta(hours=24)
        assert body["blocked_events"] == 1
        assert body["daily"][-1]["blocked"] == 1
        assert body["resets"]["failure"] == 5
        assert {"reason": "Too many attempts (verify)", "count": 1} in [
            {"reason": r["reason"], "count": r["count"]} for r in body["failure_reasons"]
        ]
        # A day later the block is over, though the event stays in the trail.
        after = activity(
            people["bob"].tenant, parse_period(), now=timezone.now() + timedelta(hours=25)
        )
        assert after.blocked.count == 0 and after.blocked.names == ()
        assert after.blocked_events == 1


class TestPeriod:
    def test_only_events_inside_the_period_count(self, people: Any, tenant: Tenant) -> None:
        """The period's days are UTC days; an event ten days ago falls on its own day."""
        ten_days_ago = timezone.now() - timedelta(days=10)
        AuditEvent.objects.create(
            tenant=tenant,
            occurred_at=ten_days_ago,
            category="UserManagement",
            activity=Activity.RESET_PASSWORD,
            result="success",
            actor="ann@contoso.com",
            target="ann@contoso.com",
            details={"methods": ["sms", "totp"]},
        )
        body = read(people["ga"])
        assert by_method(body["resets"]) == {"sms": (1, 0), "totp": (1, 0)}
        day = next(d for d in body["daily"] if d["date"] == ten_days_ago.date().isoformat())
        assert day["resets_succeeded"] == 1

        yesterday = (timezone.now() - timedelta(days=1)).date().isoformat()
        recent = read(people["ga"], f"?since={yesterday}")
        assert recent["resets"]["total"] == 0
        assert recent["daily"][0]["date"] == yesterday
        around = (ten_days_ago - timedelta(days=1)).date().isoformat()
        narrow = read(people["ga"], f"?since={around}&until={ten_days_ago.date().isoformat()}")
        assert narrow["resets"]["success"] == 1 and narrow["period"]["days"] == 2
        assert len(narrow["daily"]) == 2

    @pytest.mark.parametrize(
        ("query", "field", "words"),
        [
            ("?since=2026-13-01", "since", "ISO 8601"),
            ("?until=yesterday", "until", "ISO 8601"),
            ("?since=2026-03-05&until=2026-03-01", "since", "earlier"),
            ("?since=2020-01-01&until=2026-01-01", "since", "at most 366 days"),
            ("?until=0001-01-01", "until", "nearer dates"),
            ("?since=9999-12-31T23:59:59", "since", "nearer dates"),
            ("?until=9999-12-31", "until", "out of range"),
        ],
    )
    def test_bad_dates_are_refused_with_a_clear_message(
        self, as_role: Any, query: str, field: str, words: str
    ) -> None:
        response = as_role("helpdesk-administrator").call("GET", INSIGHTS + query)
        assert response.status_code == 422, response.content
        body = response.json()
        assert body["code"] == "invalid_value" and body["field"] == field
        assert words in body["message"]

    def test_dates_in_any_zone_are_read_as_instants(self) -> None:
        period = parse_period("2026-03-01T01:00:00+02:00", "2026-03-02")
        assert period.since == datetime(2026, 2, 28, 23, 0, tzinfo=UTC)
        assert period.before == datetime(2026, 3, 3, tzinfo=UTC)
        assert [d.isoformat() for d in period.days] == ["2026-02-28", "2026-03-01", "2026-03-02"]


class TestAccess:
    @pytest.mark.parametrize("role", ADMIN_ROLES)
    def test_every_administrator_reads_insights(self, as_role: Any, role: str) -> None:
        assert as_role(role).call("GET", INSIGHTS).status_code == 200

    def test_plain_users_and_other_organisations_are_refused(
        self, as_role: Any, other_tenant: Tenant, make_user: Any
    ) -> None:
        refused = as_role(None).call("GET", INSIGHTS)
        assert refused.status_code == 403 and refused.json()["code"] == "forbidden"
        make_user(other_tenant, "ga@fabrikam.com", roles=["global-administrator"])
        outsider = Api()
        assert outsider.sign_in("fabrikam", "ga@fabrikam.com").status_code == 201
        assert outsider.call("GET", INSIGHTS).status_code == 403
        anonymous = Api().call("GET", INSIGHTS)
        assert anonymous.status_code == 401 and anonymous.json()["code"] == "unauthenticated"


def _bulk_organisation(tenant: Tenant, size: int, offset: int = 0) -> None:
    """`size` users, most with a method or two, some administrators, half in a group, and a
    few events per user over the last weeks: created in bulk, as a directory sync would."""
    users = User.objects.bulk_create(
        User(tenant=tenant, upn=f"user{offset + n}@contoso.com", password_hash="")
        for n in range(size)
    )
    methods = []
    for n, user in enumerate(users):
        if n % 3:
            methods.append(RegisteredMethod(user=user, method="email", state="active"))
        if n % 5 == 0:
            methods.append(RegisteredMethod(user=user, method="sms", state="active"))
    RegisteredMethod.objects.bulk_create(methods)
    RoleAssignment.objects.bulk_create(
        RoleAssignment(user=u, role="helpdesk-administrator") for u in users[::50]
    )
    group, _ = Group.objects.get_or_create(tenant=tenant, name="Pilot")
    group.members.add(*users[::2])
    now = timezone.now()
    AuditEvent.objects.bulk_create(
        AuditEvent(
            tenant=tenant,
            occurred_at=now - timedelta(hours=n % 600),
            category="UserManagement",
            activity=(Activity.RESET_PASSWORD, Activity.RESET_PROGRESS, Activity.UNLOCK)[n % 3],
            result="success" if n % 3 != 1 else "failure",
            target=u.upn,
            reason="" if n % 3 != 1 else f"User failed to verify with {('email', 'sms')[n % 2]}",
            details={"methods": ["email"]} if n % 3 != 1 else {"method": "email"},
        )
        for n, u in enumerate(users)
    )


class TestScale:
    @pytest.mark.parametrize("scope", ["all", "selected"])
    def test_the_number_of_queries_does_not_grow_with_the_users(
        self, sspr_on: Tenant, scope: str
    ) -> None:
        _bulk_organisation(sspr_on, 20)
        update_policy(sspr_on, {"enabled_for": scope, "enabled_groups": "Pilot"}, "test")
        period = parse_period()
        with CaptureQueriesContext(connection) as small:
            few = insights(sspr_on, period)
        _bulk_organisation(sspr_on, 3000, offset=20)
        with CaptureQueriesContext(connection) as large:
            many = insights(sspr_on, period)
        assert len(large) == len(small) <= 16, [q["sql"][:120] for q in large.captured_queries]
        in_scope = 3020 if scope == "all" else 1510
        assert many.coverage.in_scope == in_scope and few.coverage.in_scope <= 20
        assert many.coverage.registered > few.coverage.registered
        assert many.activity.outcomes["reset"].success > 900

    def test_the_api_answers_a_large_organisation_in_a_bounded_number_of_queries(
        self, sspr_on: Tenant, as_role: Any, django_assert_max_num_queries: Any
    ) -> None:
        client = as_role("helpdesk-administrator")
        _bulk_organisation(sspr_on, 3000)
        with django_assert_max_num_queries(20):
            body = read(client)
        assert body["registration"]["users_in_scope"] == 3001
        assert body["resets"]["success"] == 1000


class TestPage:
    def test_an_administrator_sees_charts_and_their_tables(self, people: Any) -> None:
        response = browser("ga@contoso.com").get(PAGE)
        assert response.status_code == 200
        html = response.content.decode()
        assert 'aria-current="page">Usage &amp; insights</a>' in html
        assert html.count('<svg xmlns="http://www.w3.org/2000/svg" class="chart"') == 2
        coverage = html.split('id="chart-coverage"')[1].split("</svg>")[0]
        assert coverage.count('class="bar"') == 6  # one per method
        resets = html.split('id="chart-resets"')[1].split("</svg>")[0]
        assert resets.count('class="bar"') == 60  # 30 days, succeeded and failed
        assert '<th scope="row">Email</th><td>yes</td><td>3</td>' in html
        assert 'id="count-registered">2 (50%)' in html
        # Nothing the Content Security Policy would block: no script, no inline style.
        assert "<script" not in html and "style=" not in html

    def test_a_bad_period_is_explained_on_the_page(self, people: Any) -> None:
        response = browser("ga@contoso.com").get(PAGE + "?since=2026-03-05&until=2026-03-01")
        assert response.status_code == 400
        assert "&#x27;since&#x27; must be earlier than &#x27;until&#x27;." in (
            response.content.decode()
        )

    def test_plain_users_are_refused(self, people: Any) -> None:
        response = browser("cara@contoso.com").get(PAGE)
        assert response.status_code == 403
