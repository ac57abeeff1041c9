"""The "Users" and "Groups" admin pages and the service desk on them: every administrator may
look, a plain user is refused without a hint of what is there, the eligibility panel says why a
user cannot reset, the caller is checked and the password reset from the user's page."""

from __future__ import annotations

import re
from typing import Any

import pytest
from django.core import mail
from django.test import Client

from sspr.audit.models import AuditEvent
from sspr.directory.groups import create_group
from sspr.directory.models import Source, Tenant, User
from sspr.hybrid.models import SyncedUser
from sspr.policy.sspr_policy import update_policy
from tests.conftest import ADMIN_ROLES, browser, csrf_token
from tests.reset_helpers import last_code_to, register_email_and_sms, reset_for_all

pytestmark = pytest.mark.django_db

USERS = "/t/contoso/admin/users/"
GROUPS = "/t/contoso/admin/groups/"
MOBILE = "+14255550101"
DENIED = "You do not have access to this page."


def page(client: Client, path: str, **params: str) -> tuple[int, str]:
    response = client.get(path, params)
    return response.status_code, response.content.decode()


def post(client: Client, path: str, **data: str) -> Any:
    """Send one of the page's forms, as freshly loaded, with its hidden fields."""
    html = client.get(path).content.decode()
    hidden = dict(re.findall(r'<input type="hidden" name="(reset_key)" value="([^"]*)">', html))
    return client.post(path, {**hidden, **data, "csrfmiddlewaretoken": csrf_token(html)})


def found(pattern: str, html: str) -> str:
    """The first group of `pattern` (or the whole match) in `html`, which must hold it."""
    match = re.search(pattern, html, re.S)
    assert match, f"{pattern!r} is not on the page"
    return match.group(1) if match.groups() else match.group(0)


def text(html: str) -> str:
    """What a person reads: the page without its tags, spaces collapsed."""
    return " ".join(re.sub(r"<[^>]+>", " ", html).split())


@pytest.fixture
def sspr_on(tenant: Tenant) -> Tenant:
    return reset_for_all(tenant, "email,sms,totp")


@pytest.fixture
def people(sspr_on: Tenant, make_user: Any, alice: User) -> dict[str, User]:
    register_email_and_sms(alice, MOBILE)
    found = {
        "alice": alice,
        "bob": make_user(sspr_on, "bob@contoso.com", display_name="Bob Baker"),
        "plain": make_user(sspr_on, "carol@contoso.com", display_name="Carol Plain"),
    }
    for role in ADMIN_ROLES:
        found[role] = make_user(sspr_on, f"{role}@contoso.com", roles=[role])
    return found


def user_url(upn: str) -> str:
    return f"{USERS}{upn}"


class TestWhoMayLook:
    @pytest.mark.parametrize("role", ADMIN_ROLES)
    def test_every_administrator_role_sees_users_and_groups(
        self, people: dict[str, User], role: str, sspr_on: Tenant
    ) -> None:
        group = create_group(sspr_on, "Sales", ["alice@contoso.com"])
        client = browser(f"{role}@contoso.com")
        for path in (USERS, user_url("alice@contoso.com"), GROUPS, f"{GROUPS}{group.pk}"):
            status, html = page(client, path)
            assert status == 200, path
            assert '<a href="/t/contoso/admin/users/" aria-current="page">Users</a>' in html or (
                '<a href="/t/contoso/admin/groups/" aria-current="page">Groups</a>' in html
            )

    def test_a_plain_user_is_refused_without_a_hint(
        self, people: dict[str, User], sspr_on: Tenant
    ) -> None:
        group = create_group(sspr_on, "Secret project", ["alice@contoso.com"])
        client = browser("carol@contoso.com")
        known = user_url("alice@contoso.com")
        for path in (USERS, known, user_url("nobody@contoso.com"), GROUPS, f"{GROUPS}{group.pk}"):
            status, html = page(client, path)
            assert status == 403, path
            assert DENIED in html
            assert "alice" not in html and "Secret project" not in html
        refused = client.post(known, {"action": "reset-password"})
        assert refused.status_code == 403
        assert not AuditEvent.objects.filter(activity="Reset password (by admin)").exists()

    def test_signed_out_visitors_are_sent_to_sign_in(self, people: dict[str, User]) -> None:
        response = Client().get(USERS)
        assert response.status_code == 302 and response["Location"] == "/t/contoso/sign-in"

    def test_tenants_are_isolated(
        self, people: dict[str, User], other_tenant: Tenant, make_user: Any
    ) -> None:
        make_user(other_tenant, "dave@fabrikam.com", display_name="Dave Fabrikam")
        client = browser("global-administrator@contoso.com")
        status, html = page(client, user_url("dave@fabrikam.com"))
        assert status == 404 and "dave" not in html.lower().replace("dave@fabrikam.com", "")
        assert "Dave" not in page(client, USERS, q="dave")[1]
        # Another organisation's pages need a sign-in there.
        response = client.get("/t/fabrikam/admin/users/")
        assert response.status_code == 302 and response["Location"] == "/t/fabrikam/sign-in"


