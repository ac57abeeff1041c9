"""Rollout materials: the announcement and reminder emails and the poster say what this
organisation set up, reach the right people once each, and only policy managers send them."""

from __future__ import annotations

import email
import email.policy
import json
import re
import socket
from collections.abc import Iterator
from dataclasses import dataclass, field
from email.message import EmailMessage
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session
from django.conf import settings

from sspr.audit.models import AuditEvent
from sspr.directory.groups import create_group, get_group
from sspr.directory.models import Tenant, User
from sspr.errors import Forbidden, InvalidValue, NotFound
from sspr.messaging.models import OutboxMessage
from sspr.methods.models import RegisteredMethod
from sspr.policy.models import SsprPolicy
from sspr.policy.sspr_policy import update_policy
from sspr.rollout import materials, sending
from sspr.rollout.recipients import group_members, not_registered
from tests.conftest import Api, browser, csrf_token

pytestmark = pytest.mark.django_db

PAGE = "/t/contoso/admin/rollout"
ACTIVITY = "Send rollout announcement"
REGISTER = f"{settings.BASE_URL}/t/contoso/register"
RESET = f"{settings.BASE_URL}/t/contoso/reset"
HOSTILE_NAME = 'Contoso <script>alert(1)</script> & "Partners"'


def register(user: User, *methods: str) -> None:
    for method in methods:
        RegisteredMethod.objects.create(user=user, method=method, state="active", value=user.upn)


def outbox_to(address: str) -> list[OutboxMessage]:
    return list(OutboxMessage.objects.filter(to=address))


@pytest.fixture(autouse=True)
def outbox(settings: Any) -> None:
    """The embedded default: messages are kept in the outbox table, where `sspr outbox` reads."""
    settings.EMAIL_BACKEND = "sspr.messaging.outbox.OutboxEmailBackend"


@pytest.fixture
def people(tenant: Tenant, make_user: Any) -> dict[str, User]:
    """Staff holds ann directly and bob and cat through Engineering, which nests Platform (which
    holds cat and ann again) and Staff itself (a cycle). dan is disabled; eve is in no group.
    Reset is on for Staff; ann registered, bob did not, cat started (a pending method)."""
    users = {
        "ga": make_user(tenant, "ga@contoso.com", roles=["global-administrator"]),
        "apa": make_user(tenant, "apa@contoso.com", roles=["authentication-policy-administrator"]),
        "help": make_user(tenant, "help@contoso.com", roles=["helpdesk-administrator"]),
        "ann": make_user(tenant, "ann@contoso.com", display_name="Ann Lee"),
        "bob": make_user(tenant, "bob@contoso.com", mail="bob.private@example.org"),
        "cat": make_user(tenant, "cat@contoso.com"),
        "dan": make_user(tenant, "dan@contoso.com"),
        "eve": make_user(tenant, "eve@contoso.com"),
    }
    User.objects.filter(pk=users["dan"].pk).update(enabled=False)
    register(users["ann"], "email")
    RegisteredMethod.objects.create(user=users["cat"], method="sms", value="+14255550100")
    create_group(tenant, "Platform", ["cat@contoso.com", "ann@contoso.com"])
    create_group(tenant, "Engineering", ["bob@contoso.com", "dan@contoso.com"], ["Platform"])
    create_group(tenant, "Staff", ["ann@contoso.com"], ["Engineering"])
    get_group(tenant, "Platform").member_groups.add(get_group(tenant, "Staff"))
    update_policy(
        tenant,
        {
            "enabled_for": "selected",
            "enabled_groups": ["Staff"],
            "methods_enabled": ["email", "sms", "questions"],
            "helpdesk_url": "https://help.contoso.com/passwords",
        },
        actor="setup",
    )
    return users


