"""Administrators filter, page and export their organisation's audit log, through the API, the
admin page and the command line; nobody else reads it, and no tenant sees another's."""

from __future__ import annotations

import asyncio
import csv
import io
import json
import re
from collections.abc import Callable
from datetime import timedelta
from io import StringIO
from pathlib import Path
from typing import Any

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connections
from django.db.backends.signals import connection_created
from django.test import Client
from django.utils import timezone

from sspr.audit.events import Activity, record
from sspr.audit.export import COLUMNS
from sspr.audit.models import AuditEvent
from sspr.directory.models import Tenant, User
from sspr.web.serving import PooledASGIHandler
from tests.asgi_call import call
from tests.conftest import Api, browser

pytestmark = pytest.mark.django_db

EVENTS = "/tenants/contoso/audit-events"


@pytest.fixture
def people(
    tenant: Tenant, other_tenant: Tenant, make_user: Callable[..., User], alice: User
) -> dict[str, User]:
    return {
        "admin": make_user(tenant, "admin@contoso.com", roles=["global-administrator"]),
        "helpdesk": make_user(tenant, "desk@contoso.com", roles=["helpdesk-administrator"]),
        "alice": alice,
        "bob": make_user(tenant, "bob@contoso.com"),
        "fabrikam": make_user(other_tenant, "admin@fabrikam.com", roles=["global-administrator"]),
        "fabrikam-user": make_user(other_tenant, "secret-person@fabrikam.com"),
    }


@pytest.fixture
def trail(people: dict[str, User], make_api: Callable[[], Api]) -> None:
    """Real activity in both tenants: sign-ins that fail and succeed."""
    make_api().sign_in("contoso", "alice@contoso.com", "Wrong-Pass-12")
    make_api().sign_in("contoso", "bob@contoso.com")
    make_api().sign_in("fabrikam", "secret-person@fabrikam.com", "Wrong-Pass-12")


def as_admin(
    make_api: Callable[[], Api], upn: str = "admin@contoso.com", tenant: str = "contoso"
) -> Api:
    api = make_api()
    assert api.sign_in(tenant, upn).status_code == 201
    return api


def contoso_events(**filters: Any) -> Any:
    return AuditEvent.objects.filter(tenant__slug="contoso", **filters)


def sign_outs(tenant: Tenant, count: int) -> None:
    """`count` sign-outs of as many users, written at once."""
    AuditEvent.objects.bulk_create(
        AuditEvent(
            tenant=tenant,
            category="Authentication",
            activity="Sign-out",
            result="success",
            actor=f"u{n}@contoso.com",
        )
        for n in range(count)
    )


