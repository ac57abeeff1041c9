"""Protecting security-info registration in a real browser: the administrator names the offices'
network, asks everyone outside it to prove an already-registered method, and checks with what-if;
a new joiner with no method is refused at the security-info page with the helpdesk link, gets a
Temporary Access Pass from the administrator, signs in with it and registers their email."""

from __future__ import annotations

import dataclasses
import re
import uuid

import pytest
from playwright.sync_api import Browser, Page, expect

from tests.e2e.conftest import PASSWORD, Instance, signed_in, submit

pytestmark = pytest.mark.e2e

HELPDESK = "https://help.example.com/security-info"
POLICY = "Security info outside the offices"
CODE = re.compile(r"Your code: (\d{8})\b")


@pytest.fixture
def site(instance: Instance) -> Instance:
    """A tenant of its own on the shared instance: its policies bind nobody else's tests."""
    slug = f"ca-{uuid.uuid4().hex[:8]}"
    instance.sspr("tenant", "create", slug, "--name", "Northwind", "--plan", "p1",
                  "--domain", f"{slug}.test")
    instance.sspr("policy", "set", slug, "enabled_for=all", "methods_enabled=email",
                  "methods_required=1", f"helpdesk_url={HELPDESK}")
    return dataclasses.replace(instance, tenant=slug)


def admin_nav(page: Page, link: str) -> None:
    page.get_by_role("navigation", name="Administration").get_by_role(
        "link", name=link, exact=True
    ).click()
    expect(page.get_by_role("heading", name=link, level=1)).to_be_visible()


def pass_sign_in(page: Page, site: Instance, username: str, passcode: str) -> None:
    page.goto(site.page_url("sign-in/temporary-access-pass"))
    page.get_by_label("User name").fill(username)
    page.get_by_label("Temporary Access Pass").fill(passcode)
    submit(page, page.get_by_role("button", name="Sign in"))


def email_code(site: Instance, upn: str) -> str:
    for message in site.outbox(upn):  # newest first
        found = CODE.search(message["body"])
        if found:
            return found.group(1)
    pytest.fail(f"no code was sent to {upn}")


