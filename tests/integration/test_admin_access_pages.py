"""The conditional access admin pages: named locations, policies, what-if and the Temporary
Access Pass on a user's page. Every administrator may look; Global and Authentication Policy
Administrators change locations and policies; passes follow `temporary_pass.may_issue`. Bad
input is shown next to its field and nothing is saved; every change is audited."""

from __future__ import annotations

import re
from html import unescape
from typing import Any

import pytest
from django.test import Client

from sspr.access import access_policies
from sspr.access.locations import create_location
from sspr.access.models import AccessPolicy, NamedLocation, TemporaryAccessPass
from sspr.access.temporary_pass import sign_in_with_pass
from sspr.audit.models import AuditEvent
from sspr.directory.groups import create_group
from sspr.directory.models import Credential, Tenant, User
from tests.conftest import browser, csrf_token

pytestmark = pytest.mark.django_db

ADMIN = "/t/contoso/admin/"
LOCATIONS = f"{ADMIN}named-locations/"
POLICIES = f"{ADMIN}conditional-access/"
WHAT_IF = f"{POLICIES}what-if"
OFFICE = "203.0.113.20"
HOME = "192.0.2.77"
DENIED = "You do not have access to this page."


def text(html: str) -> str:
    """What a person reads: the page without its tags, spaces collapsed."""
    return " ".join(unescape(re.sub(r"<[^>]+>", " ", html)).split())


def send(client: Client, path: str, data: dict[str, Any], form_page: str = "") -> Any:
    """Send a form as the page shows it, with the page's CSRF token."""
    html = client.get(form_page or path).content.decode()
    return client.post(path, {**data, "csrfmiddlewaretoken": csrf_token(html)})


def field_error(html: str, field: str) -> str:
    found = re.search(rf'<p class="field-error" id="id_{field}-error">([^<]*)</p>', html)
    assert found, f"no error next to {field}"
    return unescape(found.group(1))


@pytest.fixture
def people(tenant: Tenant, make_user: Any, alice: User) -> dict[str, User]:
    found = {"alice": alice, "plain": make_user(tenant, "carol@contoso.com")}
    for role in (
        "global-administrator",
        "authentication-policy-administrator",
        "helpdesk-administrator",
    ):
        found[role] = make_user(tenant, f"{role}@contoso.com", roles=[role])
    return found


@pytest.fixture
def ga(people: dict[str, User]) -> Client:
    return browser("global-administrator@contoso.com")


@pytest.fixture
def office(tenant: Tenant) -> NamedLocation:
    return create_location(tenant, "Office", ["203.0.113.0/24"], trusted=True)


def new_policy(**changes: Any) -> dict[str, Any]:
    return {
        "name": "Protect registration",
        "action": "register_security_info",
        "state": "on",
        "include_all": "all",
        "where": "untrusted",
        "decision": "require_method",
        **changes,
    }


class TestNavigationAndRoles:
    def test_the_pages_are_in_the_admin_navigation(self, ga: Client) -> None:
        html = ga.get(ADMIN).content.decode()
        assert f'<a href="{POLICIES}">Conditional access</a>' in html
        assert f'<a href="{LOCATIONS}">Named locations</a>' in html
        html = ga.get(POLICIES).content.decode()
        assert f'<a href="{POLICIES}" aria-current="page">Conditional access</a>' in html

    @pytest.mark.parametrize("role", ["helpdesk-administrator", "global-administrator"])
    def test_every_administrator_looks(
        self, people: dict[str, User], office: NamedLocation, role: str
    ) -> None:
        client = browser(f"{role}@contoso.com")
        for path in (LOCATIONS, f"{LOCATIONS}{office.pk}", POLICIES, WHAT_IF):
            assert client.get(path).status_code == 200, path

    def test_a_plain_user_is_refused_without_a_hint(
        self, people: dict[str, User], office: NamedLocation
    ) -> None:
        client = browser("carol@contoso.com")
        for path in (LOCATIONS, f"{LOCATIONS}{office.pk}", POLICIES, f"{POLICIES}new", WHAT_IF):
            response = client.get(path)
            assert response.status_code == 403 and DENIED in response.content.decode(), path
            assert "Office" not in response.content.decode()

    def test_a_helpdesk_administrator_reads_but_does_not_change(
        self, people: dict[str, User], office: NamedLocation
    ) -> None:
        client = browser("helpdesk-administrator@contoso.com")
        html = client.get(f"{LOCATIONS}{office.pk}").content.decode()
        assert 'id="read-only"' in html and "Delete Office" not in html
        refused = send(client, f"{LOCATIONS}{office.pk}", {"delete": "1"})
        assert refused.status_code == 403
        refused = send(client, f"{POLICIES}new", new_policy())
        assert refused.status_code == 403
        assert "Only Global Administrators and Authentication Policy" in refused.content.decode()
        assert NamedLocation.objects.filter(name="Office").exists()
        assert not AccessPolicy.objects.exists()

    def test_forms_need_the_csrf_token(self, ga: Client) -> None:
        refused = ga.post(f"{LOCATIONS}new", {"name": "Office", "ranges": "203.0.113.0/24"})
        assert refused.status_code == 403
        assert not NamedLocation.objects.exists()