class TestList:
    def test_everything_newest_first(self, trail: None, make_api: Callable[[], Api]) -> None:
        api = as_admin(make_api)
        body = api.call("GET", EVENTS).json()
        assert body["total"] == contoso_events().count()
        ids = [e["id"] for e in body["events"]]
        assert ids == list(
            contoso_events().order_by("-occurred_at", "-id").values_list("id", flat=True)[:50]
        )
        first = body["events"][0]
        assert set(first) == set(COLUMNS)  # what the export has, the tenant aside
        assert (first["activity"], first["result"]) == ("Sign-in", "success")
        assert first["target"] == "admin@contoso.com" and first["details"]["kind"] == "api"

    def test_filters(self, trail: None, make_api: Callable[[], Api]) -> None:
        api = as_admin(make_api)

        def get(query: str) -> list[dict[str, Any]]:
            response = api.call("GET", f"{EVENTS}?{query}")
            assert response.status_code == 200, response.content
            events: list[dict[str, Any]] = response.json()["events"]
            assert response.json()["total"] == len(events)
            return events

        failures = get("activity=Sign-in&result=failure")
        assert [(e["target"], e["result"]) for e in failures] == [("alice@contoso.com", "failure")]
        bob = get("user=BOB@contoso")
        assert bob and all("bob@contoso.com" in (e["actor"], e["target"]) for e in bob)
        assert {e["activity"] for e in bob} >= {"Add user", "Sign-in"}
        by_actor = get("actor=bob@contoso.com")
        assert [e["activity"] for e in by_actor] == ["Sign-in"]
        today = timezone.now().date()
        assert len(get(f"since={today}&until={today}")) == contoso_events().count()
        assert get(f"until={today - timedelta(days=1)}") == []
        assert get(f"since={today + timedelta(days=1)}") == []
        now = timezone.now()
        later = (now + timedelta(minutes=1)).strftime("%Y-%m-%dT%H:%M:%S")
        assert len(get(f"until={later}Z")) == contoso_events().count()
        assert len(get("since=2000-01-01T00:00:00%2B02:00")) == contoso_events().count()

    def test_paging(self, trail: None, make_api: Callable[[], Api]) -> None:
        api = as_admin(make_api)
        total = contoso_events().count()
        assert total > 3
        pages = [api.call("GET", f"{EVENTS}?limit=2&offset={o}").json() for o in range(0, total, 2)]
        assert all(p["total"] == total for p in pages)
        ids = [e["id"] for p in pages for e in p["events"]]
        assert sorted(ids) == sorted(contoso_events().values_list("id", flat=True))
        assert len(set(ids)) == total

    def test_any_administrator_may_read(self, trail: None, make_api: Callable[[], Api]) -> None:
        api = as_admin(make_api, "desk@contoso.com")
        assert api.call("GET", EVENTS).status_code == 200

    def test_a_plain_user_may_not(self, trail: None, make_api: Callable[[], Api]) -> None:
        api = as_admin(make_api, "bob@contoso.com")
        for path in (EVENTS, f"{EVENTS}/export"):
            response = api.call("GET", path)
            assert response.status_code == 403
            assert response.json()["code"] == "forbidden"

    def test_without_a_token(self, trail: None, api: Api) -> None:
        response = api.call("GET", EVENTS)
        assert response.status_code == 401
        assert response.json()["code"] == "unauthenticated"

    @pytest.mark.parametrize(
        ("query", "field"),
        [
            ("since=yesterday", "since"),
            ("until=2026-02-30", "until"),
            ("since=2026-13-01T00:00:00", "since"),
            ("since=2026-03-02&until=2026-03-01", "since"),
            ("result=maybe", "result"),
            ("since=99999-01-01", "since"),
            ("until=9999-12-31", None),
            ("since=0001-01-01T00:00:00%2B05:00", "since"),
        ],
    )
    def test_bad_input_is_a_clear_422(
        self,
        people: dict[str, User],
        make_api: Callable[[], Api],
        query: str,
        field: str | None,
    ) -> None:
        api = as_admin(make_api)
        for path in (EVENTS, f"{EVENTS}/export"):
            response = api.call("GET", f"{path}?{query}")
            if field is None:  # the end of time is a fine upper bound
                assert response.status_code == 200
                continue
            assert response.status_code == 422, response.content
            body = response.json()
            assert body["code"] == "invalid_value" and body["field"] == field
            assert f"'{field}'" in body["message"]

    def test_bad_format_and_limits_are_422(
        self, people: dict[str, User], make_api: Callable[[], Api]
    ) -> None:
        api = as_admin(make_api)
        for query in ("format=xml", "format="):
            response = api.call("GET", f"{EVENTS}/export?{query}")
            assert response.status_code == 422 and response.json()["code"] == "invalid_request"
        for query in ("limit=0", "limit=501", "offset=-1", "limit=x"):
            assert api.call("GET", f"{EVENTS}?{query}").status_code == 422


class TestTenantIsolation:
    def test_an_admin_never_sees_another_tenants_events(
        self, trail: None, make_api: Callable[[], Api]
    ) -> None:
        api = as_admin(make_api)
        everything = api.call("GET", f"{EVENTS}?limit=500").json()["events"]
        text = json.dumps(everything)
        assert "fabrikam" not in text and "secret-person" not in text
        assert api.call("GET", f"{EVENTS}?user=secret-person").json() == {"events": [], "total": 0}
        export = api.call("GET", f"{EVENTS}/export?format=jsonl")
        assert b"fabrikam" not in b"".join(export.streaming_content)

    def test_the_other_tenants_address_is_refused(
        self, trail: None, make_api: Callable[[], Api]
    ) -> None:
        api = as_admin(make_api)
        for path in ("/tenants/fabrikam/audit-events", "/tenants/fabrikam/audit-events/export"):
            response = api.call("GET", path)
            assert response.status_code == 403
            assert "another organisation" in response.json()["message"]
        fabrikam = as_admin(make_api, "admin@fabrikam.com", "fabrikam")
        theirs = fabrikam.call("GET", "/tenants/fabrikam/audit-events?limit=500").json()
        assert theirs["total"] == AuditEvent.objects.filter(tenant__slug="fabrikam").count()
        assert "contoso" not in json.dumps(theirs["events"])


def read(response: Any) -> str:
    return b"".join(response.streaming_content).decode("utf-8")


