"""Self-service password reset in a real browser: register, forget, prove it, choose anew.

The instance here has a mail server of its own: an aiosmtpd server in the test process, which
`sspr serve` reaches over real SMTP. Codes are read from the messages it receives, and the
authenticator app is pyotp. Each test sets up a tenant of its own, so the policies the
"administrator" sets here never reach the shared instance or each other.
"""

from __future__ import annotations

import dataclasses
import json
import re
import time
import uuid
from collections.abc import Iterator

import pyotp
import pytest
from playwright.sync_api import Browser, BrowserContext, Locator, Page, Response, expect

from tests.e2e.conftest import (
    DOMAIN,
    PASSWORD,
    Console,
    Instance,
    Mailbox,
    mail_server,
    new_instance,
    serving,
    sign_in,
    submit,
)

pytestmark = pytest.mark.e2e

HELPDESK = "https://help.contoso.test"
NEW_PASSWORD = "Brand-New-Start-77"
GENERIC_FAILURE = "Your account or password is incorrect."
VERIFY_FAILED = "That did not match. Check it and try again, or choose another method."
EMAIL_CODE = re.compile(r"Your code: (\d{8})\b")
SMS_CODE = re.compile(r"^(\d{8}) is your verification code")
MASKED_EMAIL = re.compile(r"^Email a code to \w\*\*\*@" + re.escape(DOMAIN) + "$")
MASKED_PHONE = re.compile(r"^Text a code to \+1 ••• ••• ••\d\d$")
APP = "Enter a code from my authenticator app"


# --- An instance whose mail goes to a real SMTP server -------------------------------------------


@pytest.fixture(scope="module")
def mailbox() -> Iterator[Mailbox]:
    with mail_server() as server:
        yield server


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory, mailbox: Mailbox) -> Iterator[Instance]:
    # The mail server must be listening before the instance starts: its address is read once.
    instance = new_instance(tmp_path_factory.mktemp("sspr-e2e-reset"), extra_env=mailbox.env)
    with serving(instance):
        yield instance


@pytest.fixture
def context(browser: Browser, site: Instance) -> Iterator[BrowserContext]:
    """This module's pages talk to its own instance (overrides the shared `context`)."""
    fresh = browser.new_context(base_url=site.base_url)
    try:
        yield fresh
    finally:
        fresh.close()


def tenant(site: Instance, slug: str, *policy: str) -> Instance:
    """A new tenant on the P1 plan, with the policy an administrator sets on the command line."""
    site.sspr("tenant", "create", slug, "--name", slug.capitalize(), "--plan", "p1")
    site.sspr("policy", "set", slug, *policy)
    return dataclasses.replace(site, tenant=slug)


# --- What a person does -----------------------------------------------------------------------


def sign_out(page: Page, site: Instance) -> None:
    submit(page, page.get_by_role("button", name="Sign out"))
    expect(page).to_have_url(site.page_url("sign-in"))


def code_in(pattern: re.Pattern[str], text: str) -> str:
    found = pattern.search(text)
    assert found, f"no code in {text!r}"
    return found.group(1)


def pending(page: Page) -> Locator:
    return page.locator("section.pending")


def confirm_code(page: Page, code: str) -> None:
    pending(page).get_by_label("Code").fill(code)
    submit(page, pending(page).get_by_role("button", name="Confirm"))
    expect(page.locator("#notice")).to_have_text("Your method is registered.")


def register_email(page: Page, mailbox: Mailbox, address: str) -> None:
    form = page.locator("#add-email")
    form.get_by_label("Email address").fill(address)
    mark = len(mailbox)
    submit(page, form.get_by_role("button", name="Send a code"))
    expect(pending(page)).to_contain_text(f"We sent a code to {address[0]}***@{DOMAIN}")
    mail = mailbox.wait_for(address, r"^Confirm your email address$", since=mark)
    confirm_code(page, code_in(EMAIL_CODE, mail.body))
    expect(page.locator("#registered li[data-method=email]")).to_contain_text(
        f"{address[0]}***@{DOMAIN}")