class TestNamedLocations:
    def test_create_list_change_delete(self, ga: Client) -> None:
        created = send(
            ga,
            f"{LOCATIONS}new",
            {"name": "Office", "ranges": "203.0.113.7/24\n2001:db8:1::/48", "trusted": "on"},
        )
        assert created.status_code == 302 and created["Location"] == LOCATIONS
        listed = text(ga.get(LOCATIONS).content.decode())
        assert "The named location Office was created." in listed
        assert "Office 203.0.113.0/24, 2001:db8:1::/48 Trusted" in listed
        location = NamedLocation.objects.get(name="Office")
        changed = send(
            ga, f"{LOCATIONS}{location.pk}", {"name": "Head office", "ranges": "198.51.100.0/24"}
        )
        assert changed.status_code == 302
        location.refresh_from_db()
        assert (location.name, location.ranges, location.trusted) == (
            "Head office",
            ["198.51.100.0/24"],
            False,
        )
        deleted = send(ga, f"{LOCATIONS}{location.pk}", {"delete": "1"})
        assert deleted.status_code == 302
        assert "The named location Head office was deleted." in ga.get(LOCATIONS).content.decode()
        assert not NamedLocation.objects.exists()
        activities = list(
            AuditEvent.objects.filter(activity__contains="named location").values_list(
                "activity", "actor"
            )
        )
        assert {a for a, _ in activities} == {
            "Add named location",
            "Update named location",
            "Delete named location",
        }
        assert {actor for _, actor in activities} == {"global-administrator@contoso.com"}

    @pytest.mark.parametrize(
        ("ranges", "says"),
        [
            ("203.0.113.0/33", "is not an IPv4 or IPv6 range"),
            ("not-an-address", "is not an IPv4 or IPv6 range"),
            ("10.0.0.0/7", "is too broad for one location"),
            ("::/0", "is too broad for one location"),
        ],
    )
    def test_bad_ranges_are_shown_next_to_the_field(
        self, ga: Client, ranges: str, says: str
    ) -> None:
        refused = send(ga, f"{LOCATIONS}new", {"name": "Office", "ranges": ranges})
        assert refused.status_code == 400
        html = refused.content.decode()
        assert says in field_error(html, "ranges")
        assert "Nothing was saved." in html
        assert ranges in html  # what was typed is kept to correct
        assert not NamedLocation.objects.exists()
        assert not AuditEvent.objects.filter(activity="Add named location").exists()

    def test_a_name_taken_is_shown_next_to_the_name(
        self, ga: Client, office: NamedLocation
    ) -> None:
        refused = send(ga, f"{LOCATIONS}new", {"name": "Office", "ranges": "198.51.100.0/24"})
        assert refused.status_code == 400
        assert "already exists" in field_error(refused.content.decode(), "name")
        assert NamedLocation.objects.count() == 1

    def test_a_bad_change_saves_nothing(self, ga: Client, office: NamedLocation) -> None:
        refused = send(ga, f"{LOCATIONS}{office.pk}", {"name": "Renamed", "ranges": "0.0.0.0/0"})
        assert refused.status_code == 400
        office.refresh_from_db()
        assert office.name == "Office" and office.ranges == ["203.0.113.0/24"]

    def test_a_location_a_policy_uses_is_kept(
        self, ga: Client, tenant: Tenant, office: NamedLocation
    ) -> None:
        access_policies.create_access_policy(
            tenant, {"name": "P", "include_all": True, "where": "selected", "locations": "Office"}
        )
        refused = send(ga, f"{LOCATIONS}{office.pk}", {"delete": "1"})
        assert refused.status_code == 409
        assert "The policy 'P' uses this location" in text(refused.content.decode())
        assert NamedLocation.objects.filter(pk=office.pk).exists()

    def test_an_unknown_location_is_not_found(self, ga: Client, other_tenant: Tenant) -> None:
        theirs = create_location(other_tenant, "Theirs", ["198.51.100.0/24"])
        assert ga.get(f"{LOCATIONS}{theirs.pk}").status_code == 404


