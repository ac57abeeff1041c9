"""Named locations, conditional access policies and what-if through the API and `sspr`."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from sspr.audit.models import AuditEvent
from sspr.directory.groups import create_group
from tests.conftest import Api
from tests.integration.test_cli import Sspr

pytestmark = pytest.mark.django_db

LOCATIONS = "/tenants/contoso/named-locations"
POLICIES = "/tenants/contoso/conditional-access/policies"


@pytest.fixture
def admin(as_role: Any) -> Api:
    return as_role("global-administrator", "admin@contoso.com")


def office(admin: Api, **extra: Any) -> Any:
    body = {"name": "Office", "ranges": ["203.0.113.0/24", "2001:db8:1::/48"], "trusted": True}
    return admin.call("POST", LOCATIONS, {**body, **extra})


class TestNamedLocations:
    def test_create_read_change_delete(self, admin: Api) -> None:
        created = office(admin, ranges=["203.0.113.7/24", "198.51.100.9"])
        assert created.status_code == 201
        body = created.json()
        assert body["ranges"] == ["203.0.113.0/24", "198.51.100.9/32"] and body["trusted"]
        assert admin.call("GET", f"{LOCATIONS}/Office").json()["id"] == body["id"]
        changed = admin.call("PATCH", f"{LOCATIONS}/{body['id']}", {"trusted": False})
        assert changed.status_code == 200 and changed.json()["trusted"] is False
        assert [loc["name"] for loc in admin.call("GET", LOCATIONS).json()["items"]] == ["Office"]
        assert admin.call("DELETE", f"{LOCATIONS}/Office").status_code == 204
        assert admin.call("GET", f"{LOCATIONS}/Office").status_code == 404
        activities = set(AuditEvent.objects.values_list("activity", flat=True))
        assert {"Add named location", "Update named location",
                "Delete named location"} <= activities

    @pytest.mark.parametrize(
        ("ranges", "code"),
        [(["203.0.113.0/33"], "invalid_ip_range"), (["not-an-address"], "invalid_ip_range"),
         ([], "invalid_ip_range"), (["0.0.0.0/0"], "ip_range_too_broad"),
         (["::/0"], "ip_range_too_broad"), (["10.0.0.0/7"], "ip_range_too_broad")],
    )
    def test_bad_ranges_are_refused_with_a_stable_code(
        self, admin: Api, ranges: list[str], code: str
    ) -> None:
        refused = office(admin, ranges=ranges)
        assert refused.status_code == 422 and refused.json()["code"] == code
        assert refused.json()["message"]

    def test_names_are_unique(self, admin: Api) -> None:
        office(admin)
        again = office(admin)
        assert again.status_code == 409 and again.json()["code"] == "location_name_taken"

    def test_only_policy_managers_change_them(self, admin: Api, as_role: Any) -> None:
        office(admin)
        helpdesk = as_role("helpdesk-administrator")
        assert helpdesk.call("GET", LOCATIONS).status_code == 200
        assert office(helpdesk, name="Elsewhere").status_code == 403
        assert helpdesk.call("DELETE", f"{LOCATIONS}/Office").status_code == 403
        assert as_role(None).call("GET", LOCATIONS).status_code == 403

    def test_a_location_in_use_is_kept(self, admin: Api) -> None:
        office(admin)
        admin.call("POST", POLICIES, {"name": "P", "include_all": True, "where": "selected",
                                      "locations": ["Office"]})
        kept = admin.call("DELETE", f"{LOCATIONS}/Office")
        assert kept.status_code == 409 and "P" in kept.json()["message"]


class TestPolicies:
    def test_defaults_are_report_only(self, admin: Api) -> None:
        created = admin.call("POST", POLICIES, {"name": "Everyone", "include_all": True})
        assert created.status_code == 201
        body = created.json()
        assert (body["action"], body["state"], body["where"], body["decision"]) == (
            "register_security_info", "report_only", "any", "require_method")

    def test_create_change_delete_with_groups_roles_users(self, admin: Api, tenant: Any,
                                                          alice: Any) -> None:
        create_group(tenant, "Staff", [alice.upn])
        office(admin)
        created = admin.call("POST", POLICIES, {
            "name": "Staff outside", "include_groups": ["Staff"],
            "exclude_roles": ["global-administrator"], "exclude_users": ["Alice@Contoso.com"],
            "where": "untrusted", "decision": "block", "state": "on"})
        assert created.status_code == 201, created.json()
        assert created.json()["exclude_users"] == ["alice@contoso.com"]
        changed = admin.call("PATCH", f"{POLICIES}/Staff outside",
                             {"state": "off", "include_roles": ["helpdesk-administrator"]})
        assert changed.json()["state"] == "off"
        assert changed.json()["include_roles"] == ["helpdesk-administrator"]
        event = AuditEvent.objects.filter(activity="Update conditional access policy").get()
        assert event.details["changed"]["state"] == {"from": "on", "to": "off"}
        assert admin.call("DELETE", f"{POLICIES}/{created.json()['id']}").status_code == 204
        assert admin.call("GET", POLICIES).json()["items"] == []

    @pytest.mark.parametrize(
        ("body", "code"),
        [({"include_groups": ["Nobody"]}, "unknown_group"),
         ({"include_roles": ["king"]}, "unknown_role"),
         ({"include_users": ["ghost@contoso.com"]}, "unknown_user"),
         ({"where": "selected", "locations": ["Moon"]}, "unknown_location"),
         ({"include_all": False}, "no_users_included"),
         ({"include_all": True, "decision": "maybe"}, "invalid_value"),
         ({"include_all": True, "where": "selected"}, "invalid_value")],
    )
    def test_bad_settings_are_refused_and_nothing_is_saved(
        self, admin: Api, body: dict[str, Any], code: str
    ) -> None:
        refused = admin.call("POST", POLICIES, {"name": "Bad", **body})
        assert refused.status_code == 422 and refused.json()["code"] == code
        assert admin.call("GET", POLICIES).json()["items"] == []

    def test_unknown_settings_are_refused(self, admin: Api) -> None:
        refused = admin.call("POST", POLICIES, {"name": "X", "include_all": True, "color": "red"})
        assert refused.status_code == 422 and refused.json()["code"] == "invalid_request"


class TestWhatIf:
    def test_which_policies_apply_and_why_not(self, admin: Api, tenant: Any, alice: Any) -> None:
        office(admin)
        admin.call("POST", POLICIES, {"name": "Outside", "include_all": True, "where": "untrusted",
                                      "state": "on"})
        admin.call("POST", POLICIES, {"name": "Admins", "include_roles": ["global-administrator"],
                                      "decision": "block", "state": "report_only"})
        # The admin excludes themselves: the policy binds the admin API too.
        admin.call("POST", POLICIES, {"name": "Portal", "action": "admin_sign_in",
                                      "include_all": True, "exclude_users": ["admin@contoso.com"],
                                      "decision": "block", "state": "on"})
        home = admin.call("GET", "/tenants/contoso/conditional-access/what-if"
                                 "?user=alice@contoso.com&address=192.0.2.8").json()
        assert home["decision"] == "require_method" and home["trusted_location"] is False
        results = {p["name"]: p for p in home["policies"]}
        assert set(results) == {"Outside", "Admins"}
        assert results["Outside"]["applies"] and results["Outside"]["result"] == "require_method"
        assert results["Admins"]["result"] == "not_applied"
        assert results["Admins"]["reason"] == "the user is not among the users it includes"
        at_work = admin.call("GET", "/tenants/contoso/conditional-access/what-if"
                                    "?user=alice@contoso.com&address=2001:db8:1::5").json()
        assert at_work["decision"] == "allow" and at_work["locations"] == ["Office"]
        assert {p["name"]: p["reason"] for p in at_work["policies"]}["Outside"] == (
            "from a trusted location")
        boss = admin.call("GET", "/tenants/contoso/conditional-access/what-if"
                                 "?user=admin@contoso.com&address=203.0.113.1").json()
        assert boss["decision"] == "allow" and boss["report_only_decision"] == "block"
        portal = admin.call("GET", "/tenants/contoso/conditional-access/what-if?user="
                                   "alice@contoso.com&address=203.0.113.1&action=admin_sign_in")
        assert portal.json()["decision"] == "block"
        assert not AuditEvent.objects.filter(activity__contains="registered").exists()

    def test_nested_groups_count(self, admin: Api, tenant: Any, alice: Any) -> None:
        create_group(tenant, "Engineers", [alice.upn])
        create_group(tenant, "Staff", subgroups=["Engineers"])
        admin.call("POST", POLICIES, {"name": "Staff", "include_groups": ["Staff"],
                                      "decision": "block", "state": "on"})
        answer = admin.call("GET", "/tenants/contoso/conditional-access/what-if"
                                   "?user=alice@contoso.com&address=192.0.2.8").json()
        assert answer["decision"] == "block"
        assert answer["policies"][0]["reason"] == (
            "the user is in an included group, from any location")

    @pytest.mark.parametrize(
        ("query", "status", "code"),
        [("user=alice@contoso.com&address=999.1.1.1", 422, "invalid_address"),
         ("user=alice@contoso.com&address=", 422, "invalid_address"),
         ("user=&address=192.0.2.1", 422, "invalid_value"),
         ("user=alice@contoso.com&address=192.0.2.1&action=fly", 422, "invalid_value"),
         ("user=ghost@contoso.com&address=192.0.2.1", 404, "not_found")],
    )
    def test_bad_questions(self, admin: Api, alice: Any, query: str, status: int,
                           code: str) -> None:
        answer = admin.call("GET", f"/tenants/contoso/conditional-access/what-if?{query}")
        assert answer.status_code == status and answer.json()["code"] == code


def test_the_command_line(tmp_path: Path) -> None:
    sspr = Sspr(tmp_path / "data")
    sspr("tenant", "create", "northwind", "--name", "Northwind", "--plan", "p1")
    sspr("user", "create", "northwind", "ann@northwind.test", "--password", "Harbor-Lights-9")
    created = sspr("location", "create", "northwind", "HQ", "--range", "203.0.113.0/24",
                   "2001:db8::/32", "--trusted")
    assert "Created named location HQ" in created.stdout
    assert sspr("location", "list", "northwind").stdout == (
        "HQ\ttrusted\t203.0.113.0/24,2001:db8::/32\n")
    bad = sspr("location", "create", "northwind", "Bad", "--range", "1.2.3.4/40", ok=False)
    assert bad.returncode == 2 and "[invalid_ip_range]" in bad.stderr
    policy = sspr("access-policy", "create", "northwind", "Outside", "include_all=true",
                  "where=untrusted", "state=on")
    assert json.loads(policy.stdout)["decision"] == "require_method"
    sspr("access-policy", "set", "northwind", "Outside", "decision=block")
    listed = [json.loads(line) for line in sspr("access-policy", "list", "northwind")
              .stdout.splitlines()]
    assert [(p["name"], p["decision"]) for p in listed] == [("Outside", "block")]
    answer = json.loads(sspr("what-if", "northwind", "ann@northwind.test", "--address",
                             "192.0.2.1").stdout)
    assert answer["decision"] == "block"
    issued = sspr("tap", "issue", "northwind", "ann@northwind.test", "--lifetime", "2h",
                  "--uses", "2")
    passcode = issued.stdout.strip()
    assert len(passcode) == 19 and "shown only now" in issued.stderr
    assert passcode not in sspr("tap", "list", "northwind", "ann@northwind.test").stdout
    assert "Revoked 1" in sspr("tap", "revoke", "northwind", "ann@northwind.test").stdout
    short = sspr("tap", "issue", "northwind", "ann@northwind.test", "--lifetime", "1m", ok=False)
    assert "[invalid_lifetime]" in short.stderr
    sspr("access-policy", "delete", "northwind", "Outside")
    assert sspr("access-policy", "list", "northwind").stdout == ""