class TestUsersList:
    def test_search_by_name_user_name_or_email(self, people: dict[str, User]) -> None:
        client = browser("helpdesk-administrator@contoso.com")
        by_family_name = text(page(client, USERS, q="anders")[1])
        assert "alice@contoso.com" in by_family_name and "bob@contoso.com" not in by_family_name
        by_display_name = text(page(client, USERS, q="Baker")[1])
        assert "bob@contoso.com" in by_display_name and "alice@contoso.com" not in by_display_name
        by_upn = text(page(client, USERS, q="carol@")[1])
        assert "Carol Plain" in by_upn and "Bob Baker" not in by_upn
        status, html = page(client, USERS, q="zebra")
        assert status == 200 and "No user matches “zebra”." in text(html)

    def test_the_table_is_labelled_and_shows_the_source(
        self, people: dict[str, User], alice: User
    ) -> None:
        User.objects.filter(pk=alice.pk).update(source=Source.SYNCED)
        html = page(browser("helpdesk-administrator@contoso.com"), USERS)[1]
        assert '<label for="q">Search by name, user name or email</label>' in html
        assert "<caption" in html and '<th scope="col">Source</th>' in html
        row = re.search(
            r"<tr>\s*<th scope=\"row\"><a href=\"[^\"]*alice@contoso.com\".*?</tr>", html, re.S
        )
        assert row and "Synced from on-premises" in row.group(0)

    def test_paging_keeps_the_search(
        self, people: dict[str, User], make_user: Any, sspr_on: Tenant
    ) -> None:
        for n in range(55):
            make_user(sspr_on, f"temp{n:02d}@contoso.com", password=None)
        client = browser("global-administrator@contoso.com")
        first = page(client, USERS, q="temp")[1]
        assert "1 to 50 of 55" in text(first)
        assert 'href="/t/contoso/admin/users/?q=temp&amp;page=2" rel="next"' in first
        second = text(page(client, USERS, q="temp", page="2")[1])
        assert "51 to 55 of 55" in second and "temp54@contoso.com" in second