class TestPolicies:
    def test_create_and_list(self, ga: Client, office: NamedLocation) -> None:
        created = send(ga, f"{POLICIES}new", new_policy())
        assert created.status_code == 302 and created["Location"] == POLICIES
        listed = text(ga.get(POLICIES).content.decode())
        assert "The policy Protect registration was created." in listed
        assert (
            "Protect registration Register security information On All users "
            "All but trusted locations Require an already-registered method"
        ) in listed
        event = AuditEvent.objects.get(activity="Add conditional access policy")
        assert event.actor == "global-administrator@contoso.com"
        assert event.details["policy"]["where"] == "untrusted"

    def test_a_new_policy_starts_in_report_only(self, ga: Client) -> None:
        html = ga.get(f"{POLICIES}new").content.decode()
        assert re.search(r'<input type="radio" name="state" value="report_only"[^>]*checked', html)

    def test_who_with_groups_roles_users_and_exclusions(
        self, ga: Client, tenant: Tenant, people: dict[str, User], office: NamedLocation
    ) -> None:
        create_group(tenant, "Staff", ["alice@contoso.com"])
        create_group(tenant, "Contractors", [])
        created = send(
            ga,
            f"{POLICIES}new",
            new_policy(
                name="Admins from the office",
                action="admin_sign_in",
                include_all="selected",
                include_groups=["Staff"],
                include_roles=["helpdesk-administrator"],
                include_users="carol@contoso.com",
                exclude_groups=["Contractors"],
                exclude_users="global-administrator@contoso.com",
                where="selected",
                locations=["Office"],
                decision="block",
                state="report_only",
            ),
        )
        assert created.status_code == 302
        policy = AccessPolicy.objects.get(name="Admins from the office")
        saved = access_policies.as_dict(policy)
        assert saved["include_all"] is False and saved["include_groups"] == ["Staff"]
        assert saved["include_roles"] == ["helpdesk-administrator"]
        assert saved["include_users"] == ["carol@contoso.com"]
        assert saved["exclude_users"] == ["global-administrator@contoso.com"]
        assert saved["locations"] == ["Office"] and saved["decision"] == "block"
        listed = text(ga.get(POLICIES).content.decode())
        assert (
            "groups: Staff; roles: Helpdesk Administrator; users: carol@contoso.com except "
            "groups: Contractors; users: global-administrator@contoso.com"
        ) in listed
        assert "Selected locations: Office" in listed and "Report-only" in listed
        # The edit form shows what is saved.
        html = ga.get(f"{POLICIES}{policy.pk}").content.decode()
        assert re.search(r'<option value="Staff" selected>', html)
        assert "carol@contoso.com</textarea>" in html

    @pytest.mark.parametrize(
        ("changes", "field", "says"),
        [
            ({"include_users": "nobody@contoso.com"}, "include_users", "there is no user"),
            ({"where": "selected"}, "locations", "needs at least one named location"),
            ({"include_all": "selected"}, "include_all", "The policy includes nobody"),
            ({"decision": "maybe"}, "decision", "Select a valid choice"),
        ],
    )
    def test_bad_settings_are_shown_next_to_the_field(
        self, ga: Client, office: NamedLocation, changes: dict[str, Any], field: str, says: str
    ) -> None:
        refused = send(ga, f"{POLICIES}new", new_policy(**changes))
        assert refused.status_code == 400
        assert says in field_error(refused.content.decode(), field)
        assert not AccessPolicy.objects.exists()
        assert not AuditEvent.objects.filter(activity="Add conditional access policy").exists()

    def test_a_name_taken_is_shown_next_to_the_name(self, ga: Client, tenant: Tenant) -> None:
        access_policies.create_access_policy(tenant, {"name": "Taken", "include_all": True})
        refused = send(ga, f"{POLICIES}new", new_policy(name="Taken"))
        assert refused.status_code == 400
        assert "already exists" in field_error(refused.content.decode(), "name")

    def test_change_and_delete(self, ga: Client, tenant: Tenant) -> None:
        policy = access_policies.create_access_policy(
            tenant, {"name": "P", "include_all": True, "state": "report_only"}
        )
        changed = send(ga, f"{POLICIES}{policy.pk}", new_policy(name="P", state="on"))
        assert changed.status_code == 302
        policy.refresh_from_db()
        assert policy.state == "on" and policy.where == "untrusted"
        event = AuditEvent.objects.get(activity="Update conditional access policy")
        assert event.details["changed"]["state"] == {"from": "report_only", "to": "on"}
        refused = send(ga, f"{POLICIES}{policy.pk}", new_policy(name="P", where="selected"))
        assert refused.status_code == 400
        policy.refresh_from_db()
        assert policy.where == "untrusted"
        deleted = send(ga, f"{POLICIES}{policy.pk}", {"delete": "1"})
        assert deleted.status_code == 302 and not AccessPolicy.objects.exists()
        assert "The policy P was deleted." in ga.get(POLICIES).content.decode()

    def test_an_authentication_policy_administrator_may_change(
        self, people: dict[str, User]
    ) -> None:
        client = browser("authentication-policy-administrator@contoso.com")
        assert send(client, f"{POLICIES}new", new_policy()).status_code == 302