class TestExport:
    def test_csv(self, trail: None, make_api: Callable[[], Api]) -> None:
        api = as_admin(make_api)
        response = api.call("GET", f"{EVENTS}/export?format=csv&activity=Sign-in")
        assert response.status_code == 200
        assert response["Content-Type"] == "text/csv; charset=utf-8"
        assert re.fullmatch(
            r'attachment; filename="audit-contoso-\d{8}T\d{6}Z\.csv"',
            response["Content-Disposition"],
        )
        rows = list(csv.DictReader(io.StringIO(read(response))))
        expected = contoso_events(activity="Sign-in").order_by("id")
        assert [int(r["id"]) for r in rows] == [e.pk for e in expected]
        assert list(rows[0]) == list(COLUMNS)
        failed = next(r for r in rows if r["result"] == "failure")
        assert failed["target"] == "alice@contoso.com"
        assert failed["ip"] == "127.0.0.1"
        assert json.loads(failed["details"]) == expected.get(pk=failed["id"]).details

    def test_csv_cells_cannot_become_formulas(
        self, people: dict[str, User], make_api: Callable[[], Api]
    ) -> None:
        record(
            people["alice"].tenant,
            Activity.SIGN_IN,
            result="failure",
            target='=HYPERLINK("http://evil.example","x")',
            reason="-2+3",
        )
        api = as_admin(make_api)
        text = read(api.call("GET", f"{EVENTS}/export?user=HYPERLINK"))
        row = next(csv.DictReader(io.StringIO(text)))
        assert row["target"] == '\'=HYPERLINK("http://evil.example","x")'
        assert row["reason"] == "'-2+3"

    def test_json_lines(self, trail: None, make_api: Callable[[], Api]) -> None:
        api = as_admin(make_api)
        response = api.call("GET", f"{EVENTS}/export?format=jsonl&result=failure")
        assert response.status_code == 200
        assert response["Content-Type"].startswith("application/x-ndjson")
        assert response["Content-Disposition"].endswith('.jsonl"')
        lines = read(response).splitlines()
        events = [json.loads(line) for line in lines]
        expected = contoso_events(result="failure").order_by("id")
        assert [e["id"] for e in events] == [e.pk for e in expected]
        assert all(e["tenant"] == "contoso" and e["result"] == "failure" for e in events)

    def test_many_events_stream_in_batches(
        self, people: dict[str, User], make_api: Callable[[], Api]
    ) -> None:
        sign_outs(people["alice"].tenant, 2500)
        api = as_admin(make_api)
        response = api.call("GET", f"{EVENTS}/export?format=jsonl&activity=Sign-out")
        chunks = list(response.streaming_content)
        assert len(chunks) == 3  # 1000 + 1000 + 500
        ids = [json.loads(line)["id"] for c in chunks for line in c.decode().splitlines()]
        assert ids == sorted(ids) and len(ids) == 2500


class TestAdminPage:
    def test_the_table_and_its_filters(self, trail: None) -> None:
        page = browser("desk@contoso.com").get(
            "/t/contoso/admin/audit/", {"activity": "Sign-in", "result": "failure"}
        )
        assert page.status_code == 200
        html = page.content.decode()
        assert '<caption id="audit-caption">Events 1 to 1 of 1, newest first</caption>' in html
        assert html.count('<th scope="col">') == 7
        for name in ("since", "until", "activity", "user", "result"):
            assert f'<label for="{name}">' in html and f'id="{name}" name="{name}"' in html
        event = contoso_events(activity="Sign-in", result="failure").get()
        assert f'id="event-{event.pk}"' in html
        assert "alice@contoso.com" in html and "bob@contoso.com</td>" not in html
        assert 'aria-current="page">Audit log</a>' in html
        assert (
            'href="/t/contoso/admin/audit/export?activity=Sign-in&amp;result=failure'
            '&amp;format=csv"'
        ) in html
        assert "format=jsonl" in html

    def test_paging(self, people: dict[str, User]) -> None:
        sign_outs(people["alice"].tenant, 120)
        client = browser("admin@contoso.com")
        first = client.get("/t/contoso/admin/audit/", {"activity": "Sign-out"}).content.decode()
        assert "Events 1 to 50 of 120" in first
        assert 'href="/t/contoso/admin/audit/?activity=Sign-out&amp;page=2" rel="next"' in first
        assert 'rel="prev"' not in first
        last = client.get(
            "/t/contoso/admin/audit/", {"activity": "Sign-out", "page": "3"}
        ).content.decode()
        assert "Events 101 to 120 of 120" in last and 'rel="next"' not in last

    def test_a_bad_date_is_explained(self, people: dict[str, User]) -> None:
        page = browser("admin@contoso.com").get("/t/contoso/admin/audit/", {"since": "soon"})
        assert page.status_code == 400
        assert "must be an ISO 8601 date" in page.content.decode()

    def test_export_from_the_page(self, trail: None) -> None:
        client = browser("admin@contoso.com")
        response = client.get(
            "/t/contoso/admin/audit/export", {"format": "csv", "result": "failure"}
        )
        assert response.status_code == 200
        assert response["Content-Disposition"].startswith("attachment;")
        rows = list(csv.DictReader(io.StringIO(read(response))))
        assert [r["target"] for r in rows] == ["alice@contoso.com"]
        jsonl = client.get("/t/contoso/admin/audit/export", {"format": "jsonl"})
        assert len(read(jsonl).splitlines()) == contoso_events().count()
        assert client.get("/t/contoso/admin/audit/export", {"format": "xls"}).status_code == 400

    def test_a_plain_user_is_refused(self, people: dict[str, User]) -> None:
        client = browser("bob@contoso.com")
        assert client.get("/t/contoso/admin/audit/").status_code == 403
        assert client.get("/t/contoso/admin/audit/export").status_code == 403

    def test_a_visitor_is_sent_to_sign_in(self, people: dict[str, User]) -> None:
        response = Client().get("/t/contoso/admin/audit/export")
        assert response.status_code == 302 and response["Location"] == "/t/contoso/sign-in"