def test_the_admin_protects_registration_and_a_new_joiner_registers_with_a_pass(
    browser: Browser, site: Instance
) -> None:
    domain = f"{site.tenant}.test"
    admin, joiner = f"admin@{domain}", f"joiner@{domain}"
    site.sspr("user", "create", site.tenant, admin, "--password", PASSWORD,
              "--role", "global-administrator")
    site.sspr("user", "create", site.tenant, joiner, "--password", PASSWORD, "--email", joiner)

    desk = browser.new_context(base_url=site.base_url)
    page = desk.new_page()
    signed_in(page, site, admin)
    page.goto(site.page_url("admin/"))

    # The offices' network, trusted; the browser (127.0.0.1) is not in it.
    admin_nav(page, "Named locations")
    expect(page.locator("#no-locations")).to_have_text("No named location yet.")
    page.get_by_role("link", name="New named location").click()
    page.get_by_label("Name").fill("Offices")
    page.get_by_label("IP ranges, one per line").fill("10.0.0.0/8")
    page.get_by_label("Mark as trusted location").check()
    submit(page, page.get_by_role("button", name="Create"))
    expect(page.get_by_role("status")).to_have_text("The named location Offices was created.")
    row = page.get_by_role("table", name="Named locations: 1").get_by_role("row").nth(1)
    expect(row).to_have_text(re.compile(r"Offices\s+10\.0\.0\.0/8\s+Trusted"))

    # Registering security info from anywhere else needs an already-registered method.
    admin_nav(page, "Conditional access")
    page.get_by_role("link", name="New policy").click()
    expect(page.get_by_role("heading", name="New policy", level=1)).to_be_visible()
    page.get_by_label("Name", exact=True).fill(POLICY)
    expect(page.get_by_label("Register security information")).to_be_checked()
    expect(page.get_by_label("All users", exact=True)).to_be_checked()
    page.get_by_label("All but trusted locations").check()
    page.get_by_label("Require an already-registered method").check()
    expect(page.get_by_label("Report-only")).to_be_checked()  # where a new policy starts
    page.get_by_label("On", exact=True).check()
    submit(page, page.get_by_role("button", name="Create"))
    expect(page.get_by_role("status")).to_have_text(f"The policy {POLICY} was created.")
    policies = page.get_by_role("table", name="Conditional access policies: 1")
    expect(policies.get_by_role("row").nth(1)).to_have_text(re.compile(
        rf"{POLICY}\s+Register security information\s+On\s+All users\s+"
        r"All but trusted locations\s+Require an already-registered method"
    ))

    # What if the new joiner came from this browser's address?
    page.get_by_role("link", name="What if", exact=True).click()
    page.get_by_label("User name").fill(joiner)
    page.get_by_label("IP address the user comes from").fill("127.0.0.1")
    submit(page, page.get_by_role("button", name="What if"))
    expect(page.locator("#what-if-decision")).to_have_text(
        "Decision: Require an already-registered method."
    )
    expect(page.locator("#what-if-locations")).to_have_text(
        "The address is in no named location."
    )
    applies = page.get_by_role("table", name="Policies for “Register security information”")
    expect(applies.get_by_role("row", name=re.compile(POLICY))).to_contain_text(
        "Applies Require an already-registered method all users, outside trusted locations"
    )

    # The new joiner has no method: the security info page refuses, and says whom to ask.
    own = browser.new_context(base_url=site.base_url)
    user = own.new_page()
    signed_in(user, site, joiner)
    user.goto(site.page_url("register"))
    refusal = user.get_by_role("alert")
    expect(refusal).to_contain_text(
        "you have no registered method that can prove it. Ask your helpdesk for a Temporary "
        "Access Pass."
    )
    expect(refusal.get_by_role("link", name="Contact your helpdesk")).to_have_attribute(
        "href", HELPDESK
    )
    expect(user.get_by_role("heading", name="Add a method")).to_have_count(0)
    own.close()

    # The administrator issues a Temporary Access Pass, read once from the answer.
    admin_nav(page, "Users")
    page.get_by_role("link", name="joiner", exact=True).click()
    passes = page.locator("#temporary-access-passes")
    expect(passes).to_contain_text("No Temporary Access Pass was issued for this user.")
    passes.get_by_label("Lifetime").fill("1h")
    passes.get_by_label("Number of uses").fill("1")
    submit(page, passes.get_by_role("button", name="Issue a Temporary Access Pass"))
    expect(page.locator("#issued-pass-panel")).to_contain_text("it is shown only this once")
    passcode = page.locator("#issued-pass").inner_text()
    assert re.fullmatch(r"[a-z0-9]{4}(-[a-z0-9]{4}){3}", passcode), passcode
    page.get_by_role("link", name="Back to joiner").click()
    assert passcode not in page.content()
    listed = page.get_by_role("table", name=re.compile("Temporary Access Passes of"))
    expect(listed).to_contain_text("0 of 1")
    desk.close()

    # The new joiner signs in with it and registers their email.
    own = browser.new_context(base_url=site.base_url)
    user = own.new_page()
    pass_sign_in(user, site, joiner, passcode)
    expect(user).to_have_url(site.page_url("register"))
    expect(user.locator("#pass-session")).to_contain_text(
        "You signed in with a Temporary Access Pass"
    )
    expect(user.get_by_role("alert")).to_have_count(0)
    add_email = user.locator("#add-email")
    add_email.get_by_label("Email address").fill(joiner)
    submit(user, add_email.get_by_role("button", name="Send a code"))
    user.get_by_label("Code").fill(email_code(site, joiner))
    submit(user, user.get_by_role("button", name="Confirm"))
    expect(user.locator("#notice")).to_have_text("Your method is registered.")
    expect(user.locator("#registered")).to_contain_text("Email")
    own.close()

    # The pass was one-time: it does not sign in again.
    again = browser.new_context(base_url=site.base_url)
    user = again.new_page()
    pass_sign_in(user, site, joiner, passcode)
    expect(user).to_have_url(site.page_url("sign-in/temporary-access-pass"))
    expect(user.get_by_role("alert")).to_be_visible()
    again.close()