class TestWhatIf:
    @pytest.fixture
    def policies(self, tenant: Tenant, office: NamedLocation) -> None:
        access_policies.create_access_policy(
            tenant,
            {"name": "Protect registration", "include_all": True, "where": "untrusted",
             "state": "on"},
        )
        access_policies.create_access_policy(
            tenant, {"name": "Off one", "include_all": True, "state": "off"}
        )

    def ask(self, client: Client, address: str, user: str = "alice@contoso.com") -> Any:
        data = {"user": user, "address": address, "action": "register_security_info"}
        return send(client, WHAT_IF, data)

    def test_from_home_the_policy_applies(
        self, people: dict[str, User], policies: None
    ) -> None:
        answer = self.ask(browser("helpdesk-administrator@contoso.com"), HOME)
        assert answer.status_code == 200
        said = text(answer.content.decode())
        assert "Decision: Require an already-registered method" in said
        assert "The address is in no named location." in said
        assert (
            "Protect registration On Applies Require an already-registered method "
            "all users, outside trusted locations"
        ) in said
        assert "Off one Off Does not apply Does not apply the policy is off" in said
        assert not AuditEvent.objects.filter(activity__icontains="what").exists()

    def test_from_the_office_it_does_not_and_says_why(
        self, ga: Client, policies: None
    ) -> None:
        said = text(self.ask(ga, OFFICE).content.decode())
        assert "Decision: Allow" in said
        assert "The address is in Office, a trusted location." in said
        assert "Protect registration On Does not apply Does not apply from a trusted location" in (
            said
        )

    @pytest.mark.parametrize(
        ("user", "address", "field", "says"),
        [
            ("alice@contoso.com", "not-an-ip", "address", "is not an IPv4 or IPv6 address"),
            ("nobody@contoso.com", HOME, "user", "There is no such user"),
        ],
    )
    def test_bad_questions(
        self, ga: Client, policies: None, user: str, address: str, field: str, says: str
    ) -> None:
        refused = self.ask(ga, address, user)
        assert refused.status_code == 400
        assert says in field_error(refused.content.decode(), field)


