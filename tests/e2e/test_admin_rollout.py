"""Rollout materials in a real browser: an administrator previews the emails, opens and prints
the poster with its QR codes, and sends the announcement to a group with nested members."""

from __future__ import annotations

import dataclasses
import re

import pytest
import segno
from playwright.sync_api import BrowserContext, Page, expect

from tests.e2e.conftest import Console, Instance, open_admin_page

pytestmark = pytest.mark.e2e

SLUG = "tailspin"
NAME = 'Tailspin <Toys> & "Co"'
HELPDESK = "https://help.tailspin.example/passwords"


@pytest.fixture(scope="module")
def tailspin(instance: Instance) -> tuple[Instance, str, list[str]]:
    """A tenant of this module's own on the shared instance: reset on for everyone, a group
    Pilot of two direct members that nests Pilot EU (one of them again, and one more)."""
    site = dataclasses.replace(instance, tenant=SLUG)
    site.sspr("tenant", "create", SLUG, "--name", NAME, "--plan", "p1")
    site.sspr(
        "policy",
        "set",
        SLUG,
        "enabled_for=all",
        "captcha_enabled=false",
        f"helpdesk_url={HELPDESK}",
    )
    members = [site.create_user("pilot") for _ in range(3)]
    site.sspr("group", "create", SLUG, "Pilot EU", "--member", members[1], "--member", members[2])
    site.sspr(
        "group",
        "create",
        SLUG,
        "Pilot",
        "--member",
        members[0],
        "--member",
        members[1],
        "--subgroup",
        "Pilot EU",
    )
    admin = site.create_admin()
    return site, admin, members


def qr_path(url: str) -> str:
    """The drawing segno makes of `url`: a page's QR code that matches it encodes `url`."""
    svg = segno.make(url, error="m").svg_inline(scale=4, omitsize=True)
    found = re.search(r' d="([^"]+)"', svg)
    assert found
    return found.group(1)


def test_an_administrator_previews_both_emails(
    page: Page, console: Console, tailspin: tuple[Instance, str, list[str]]
) -> None:
    site, admin, _ = tailspin
    open_admin_page(page, site, admin, "Rollout materials")
    register = site.page_url("register")
    expect(page.locator("#fact-register")).to_have_text(register)

    preview = page.frame_locator("#preview-announcement")
    expect(preview.get_by_role("heading", level=1)).to_have_text(
        "Soon you can reset your own password"
    )
    # The organisation's name is shown as text, never run as markup.
    expect(preview.get_by_text(NAME, exact=True)).to_be_visible()
    expect(preview.locator("#register-button")).to_have_attribute("href", register)
    expect(preview.locator("#reset-link")).to_have_attribute("href", site.page_url("reset"))
    expect(preview.locator("#helpdesk a")).to_have_attribute("href", HELPDESK)
    expect(preview.locator("#methods li")).to_have_text(
        ["Email", "Text message to mobile phone", "Authenticator app code"]
    )
    reminder = page.frame_locator("#preview-reminder")
    expect(reminder.get_by_role("heading", level=1)).to_have_text(
        "Don't get locked out: register now"
    )
    expect(page.locator("#preview-announcement")).to_have_attribute(
        "sandbox", "allow-popups allow-popups-to-escape-sandbox"
    )

    page.locator("#email-announcement summary").click()
    expect(page.locator("#text-announcement")).to_contain_text(register)

    page.get_by_label("Language of the emails and the poster").select_option("de")
    with page.expect_navigation():
        page.get_by_role("button", name="Show").click()
    expect(page.locator("#subject-announcement")).to_have_text(
        f"Setzen Sie Ihr {NAME}-Passwort selbst zurück: Registrieren Sie sich jetzt"
    )
    expect(preview.get_by_role("heading", level=1)).to_have_text(
        "Bald können Sie Ihr Passwort selbst zurücksetzen"
    )
    assert console.policy_violations() == []


def test_the_poster_opens_with_a_qr_code_for_each_link_and_prints_on_one_sheet(
    page: Page, context: BrowserContext, tailspin: tuple[Instance, str, list[str]]
) -> None:
    site, admin, _ = tailspin
    open_admin_page(page, site, admin, "Rollout materials")
    with context.expect_page() as opened:
        page.get_by_role("link", name="A4", exact=True).click()
    poster = opened.value
    refused: list[str] = []
    poster.on("console", lambda m: refused.append(m.text) if "Content Security" in m.text else None)
    poster.wait_for_load_state()

    expect(poster.get_by_role("heading", name="Forgot your password?", level=1)).to_be_visible()
    expect(poster.locator(".organisation")).to_have_text(NAME)
    codes = poster.locator("svg.qr-code")
    expect(codes).to_have_count(2)
    for index, link in enumerate((site.page_url("register"), site.page_url("reset"))):
        code = codes.nth(index)
        expect(code).to_be_visible()
        box = code.bounding_box()
        assert box is not None and box["width"] > 150 and abs(box["width"] - box["height"]) < 1
        assert code.locator("path").get_attribute("d") == qr_path(link)
        expect(poster.locator(".url").nth(index)).to_have_text(link)
    expect(poster.locator("#poster-helpdesk")).to_contain_text(HELPDESK)

    hint = poster.locator("#print-hint")
    expect(hint).to_contain_text("Print this page")
    expect(poster.get_by_role("button", name="Print")).to_be_visible()  # the script ran
    poster.emulate_media(media="print")
    expect(hint).to_be_hidden()
    for paper in ("A4", "Letter"):
        pdf = poster.pdf(format=paper, prefer_css_page_size=False)
        pages = len(re.findall(rb"/Type\s*/Page[^s]", pdf))
        assert pages == 1, f"the poster takes {pages} sheets of {paper}"
    assert refused == []


def test_an_administrator_sends_the_announcement_to_a_group(
    page: Page, console: Console, tailspin: tuple[Instance, str, list[str]]
) -> None:
    site, admin, members = tailspin
    open_admin_page(page, site, admin, "Rollout materials")
    form = page.locator("#send-form")
    form.get_by_label("Announcement: to every member of the group").check()
    form.get_by_label("Group (members of nested groups included)").select_option("Pilot")
    with page.expect_navigation():
        form.get_by_role("button", name="Send").click()
    expect(page.locator("#send-result")).to_have_text(
        re.compile(r"Announcement sent to\s+3 users of Pilot\.")
    )
    expect(page.locator("#sent-count")).to_have_text("3")
    for member in members:
        [message] = site.outbox(member)
        assert message["subject"] == f"Reset your own {NAME} password: register now"
        assert site.page_url("register") in message["body"]
        assert site.page_url("reset") in message["body"]
    page.reload()
    expect(page.locator("#send-result")).to_have_count(0)
    assert console.policy_violations() == []