def register_sms(page: Page, site: Instance, number: str) -> None:
    """The phone provider of this instance is the outbox: the text is read with `sspr outbox`."""
    form = page.locator("#add-sms")
    form.get_by_label("Phone number, with country code").fill(number)
    submit(page, form.get_by_role("button", name="Send a code"))
    expect(pending(page)).to_contain_text("We sent a code to +1 ••• ••• ••")
    texts = [m for m in site.outbox(number.replace(" ", "")) if m["channel"] == "sms"]
    assert texts, f"no text message to {number}"
    confirm_code(page, code_in(SMS_CODE, texts[0]["body"]))
    expect(page.locator("#registered li[data-method=sms]")).to_be_visible()


def register_app(page: Page) -> tuple[pyotp.TOTP, str]:
    """Set up the authenticator app; returns it and the code that confirmed it."""
    submit(page, page.locator("#add-totp").get_by_role("button", name="Set up the app"))
    secret = page.locator("#totp-secret").inner_text().strip()
    qr = pending(page).get_by_role("img", name="QR code for your authenticator app")
    expect(qr).to_be_visible()
    app = pyotp.TOTP(secret)
    code = app.now()
    confirm_code(page, code)
    expect(page.locator("#registered li[data-method=totp]")).to_be_visible()
    return app, code


def start_reset(page: Page, site: Instance, username: str, *, go: bool = True) -> None:
    """Enter a user name on the first reset page, once the browser has solved the CAPTCHA."""
    if go:
        page.goto(site.page_url("reset"))
    expect(page.get_by_role("heading", name="Get back into your account")).to_be_visible()
    page.get_by_label("User name").fill(username)
    widget = page.locator("[data-captcha]")
    # captcha.js holds the button until the proof of work is done; a solved widget says so.
    expect(widget).to_have_attribute("data-captcha-state", "done", timeout=30_000)
    expect(widget.get_by_role("status")).to_have_text("Done")
    expect(widget).not_to_contain_text("needs JavaScript")
    expect(page.locator("form input[type=hidden][name=captcha]")).to_have_value(re.compile(r".+"))
    next_button = page.get_by_role("button", name="Next")
    expect(next_button).to_be_enabled()
    submit(page, next_button)
    expect(page).to_have_url(site.page_url("reset/verify"))


def method_buttons(page: Page) -> list[str]:
    """The ways to verify the page offers, as the buttons read."""
    buttons = page.locator("main ul.methods button.method")
    expect(buttons.first).to_be_visible()
    return [" ".join(text.split()) for text in buttons.all_inner_texts()]


def gate(page: Page) -> Locator:
    return page.locator("main form.gate")


def enter_code(page: Page, code: str) -> Response | None:
    gate(page).get_by_label("Code").fill(code)
    return submit(page, gate(page).get_by_role("button", name="Verify"))


def expect_helpdesk_link(page: Page) -> None:
    link = page.locator("#helpdesk").get_by_role("link", name="Contact your helpdesk")
    expect(link).to_be_visible()
    expect(link).to_have_attribute("href", HELPDESK)


def sms_in_outbox(site: Instance) -> int:
    out = site.sspr("outbox", "--json", "--limit", "100000")
    return sum(1 for line in out.splitlines() if line.strip()
               and json.loads(line)["channel"] == "sms")


# --- The tests ---------------------------------------------------------------------------------