class TestTemporaryAccessPass:
    def user_page(self, upn: str = "alice@contoso.com") -> str:
        return f"{ADMIN}users/{upn}"

    def issue(self, client: Client, upn: str = "alice@contoso.com", **data: Any) -> Any:
        return send(
            client,
            f"{self.user_page(upn)}/temporary-access-passes",
            {"lifetime": "1h", "max_uses": "1", **data, **self.after(client, upn)},
            form_page=self.user_page(upn),
        )

    def after(self, client: Client, upn: str) -> dict[str, str]:
        html = client.get(self.user_page(upn)).content.decode()
        found = re.search(r'<input type="hidden" name="after" value="(\d+)"', html)
        return {"after": found.group(1)} if found else {}

    def test_issued_shown_once_then_listed_without_the_secret(
        self, ga: Client, people: dict[str, User], tenant: Tenant
    ) -> None:
        issued = self.issue(ga, lifetime="8h", max_uses="3")
        assert issued.status_code == 200 and issued["Cache-Control"] == "no-store"
        html = issued.content.decode()
        passcode = re.search(r'<code id="issued-pass">([a-z0-9-]+)</code>', html)
        assert passcode, html
        assert "it is shown only this once" in html
        assert "/t/contoso/sign-in/temporary-access-pass" in html
        page = ga.get(self.user_page()).content.decode()
        assert passcode.group(1) not in page
        listed = text(page)
        assert "Active" in listed and "0 of 3" in listed
        assert "by global-administrator@contoso.com" in listed
        event = AuditEvent.objects.get(activity="Admin registered security info")
        assert event.actor == "global-administrator@contoso.com"
        assert passcode.group(1) not in str(event.details)
        # It works.
        signed_in = sign_in_with_pass(
            tenant, "alice@contoso.com", passcode.group(1), Credential.Kind.BROWSER
        )
        assert signed_in.user.upn == "alice@contoso.com"

    def test_sending_the_same_form_again_issues_nothing(
        self, ga: Client, people: dict[str, User]
    ) -> None:
        page = ga.get(self.user_page()).content.decode()
        data = {
            "lifetime": "1h",
            "max_uses": "1",
            "after": re.search(r'name="after" value="(\d+)"', page).group(1),  # type: ignore[union-attr]
            "csrfmiddlewaretoken": csrf_token(page),
        }
        path = f"{self.user_page()}/temporary-access-passes"
        first = ga.post(path, data)
        assert first.status_code == 200 and 'id="issued-pass"' in first.content.decode()
        again = ga.post(path, data)
        assert again.status_code == 400
        assert 'id="issued-pass"' not in again.content.decode()
        assert "A pass was issued for this user after this form was shown" in (
            again.content.decode()
        )
        assert TemporaryAccessPass.objects.count() == 1

    @pytest.mark.parametrize(
        ("data", "field", "says"),
        [
            ({"lifetime": "5m"}, "lifetime", "lasts from 10 minutes to 30 days"),
            ({"lifetime": "soon"}, "lifetime", "is not a lifetime"),
            ({"max_uses": "101"}, "max_uses", "1 to 100 uses"),
        ],
    )
    def test_bad_input_is_shown_next_to_the_field(
        self, ga: Client, people: dict[str, User], data: dict[str, str], field: str, says: str
    ) -> None:
        refused = self.issue(ga, **data)
        assert refused.status_code == 400
        assert says in field_error(refused.content.decode(), field)
        assert not TemporaryAccessPass.objects.exists()

    def test_revoke(self, ga: Client, people: dict[str, User]) -> None:
        self.issue(ga)
        access_pass = TemporaryAccessPass.objects.get()
        revoked = send(
            ga,
            f"{self.user_page()}/temporary-access-passes",
            {"revoke": str(access_pass.pk)},
            form_page=self.user_page(),
        )
        assert revoked.status_code == 302
        page = text(ga.get(self.user_page()).content.decode())
        assert "The Temporary Access Pass was revoked: it no longer works." in page
        assert "Revoked" in page
        access_pass.refresh_from_db()
        assert access_pass.revoked_at is not None
        assert AuditEvent.objects.filter(activity="Admin deleted security info").exists()

    def test_role_rules(self, people: dict[str, User]) -> None:
        helpdesk = browser("helpdesk-administrator@contoso.com")
        # A helpdesk administrator may for a user without a role ...
        assert 'id="issue-pass"' in helpdesk.get(self.user_page()).content.decode()
        # ... not for a Global Administrator, nor for themselves.
        for upn, says in (
            ("global-administrator@contoso.com", "Your role does not allow you"),
            ("helpdesk-administrator@contoso.com", "Nobody can issue"),
        ):
            html = helpdesk.get(self.user_page(upn)).content.decode()
            assert says in html and 'id="issue-pass"' not in html
            refused = send(
                helpdesk,
                f"{self.user_page(upn)}/temporary-access-passes",
                {"lifetime": "1h", "max_uses": "1", "after": "0"},
                form_page=self.user_page(upn),
            )
            assert refused.status_code == 403 and says in refused.content.decode()
        assert not TemporaryAccessPass.objects.exists()

    def test_a_plain_user_is_refused(self, people: dict[str, User]) -> None:
        client = browser("carol@contoso.com")
        response = client.get(f"{self.user_page()}/temporary-access-passes")
        assert response.status_code == 403 and DENIED in response.content.decode()