class TestUserPage:
    def test_the_account_at_a_glance_with_masked_methods(
        self, people: dict[str, User], sspr_on: Tenant
    ) -> None:
        create_group(sspr_on, "Sales", ["alice@contoso.com"])
        html = page(browser("helpdesk-administrator@contoso.com"), user_url("alice@contoso.com"))[1]
        shown = text(html)
        assert "Source Cloud" in shown and "Account Enabled" in shown
        assert "None: a user without an administrator role" in shown
        assert ">Sales</a>" in html
        methods = re.search(r'<table id="methods">.*?</table>', html, re.S)
        assert methods is not None
        assert "a***@contoso.com" in methods.group(0) and "+1 ••• ••• ••01" in methods.group(0)
        assert "alice@contoso.com" not in methods.group(0)
        assert MOBILE not in html
        assert "Sign-in lock Not locked" in shown

    def test_the_eligibility_panel_says_why_not(self, people: dict[str, User]) -> None:
        html = page(browser("password-administrator@contoso.com"), user_url("bob@contoso.com"))[1]
        panel = text(found(r'<section id="eligibility".*?</section>', html))
        assert "No. bob@contoso.com cannot reset their password right now." in panel
        assert "1 method required, 0 registered that count (none)." in panel
        assert "Methods: stops the reset." in panel and "Plan: does not stop a reset." in panel

    def test_the_eligibility_panel_says_yes(self, people: dict[str, User]) -> None:
        html = page(browser("helpdesk-administrator@contoso.com"), user_url("alice@contoso.com"))[1]
        assert "Yes. alice@contoso.com can reset their password now" in text(html)

    def test_synced_and_locked_accounts(
        self, people: dict[str, User], alice: User, make_api: Any
    ) -> None:
        for attempt in range(10):
            make_api().sign_in("contoso", alice.upn, f"Wrong-Password-{attempt}")
        User.objects.filter(pk=alice.pk).update(
            source=Source.SYNCED, on_prem_anchor="a1", on_prem_dn="CN=Alice,DC=contoso,DC=com"
        )
        SyncedUser.objects.create(user=alice, tenant=alice.tenant, anchor="a1", locked_out=True)
        shown = text(page(browser("global-administrator@contoso.com"), user_url(alice.upn))[1])
        assert "Synced from on-premises (CN=Alice,DC=contoso,DC=com)" in shown
        assert "Locked by smart lockout until" in shown
        assert "locked out in the on-premises directory (as of the last sync)" in shown
        assert "No on-premises agent can write the password back right now." in shown

    def test_an_unknown_user_is_a_404_page(self, people: dict[str, User]) -> None:
        status, html = page(browser("global-administrator@contoso.com"), user_url("x@contoso.com"))
        assert status == 404 and "There is no such user in this organisation." in html


class TestServiceDesk:
    def test_verify_the_caller_then_reset_and_see_the_password_once(
        self,
        people: dict[str, User],
        alice: User,
        make_api: Any,
        django_capture_on_commit_callbacks: Any,
    ) -> None:
        client = browser("helpdesk-administrator@contoso.com")
        url = user_url(alice.upn)
        assert "Not verified." in text(page(client, url)[1])

        sent = post(client, url, action="send-code", method="sms")
        assert sent.status_code == 302 and sent["Location"] == url
        after = text(page(client, url)[1])
        assert "A code was sent to +1 ••• ••• ••01. Ask the caller to read it out." in after
        assert "Not verified yet." in after
        html = page(client, url)[1]
        vid = found(r'name="verification" value="([^"]+)"', html)
        code = last_code_to(MOBILE)

        wrong = post(client, url, action="check-code", verification=vid, code="12345678")
        assert wrong.status_code == 422
        assert "the caller is not verified. 4 attempts left." in text(wrong.content.decode())

        right = post(client, url, action="check-code", verification=vid, code=code)
        assert right.status_code == 302
        assert "Verified: the caller read out the code sent to +1 ••• ••• ••01" in text(
            page(client, url)[1]
        )

        with django_capture_on_commit_callbacks(execute=True):
            reset = post(client, url, action="reset-password")
        assert reset.status_code == 200 and reset["Cache-Control"] == "no-store"
        temporary = found(r'<code id="temporary-password">([^<]+)</code>', reset.content.decode())
        assert "shown only this once" in text(reset.content.decode())
        # Once: the next look at the page does not show it again.
        assert temporary not in page(client, url)[1]
        assert "by helpdesk-administrator@contoso.com" in text(page(client, url)[1])
        signed_in = make_api().sign_in("contoso", alice.upn, temporary)
        assert signed_in.status_code == 201 and signed_in.json()["must_change_password"] is True
        [notice] = [m for m in mail.outbox if "An administrator reset your" in m.subject]
        assert notice.to == [alice.upn] and temporary not in notice.body
        event = AuditEvent.objects.get(activity="Reset password (by admin)")
        assert event.details["caller_verified_with"] == "sms"
        assert temporary not in str(event.details)

    def test_a_helpdesk_administrator_cannot_reset_a_global_administrator(
        self, people: dict[str, User]
    ) -> None:
        client = browser("helpdesk-administrator@contoso.com")
        target = people["global-administrator"]
        url = user_url(target.upn)
        refusal = (
            "As Helpdesk Administrator you cannot reset the password of a user who holds the "
            "Global Administrator role. A Global Administrator can."
        )
        html = page(client, url)[1]
        assert refusal in text(html) and 'id="reset-form"' not in html
        before = User.objects.get(pk=target.pk).password_hash
        refused = post(client, url, action="reset-password")
        assert refused.status_code == 403 and refusal in text(refused.content.decode())
        assert User.objects.get(pk=target.pk).password_hash == before

    def test_sending_the_same_reset_form_again_resets_nobody(
        self, people: dict[str, User], alice: User
    ) -> None:
        """What a reload of the answer does: the form goes again, and is refused."""
        client = browser("global-administrator@contoso.com")
        url = user_url(alice.upn)
        html = client.get(url).content.decode()
        form = {
            "action": "reset-password",
            "reset_key": found(r'name="reset_key" value="([^"]+)"', html),
            "csrfmiddlewaretoken": csrf_token(html),
        }
        first = client.post(url, form)
        assert first.status_code == 200 and 'id="temporary-password"' in first.content.decode()
        after_first = User.objects.get(pk=alice.pk).password_hash
        again = client.post(url, form)
        assert again.status_code == 409
        assert 'id="temporary-password"' not in again.content.decode()
        assert "This form was already sent" in text(again.content.decode())
        assert User.objects.get(pk=alice.pk).password_hash == after_first
        assert AuditEvent.objects.filter(activity="Reset password (by admin)").count() == 1

    def test_a_role_that_does_not_reset_passwords_is_told_so(self, people: dict[str, User]) -> None:
        client = browser("authentication-policy-administrator@contoso.com")
        html = text(page(client, user_url("bob@contoso.com"))[1])
        assert "Your role does not include resetting passwords" in html

    def test_a_synced_user_with_no_agent_is_not_changed(
        self, people: dict[str, User], sspr_on: Tenant
    ) -> None:
        update_policy(sspr_on, {"writeback_enabled": True}, actor="test")
        bob = people["bob"]
        User.objects.filter(pk=bob.pk).update(source=Source.SYNCED, on_prem_anchor="b1")
        before = User.objects.get(pk=bob.pk).password_hash
        client = browser("global-administrator@contoso.com")
        refused = post(client, user_url(bob.upn), action="reset-password")
        shown = text(refused.content.decode())
        assert refused.status_code == 503
        assert "Nothing was changed: bob@contoso.com comes from the on-premises directory" in shown
        assert "no on-premises agent is connected" in shown
        assert User.objects.get(pk=bob.pk).password_hash == before
        assert 'id="temporary-password"' not in refused.content.decode()

    def test_a_caller_without_a_method_to_send_to(self, people: dict[str, User]) -> None:
        html = text(
            page(browser("global-administrator@contoso.com"), user_url("bob@contoso.com"))[1]
        )
        assert "The user has registered no email address or phone number a code can be sent to" in (
            html
        )