class TestContent:
    def test_the_announcement_names_the_organisations_links_and_methods(
        self, people: Any, tenant: Tenant
    ) -> None:
        """Text and HTML both carry the registration and reset addresses, the methods the
        policy offers and how many a reset needs, and the helpdesk."""
        mail = materials.render_email("announcement", tenant)
        assert mail.subject == "Reset your own Contoso password: register now"
        for body in (mail.text, mail.html):
            assert REGISTER in body and RESET in body
            for label in ("Email", "Text message to mobile phone", "Security questions"):
                assert label in body
            assert "Authenticator app code" not in body  # not offered by this policy
            assert "register at least one of these methods:" in body
            assert "help.contoso.com/passwords" in body
            assert "Until you have registered, you will be asked" in body
        assert f'href="{REGISTER}"' in mail.html and f'href="{RESET}"' in mail.html
        assert '<a href="https://help.contoso.com/passwords"' in mail.html

    def test_the_materials_follow_the_policy(self, people: Any, tenant: Tenant) -> None:
        update_policy(
            tenant,
            {
                "methods_enabled": ["email", "sms", "totp"],
                "methods_required": 2,
                "registration_required": False,
                "helpdesk_url": "",
            },
            actor="setup",
        )
        mail = materials.render_email("reminder", tenant)
        assert mail.subject == "Reminder: register for Contoso password reset"
        assert "register at least 2 of these methods" in mail.text
        assert "Authenticator app code" in mail.text and "Security questions" not in mail.text
        assert "Until you have registered" not in mail.text
        assert "helpdesk:" not in mail.text and 'id="helpdesk"' not in mail.html

    def test_the_html_escapes_the_organisations_name(self, people: Any, tenant: Tenant) -> None:
        tenant.name = HOSTILE_NAME + "\r\nBcc: everyone@example.org"
        tenant.save()
        mail = materials.render_email("announcement", tenant)
        assert "<script>" not in mail.html
        assert "Contoso &lt;script&gt;alert(1)&lt;/script&gt; &amp; &quot;Partners&quot;" in (
            mail.html
        )
        assert HOSTILE_NAME in mail.text  # plain text is not HTML: shown as it is
        # A header is one line, whatever the name holds.
        assert "\n" not in mail.subject and "\r" not in mail.subject
        parsed = email.message_from_bytes(mail.eml(), policy=email.policy.default)
        assert parsed["Bcc"] is None

    def test_a_helpdesk_value_that_is_no_address_is_never_a_link(
        self, people: Any, tenant: Tenant
    ) -> None:
        hostile = "javascript://@x%0aalert(1)"
        with pytest.raises(InvalidValue):  # the policy refuses it today ...
            update_policy(tenant, {"helpdesk_url": hostile}, actor="setup")
        # ... and one stored before that check still never becomes a link.
        SsprPolicy.objects.filter(tenant=tenant).update(helpdesk_url=hostile)
        mail = materials.render_email("announcement", tenant)
        assert "javascript:" not in re.findall(r'href="([^"]*)"', mail.html)[-1]
        assert all(not h.startswith("javascript") for h in re.findall(r'href="([^"]*)"', mail.html))
        update_policy(tenant, {"helpdesk_url": "helpdesk@contoso.com"}, actor="setup")
        html = materials.render_email("announcement", tenant).html
        assert 'href="mailto:helpdesk@contoso.com"' in html

    def test_greeting_by_name_in_the_chosen_language(
        self, people: dict[str, User], tenant: Tenant
    ) -> None:
        mail = materials.render_email("announcement", tenant, language="de", user=people["ann"])
        assert (
            mail.subject
            == "Setzen Sie Ihr Contoso-Passwort selbst zurück: Registrieren Sie sich jetzt"
        )
        assert mail.text.startswith("Hallo Ann Lee,")
        assert '<html lang="de">' in mail.html
        assert REGISTER in mail.text and "E-Mail" in mail.text
        assert materials.render_email("announcement", tenant).text.startswith("Hello,")

    def test_the_eml_is_a_draft_with_text_and_html(self, people: Any, tenant: Tenant) -> None:
        mail = materials.render_email("reminder", tenant)
        parsed = email.message_from_bytes(mail.eml(), policy=email.policy.default)
        assert isinstance(parsed, EmailMessage)
        assert parsed["X-Unsent"] == "1"
        assert parsed["Subject"] == mail.subject
        assert parsed.get_content_type() == "multipart/alternative"
        plain = parsed.get_body(("plain",))
        rich = parsed.get_body(("html",))
        assert plain is not None and rich is not None
        assert REGISTER in plain.get_content() and REGISTER in rich.get_content()

    def test_the_poster_has_a_qr_code_for_each_link(self, people: Any, tenant: Tenant) -> None:
        poster = materials.render_poster(tenant)
        for svg, url in ((poster.register_qr, REGISTER), (poster.reset_qr, RESET)):
            assert svg.startswith("<svg") and "<title>" in svg
            # The Content-Security-Policy forbids inline style: the code must not need any.
            assert "style=" not in svg
            assert svg == materials.qr_svg(url, svg[svg.index("<title>") + 7 : svg.index("</")])
        assert poster.register_qr != poster.reset_qr

    def test_an_unknown_template_or_language_is_refused(self, tenant: Tenant) -> None:
        with pytest.raises(InvalidValue):
            materials.render_email("invitation", tenant)
        with pytest.raises(InvalidValue):
            materials.render_email("announcement", tenant, language="xx")