def test_register_then_reset_with_two_gates_and_sign_in_with_the_new_password(
    page: Page, console: Console, site: Instance, mailbox: Mailbox
) -> None:
    journey = tenant(site, "journey", "enabled_for=all", "methods_required=2",
                     "methods_enabled=email,sms,totp", "registration_required=true",
                     f"helpdesk_url={HELPDESK}")
    upn = journey.create_user("journey")
    hint = f"{upn[0]}***@{DOMAIN}"

    # Signing in, the user is interrupted to register: two methods are required, none is there.
    sign_in(page, journey, upn, PASSWORD)
    expect(page).to_have_url(journey.page_url("register"))
    expect(page.locator("#interrupt")).to_contain_text("register the methods below")
    register_email(page, mailbox, upn)
    app, used_code = register_app(page)
    # Two methods registered: the interruption is over.
    expect(page.locator("#interrupt")).to_have_count(0)
    sign_out(page, journey)

    page.get_by_role("link", name="Forgot my password").click()
    expect(page).to_have_url(journey.page_url("reset"))
    expect_helpdesk_link(page)
    start_reset(page, journey, upn, go=False)

    # Gate 1 of 2: a code by email.
    expect(page.get_by_role("heading", name="Verification step 1 of 2")).to_be_visible()
    assert method_buttons(page) == [f"Email a code to {hint}", APP]
    mark = len(mailbox)
    submit(page, page.get_by_role("button", name=f"Email a code to {hint}"))
    expect(gate(page)).to_contain_text(f"We sent a code to {hint}.")
    mail = mailbox.wait_for(upn, r"^Your verification code$", since=mark)
    enter_code(page, code_in(EMAIL_CODE, mail.body))

    # Gate 2 of 2: the app. The code that confirmed the registration is spent.
    expect(page.get_by_role("heading", name="Verification step 2 of 2")).to_be_visible()
    assert method_buttons(page) == [APP]
    submit(page, page.get_by_role("button", name=APP))
    expect(gate(page)).to_contain_text("Enter the code your authenticator app shows.")
    enter_code(page, used_code)
    expect(page.locator("#verify-error")).to_have_text(VERIFY_FAILED)
    expect(page.get_by_role("heading", name="Verification step 2 of 2")).to_be_visible()
    # The next 30-second step's code: within the one step of drift the server allows.
    enter_code(page, app.at(time.time() + 30))

    expect(page).to_have_url(journey.page_url("reset/password"))
    expect(page.get_by_role("heading", name="Choose a new password")).to_be_visible()
    page.get_by_label("New password", exact=True).fill(NEW_PASSWORD)
    page.get_by_label("Confirm new password").fill(NEW_PASSWORD + "x")
    submit(page, page.get_by_role("button", name="Reset password"))
    expect(page.locator("main")).to_contain_text("The two new passwords do not match.")
    page.get_by_label("New password", exact=True).fill(NEW_PASSWORD)
    page.get_by_label("Confirm new password").fill(NEW_PASSWORD)
    mark = len(mailbox)
    submit(page, page.get_by_role("button", name="Reset password"))
    expect(page.get_by_role("heading", name="Your password has been reset")).to_be_visible()
    expect(page.locator("#reset-done")).to_contain_text("Sign in with your new password")

    # Not signed in by the reset.
    expect(page.get_by_role("button", name="Sign out")).to_have_count(0)
    page.goto(journey.page_url("account"))
    expect(page).to_have_url(journey.page_url("sign-in"))

    notice = mailbox.wait_for(upn, r"^Your Journey password was reset$", since=mark)
    assert upn in notice.body, notice
    # The registered address is the primary one: told once, not twice.
    assert [m for m in mailbox.received(since=mark) if upn in m.to] == [notice]

    sign_in(page, journey, upn, PASSWORD)
    expect(page).to_have_url(journey.page_url("sign-in"))
    expect(page.locator("main").get_by_role("alert")).to_have_text(GENERIC_FAILURE)
    sign_in(page, journey, upn, NEW_PASSWORD)
    expect(page).to_have_url(journey.page_url("account"))
    expect(page.locator("main")).to_contain_text(upn)

    violations = console.policy_violations()
    assert violations == [], violations