class TestGroupsPages:
    def test_groups_with_source_members_and_scope(
        self, people: dict[str, User], sspr_on: Tenant
    ) -> None:
        create_group(sspr_on, "Sales", ["alice@contoso.com", "bob@contoso.com"])
        everyone = create_group(sspr_on, "Everyone", ["carol@contoso.com"], ["Sales"])
        update_policy(
            sspr_on, {"enabled_for": "selected", "enabled_groups": "Everyone"}, actor="test"
        )
        client = browser("helpdesk-administrator@contoso.com")
        listing = page(client, GROUPS)[1]
        assert "<caption" in listing and '<th scope="col">Source</th>' in listing
        rows = text(listing)
        assert "Everyone Cloud 1 1 Enabled for this group" in rows
        assert "Sales Cloud 2 0 Enabled (nested in an enabled group)" in rows

        detail = page(client, f"{GROUPS}{everyone.pk}")[1]
        shown = text(detail)
        assert "1 direct, 3 counting nested groups" in shown
        assert ">Sales</a>" in detail
        assert "Carol Plain carol@contoso.com Cloud Enabled" in shown
        assert "alice@contoso.com" not in shown  # a member of the nested group, not a direct one

    def test_an_unknown_or_foreign_group_is_a_404(
        self, people: dict[str, User], other_tenant: Tenant
    ) -> None:
        foreign = create_group(other_tenant, "Fabrikam staff")
        client = browser("global-administrator@contoso.com")
        status, html = page(client, f"{GROUPS}{foreign.pk}")
        assert status == 404 and "Fabrikam staff" not in html