class TestRecipients:
    def test_a_group_reaches_every_nested_member_once(
        self, people: dict[str, User], tenant: Tenant
    ) -> None:
        """Direct and nested members, through a cycle; never the disabled account."""
        upns = [u.upn for u in group_members(get_group(tenant, "Staff"))]
        assert upns == ["ann@contoso.com", "bob@contoso.com", "cat@contoso.com"]

    def test_a_send_puts_one_message_per_member_in_the_outbox(
        self, people: dict[str, User], tenant: Tenant
    ) -> None:
        result = sending.send(tenant, "announcement", "Staff", people["ga"])
        assert (result.recipients, result.sent, result.failed) == (3, 3, 0)
        for address in ("ann@contoso.com", "bob.private@example.org", "cat@contoso.com"):
            [message] = outbox_to(address)
            assert message.subject == "Reset your own Contoso password: register now"
            assert REGISTER in message.body and RESET in message.body
        assert outbox_to("ann@contoso.com")[0].body.startswith("Hello Ann Lee,")
        for nobody in ("dan@contoso.com", "eve@contoso.com", "bob@contoso.com", "ga@contoso.com"):
            assert outbox_to(nobody) == []

    def test_the_reminder_goes_only_to_users_in_scope_who_have_not_registered(
        self, people: dict[str, User], tenant: Tenant, make_user: Any
    ) -> None:
        """ann registered; bob did not; cat's method is pending; dan is disabled; eve and the
        administrators are not in scope."""
        assert [u.upn for u in not_registered(tenant)] == ["bob@contoso.com", "cat@contoso.com"]
        result = sending.send(tenant, "reminder", "", people["apa"])
        assert (result.group, result.sent) == ("", 2)
        assert {m.to for m in OutboxMessage.objects.all()} == {
            "bob.private@example.org",
            "cat@contoso.com",
        }

    def test_an_administrator_needs_two_methods_to_count_as_registered(
        self, people: dict[str, User], tenant: Tenant
    ) -> None:
        update_policy(tenant, {"enabled_for": "all"}, actor="setup")
        register(people["help"], "email")
        register(people["apa"], "email", "sms")
        register(people["ga"], "email", "questions")  # questions never count for admins
        register(people["eve"], "sms")
        upns = {u.upn for u in not_registered(tenant)}
        assert upns == {"help@contoso.com", "ga@contoso.com", "bob@contoso.com", "cat@contoso.com"}

    def test_a_reminder_to_a_group_stays_inside_it(
        self, people: dict[str, User], tenant: Tenant
    ) -> None:
        """cat is in scope through Staff and still has to register; eve is not in scope."""
        pilot = create_group(tenant, "Pilot", ["cat@contoso.com", "eve@contoso.com"])
        assert [u.upn for u in not_registered(tenant, pilot)] == ["cat@contoso.com"]

    def test_nobody_is_reminded_while_reset_is_off(
        self, people: dict[str, User], tenant: Tenant
    ) -> None:
        update_policy(tenant, {"enabled_for": "none"}, actor="setup")
        assert not_registered(tenant) == []

    def test_the_announcement_needs_a_group_that_exists(
        self, people: dict[str, User], tenant: Tenant
    ) -> None:
        with pytest.raises(InvalidValue):
            sending.send(tenant, "announcement", "", people["ga"])
        with pytest.raises(NotFound):
            sending.send(tenant, "announcement", "Nobody", people["ga"])
        assert OutboxMessage.objects.count() == 0
        assert not AuditEvent.objects.filter(activity=ACTIVITY).exists()

    def test_a_helpdesk_administrator_cannot_send(
        self, people: dict[str, User], tenant: Tenant
    ) -> None:
        with pytest.raises(Forbidden):
            sending.send(tenant, "announcement", "Staff", people["help"])
        assert OutboxMessage.objects.count() == 0

    def test_the_send_is_audited_without_addresses(
        self, people: dict[str, User], tenant: Tenant
    ) -> None:
        sending.send(tenant, "announcement", "Staff", people["ga"], language="fr")
        [event] = AuditEvent.objects.filter(activity=ACTIVITY)
        assert event.actor == "ga@contoso.com" and event.target == "Staff"
        assert event.result == "success"
        assert event.details == {
            "template": "announcement",
            "group": "Staff",
            "language": "fr",
            "recipients": 3,
            "sent": 3,
            "failed": 0,
        }
        recorded = json.dumps(
            [event.actor, event.target, event.reason, event.details], ensure_ascii=False
        )
        for user in ("ann", "bob", "cat"):
            assert people[user].upn not in recorded
            assert people[user].notification_address not in recorded