class TestCommandLine:
    def test_export_to_a_file(self, trail: None, tmp_path: Path) -> None:
        target = tmp_path / "audit.jsonl"
        call_command(
            "audit",
            "export",
            "contoso",
            "--format",
            "jsonl",
            "--activity",
            "Sign-in",
            "--output",
            str(target),
            stdout=StringIO(),
        )
        events = [json.loads(line) for line in target.read_text().splitlines()]
        assert [e["id"] for e in events] == list(
            contoso_events(activity="Sign-in").order_by("id").values_list("id", flat=True)
        )

    def test_export_csv_to_standard_output(self, trail: None) -> None:
        out = StringIO()
        call_command(
            "audit", "export", "contoso", "--since", "2000-01-01", "--result", "failure", stdout=out
        )
        rows = list(csv.DictReader(io.StringIO(out.getvalue())))
        assert [r["target"] for r in rows] == ["alice@contoso.com"]

    def test_bad_input_is_one_clear_line(self, trail: None) -> None:
        with pytest.raises(CommandError, match="'until' must be an ISO 8601"):
            call_command("audit", "export", "contoso", "--until", "tomorrow", stdout=StringIO())
        with pytest.raises(CommandError, match="no organisation called 'nowhere'"):
            call_command("audit", "export", "nowhere", stdout=StringIO())


class TestUnderSsprServe:
    @pytest.mark.django_db(transaction=True)  # the server's threads read what the test wrote
    def test_the_download_is_sent_while_the_events_are_still_being_read(
        self, people: dict[str, User], make_api: Callable[[], Api]
    ) -> None:
        """`sspr serve` sends each chunk as the export produces it, rather than the whole
        export read into memory first: the first lines leave before the second page of events
        (1,000 a page) is read."""
        sign_outs(people["alice"].tenant, 1500)
        token = as_admin(make_api).token
        timeline: list[str] = []

        def log_query(execute: Any, sql: str, *args: Any) -> Any:
            if "audit_auditevent" in sql:
                timeline.append("read events")
            return execute(sql, *args)

        def watch(sender: Any, connection: Any, **kwargs: Any) -> None:
            connection.execute_wrappers.append(log_query)

        app = PooledASGIHandler(page_threads=1, agent_threads=1)
        connection_created.connect(watch)
        try:
            answer = asyncio.run(
                call(
                    app,
                    f"/api/v1{EVENTS}/export?format=jsonl&activity=Sign-out",
                    headers={"Authorization": f"Bearer {token}"},
                    on_chunk=lambda _: timeline.append("sent"),
                )
            )
        finally:
            connection_created.disconnect(watch)
            app.pages.submit(connections.close_all).result(10)
            app.pages.shutdown()
            app.agents.shutdown()
        assert answer.status == 200
        assert len(answer.body.splitlines()) == 1500
        reads = [i for i, step in enumerate(timeline) if step == "read events"]
        assert len(reads) >= 2 and timeline.index("sent") < reads[-1], timeline