def test_user_outside_the_enabled_group_sees_the_same_flow_but_nothing_is_sent(
    page: Page, site: Instance, mailbox: Mailbox
) -> None:
    scoped = tenant(site, "scoped", "enabled_for=all", "methods_required=2",
                    "methods_enabled=email,sms", f"helpdesk_url={HELPDESK}")
    upn = scoped.create_user("outside")
    member = scoped.create_user("inside")

    # Registered while self-service reset was on for everyone.
    sign_in(page, scoped, upn, PASSWORD)
    expect(page).to_have_url(scoped.page_url("register"))
    register_email(page, mailbox, upn)
    register_sms(page, scoped, "+1 425 555 0142")
    sign_out(page, scoped)
    start_reset(page, scoped, upn)
    in_scope = method_buttons(page)
    assert in_scope == [f"Email a code to {upn[0]}***@{DOMAIN}", "Text a code to +1 ••• ••• ••42"]

    # The administrator narrows it to a group the user is not in, on the admin page.
    scoped.sspr("group", "create", "scoped", "reset-pilot", "--member", member)
    admin = f"boss-{upn.split('-')[1]}"
    scoped.sspr("user", "create", "scoped", admin, "--password", PASSWORD,
                "--role", "global-administrator")
    sign_in(page, scoped, admin, PASSWORD)
    page.goto(scoped.page_url("admin/password-reset"))
    page.get_by_label("Selected groups").check()
    page.get_by_label("Groups", exact=True).select_option("reset-pilot")
    submit(page, page.get_by_role("button", name="Save", exact=True))
    expect(page.locator("#policy-saved")).to_contain_text("saved")
    expect(page.locator("#policy-saved")).to_contain_text("1 user")
    sign_out(page, scoped)

    start_reset(page, scoped, upn)
    expect(page.get_by_role("heading", name="Verification step 1 of 2")).to_be_visible()
    out_of_scope = method_buttons(page)
    assert len(out_of_scope) == len(in_scope)
    assert out_of_scope[0] == in_scope[0]
    assert MASKED_PHONE.match(out_of_scope[1]), out_of_scope
    expect_helpdesk_link(page)

    mark, texts = len(mailbox), sms_in_outbox(scoped)
    submit(page, page.get_by_role("button", name=in_scope[0]))
    expect(gate(page)).to_contain_text(f"We sent a code to {upn[0]}***@{DOMAIN}.")
    # Mail is sent while the request is served: had any gone out, it would be here already.
    assert mailbox.received(since=mark) == []

    for guess in ("12345678", "00000000"):
        enter_code(page, guess)
        expect(page.locator("#verify-error")).to_have_text(VERIFY_FAILED)
        expect(page.get_by_role("heading", name="Verification step 1 of 2")).to_be_visible()
    expect(page).to_have_url(scoped.page_url("reset/verify"))
    expect_helpdesk_link(page)
    assert mailbox.received(since=mark) == []
    assert sms_in_outbox(scoped) == texts


def test_unknown_user_name_gets_a_plausible_flow_and_nothing_is_sent(
    page: Page, site: Instance, mailbox: Mailbox
) -> None:
    strangers = tenant(site, "strangers", "enabled_for=all", "methods_required=2",
                       "methods_enabled=email,sms", f"helpdesk_url={HELPDESK}")
    nobody = f"nobody-{uuid.uuid4().hex[:8]}@{DOMAIN}"
    mark, texts = len(mailbox), sms_in_outbox(strangers)

    start_reset(page, strangers, nobody)
    expect(page.get_by_role("heading", name="Verification step 1 of 2")).to_be_visible()
    offered = method_buttons(page)
    assert len(offered) == 2, offered
    assert offered[0] == f"Email a code to n***@{DOMAIN}"
    assert MASKED_EMAIL.match(offered[0]) and MASKED_PHONE.match(offered[1]), offered

    submit(page, page.get_by_role("button", name=offered[0]))
    expect(gate(page)).to_contain_text(f"We sent a code to n***@{DOMAIN}.")
    submit(page, page.get_by_role("button", name=offered[1]))
    expect(gate(page)).to_contain_text("We sent a code to +1 ••• ••• ••")
    enter_code(page, "12345678")
    expect(page.locator("#verify-error")).to_have_text(VERIFY_FAILED)
    expect_helpdesk_link(page)

    assert mailbox.received(since=mark) == []
    assert sms_in_outbox(strangers) == texts