@dataclass
class Collector:
    """An aiosmtpd handler that keeps every message it is given."""

    messages: list[tuple[list[str], EmailMessage]] = field(default_factory=list)
    refuse: str = ""

    async def handle_RCPT(
        self, server: SMTP, session: Session, envelope: Envelope, address: str, options: Any
    ) -> str:
        if address == self.refuse:
            return "550 No such mailbox"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        parsed = email.message_from_bytes(
            envelope.original_content or b"", policy=email.policy.default
        )
        assert isinstance(parsed, EmailMessage)
        self.messages.append((list(envelope.rcpt_tos), parsed))
        return "250 Message accepted for delivery"


@pytest.fixture
def smtp_server(settings: Any) -> Iterator[Collector]:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = int(probe.getsockname()[1])
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT = "127.0.0.1", port
    settings.EMAIL_HOST_USER = settings.EMAIL_HOST_PASSWORD = ""
    settings.EMAIL_USE_TLS = settings.EMAIL_USE_SSL = False
    settings.EMAIL_TIMEOUT = 5
    collector = Collector()
    controller = Controller(collector, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield collector
    finally:
        controller.stop()


class TestSmtp:
    def test_each_member_gets_text_and_html_over_smtp(
        self, people: dict[str, User], tenant: Tenant, smtp_server: Collector
    ) -> None:
        result = sending.send(tenant, "announcement", "Staff", people["ga"])
        assert result.sent == 3
        assert sorted(r for rcpts, _ in smtp_server.messages for r in rcpts) == [
            "ann@contoso.com",
            "bob.private@example.org",
            "cat@contoso.com",
        ]
        _, message = smtp_server.messages[0]
        assert message.get_content_type() == "multipart/alternative"
        html = message.get_body(("html",))
        assert html is not None and f'href="{REGISTER}"' in html.get_content()

    def test_a_refused_address_stops_no_other(
        self, people: dict[str, User], tenant: Tenant, smtp_server: Collector
    ) -> None:
        smtp_server.refuse = "bob.private@example.org"
        result = sending.send(tenant, "announcement", "Staff", people["ga"])
        assert (result.sent, result.failed) == (2, 1)
        [event] = AuditEvent.objects.filter(activity=ACTIVITY)
        assert event.details["failed"] == 1 and event.result == "success"


class TestPage:
    def test_an_administrator_finds_previews_and_downloads(self, people: Any) -> None:
        client = browser("help@contoso.com")
        home = client.get("/t/contoso/admin/").content.decode()
        assert f'href="{PAGE}"' in home and "Rollout materials" in home
        response = client.get(PAGE)
        assert response.status_code == 200
        html = response.content.decode()
        assert REGISTER in html and RESET in html
        for kind in ("announcement", "reminder"):
            assert f'src="{PAGE}/{kind}/preview?language=en"' in html
            assert 'sandbox="allow-popups allow-popups-to-escape-sandbox"' in html
            for fmt in ("eml", "html", "txt"):
                assert f'href="{PAGE}/{kind}.{fmt}?language=en"' in html
        assert f'href="{PAGE}/poster?language=en&amp;paper=a4"' in html
        assert "2 users in scope have not registered enough methods yet." in html
        # The page keeps the site's policy: no inline script or style of its own.
        assert "<script" not in html and "style=" not in html and "<style" not in html
        assert "style-src 'self'" in response["Content-Security-Policy"]

    def test_the_preview_is_sandboxed_and_only_framed_by_this_site(
        self, people: Any, tenant: Tenant
    ) -> None:
        tenant.name = HOSTILE_NAME
        tenant.save()
        response = browser("help@contoso.com").get(f"{PAGE}/announcement/preview?language=es")
        assert response.status_code == 200
        policy = response["Content-Security-Policy"]
        assert "default-src 'none'" in policy and "sandbox" in policy
        assert "frame-ancestors 'self'" in policy and "script-src" not in policy
        assert response["X-Frame-Options"] == "SAMEORIGIN"
        html = response.content.decode()
        assert "<script>" not in html and "&lt;script&gt;" in html
        assert '<html lang="es">' in html and "Restablezca" in html

    def test_downloads(self, people: Any) -> None:
        client = browser("help@contoso.com")
        eml = client.get(f"{PAGE}/announcement.eml?language=fr")
        assert eml.status_code == 200 and eml["Content-Type"] == "message/rfc822"
        assert eml["Content-Disposition"] == (
            'attachment; filename="contoso-password-reset-announcement-fr.eml"'
        )
        parsed = email.message_from_bytes(eml.content, policy=email.policy.default)
        assert "Contoso" in str(parsed["Subject"]) and parsed["X-Unsent"] == "1"
        text = client.get(f"{PAGE}/reminder.txt")
        assert text["Content-Type"].startswith("text/plain") and REGISTER in text.content.decode()
        poster = client.get(f"{PAGE}/poster.html")
        assert poster["Content-Disposition"].endswith('-poster-en.html"')
        document = poster.content.decode()
        assert "<style>" in document and "@page" in document and document.count("<svg") == 2
        assert client.get(f"{PAGE}/poster.eml").status_code == 404
        assert client.get(f"{PAGE}/invitation/preview").status_code == 404

    def test_the_poster_is_printable_and_csp_safe(self, people: Any) -> None:
        response = browser("help@contoso.com").get(f"{PAGE}/poster?language=de&paper=letter")
        assert response.status_code == 200
        assert response["Content-Language"] == "de"
        html = response.content.decode()
        assert '<html lang="de">' in html and "Passwort vergessen?" in html
        assert html.count("<svg") == 2 and REGISTER in html and RESET in html
        assert 'class="poster-page paper-letter"' in html and "Print this page" in html
        assert "style=" not in html and "<style" not in html
        assert '<script src="/static/sspr/print.js" defer></script>' in html
        assert "help.contoso.com/passwords" in html

    def test_a_policy_manager_sends_and_sees_how_many(self, people: Any) -> None:
        client = browser("apa@contoso.com")
        token = csrf_token(client.get(PAGE).content.decode())
        sent = client.post(
            PAGE,
            {
                "template": "announcement",
                "group": "Engineering",
                "language": "en",
                "csrfmiddlewaretoken": token,
            },
        )
        assert sent.status_code == 302 and sent["Location"] == f"{PAGE}?language=en"
        page = client.get(sent["Location"]).content.decode()
        assert "Announcement sent to" in page and '<span id="sent-count">3</span>' in page
        assert "of Engineering" in page
        assert OutboxMessage.objects.count() == 3
        # Shown once: a reload does not repeat the message (and sends nothing).
        assert 'id="send-result"' not in client.get(PAGE).content.decode()
        assert AuditEvent.objects.filter(activity=ACTIVITY, actor="apa@contoso.com").count() == 1

    def test_a_send_without_the_forms_token_is_refused(self, people: Any) -> None:
        client = browser("ga@contoso.com")
        refused = client.post(
            PAGE, {"template": "announcement", "group": "Staff", "language": "en"}
        )
        assert refused.status_code == 403
        assert OutboxMessage.objects.count() == 0

    def test_a_helpdesk_administrator_can_look_but_not_send(self, people: Any) -> None:
        client = browser("help@contoso.com")
        html = client.get(PAGE).content.decode()
        assert "Only Global Administrators and Authentication Policy" in html
        assert re.search(r'<button type="submit" class="primary" id="send-button" disabled', html)
        refused = client.post(
            PAGE,
            {
                "template": "announcement",
                "group": "Staff",
                "language": "en",
                "csrfmiddlewaretoken": csrf_token(html),
            },
        )
        assert refused.status_code == 403
        assert OutboxMessage.objects.count() == 0
        assert not AuditEvent.objects.filter(activity=ACTIVITY).exists()

    def test_a_refused_send_says_why(self, people: Any) -> None:
        client = browser("ga@contoso.com")
        token = csrf_token(client.get(PAGE).content.decode())
        response = client.post(
            PAGE,
            {
                "template": "announcement",
                "group": "",
                "language": "en",
                "csrfmiddlewaretoken": token,
            },
        )
        assert response.status_code == 422
        assert "Nothing was sent. Choose the group" in response.content.decode()

    @pytest.mark.parametrize(
        "path",
        [
            PAGE,
            f"{PAGE}/announcement/preview",
            f"{PAGE}/reminder.eml",
            f"{PAGE}/poster",
            f"{PAGE}/poster.html",
        ],
    )
    def test_a_plain_user_is_refused(self, people: Any, path: str) -> None:
        response = browser("eve@contoso.com").get(path)
        assert response.status_code == 403
        assert "Rollout" not in response.content.decode()

    def test_a_plain_user_cannot_send(self, people: Any) -> None:
        client = browser("eve@contoso.com")
        token = csrf_token(client.get("/t/contoso/account").content.decode())
        refused = client.post(
            PAGE,
            {
                "template": "announcement",
                "group": "Staff",
                "language": "en",
                "csrfmiddlewaretoken": token,
            },
        )
        assert refused.status_code == 403
        assert OutboxMessage.objects.count() == 0


class TestApi:
    def test_an_administrator_reads_an_email_as_html_or_text(self, people: Any, api: Api) -> None:
        api.sign_in("contoso", "help@contoso.com")
        html = api.call("GET", "/tenants/contoso/rollout/announcement?format=html")
        assert html.status_code == 200 and html["Content-Type"].startswith("text/html")
        assert f'href="{REGISTER}"' in html.content.decode()
        assert "sandbox" in html["Content-Security-Policy"]
        text = api.call("GET", "/tenants/contoso/rollout/reminder?format=text&language=fr")
        assert text.status_code == 200 and text["Content-Type"].startswith("text/plain")
        assert RESET in text.content.decode() and text["Content-Language"] == "fr"
        assert "Contoso" in text["X-Subject"]

    def test_bad_requests_are_json(self, people: Any, api: Api) -> None:
        api.sign_in("contoso", "ga@contoso.com")
        for path in (
            "/tenants/contoso/rollout/invitation",
            "/tenants/contoso/rollout/announcement?format=pdf",
            "/tenants/contoso/rollout/announcement?language=xx",
        ):
            response = api.call("GET", path)
            assert response.status_code == 422, path
            assert response.json()["code"] == "invalid_request"
        assert api.call("GET", "/tenants/nowhere/rollout/announcement").status_code == 404

    def test_a_policy_manager_sends_to_a_group(self, people: Any, api: Api) -> None:
        api.sign_in("contoso", "ga@contoso.com")
        response = api.call(
            "POST", "/tenants/contoso/rollout/sends", {"template": "announcement", "group": "Staff"}
        )
        assert response.status_code == 202, response.content
        assert response.json() == {
            "template": "announcement",
            "group": "Staff",
            "recipients": 3,
            "sent": 3,
            "failed": 0,
        }
        reminder = api.call("POST", "/tenants/contoso/rollout/sends", {"template": "reminder"})
        assert reminder.status_code == 202 and reminder.json()["sent"] == 2
        assert OutboxMessage.objects.count() == 5

    def test_sending_is_refused_with_reasons(self, people: Any, make_api: Any) -> None:
        helpdesk, plain, ga = make_api(), make_api(), make_api()
        helpdesk.sign_in("contoso", "help@contoso.com")
        plain.sign_in("contoso", "eve@contoso.com")
        ga.sign_in("contoso", "ga@contoso.com")
        body = {"template": "announcement", "group": "Staff"}
        for client in (helpdesk, plain):
            refused = client.call("POST", "/tenants/contoso/rollout/sends", body)
            assert refused.status_code == 403 and refused.json()["code"] == "forbidden"
        assert plain.call("GET", "/tenants/contoso/rollout/announcement").status_code == 403
        missing = ga.call("POST", "/tenants/contoso/rollout/sends", {**body, "group": "Nobody"})
        assert missing.status_code == 404 and missing.json()["code"] == "not_found"
        no_group = ga.call("POST", "/tenants/contoso/rollout/sends", {"template": "announcement"})
        assert no_group.status_code == 422 and no_group.json()["code"] == "invalid_value"
        wrong = ga.call("POST", "/tenants/contoso/rollout/sends", {"template": "x", "group": "a"})
        assert wrong.status_code == 422
        assert OutboxMessage.objects.count() == 0
