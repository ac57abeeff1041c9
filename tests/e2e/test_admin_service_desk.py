"""The service desk in a real browser: find the caller's account, check the caller with a code
sent to their own email, reset the password and read the temporary password once; then the user
signs in with it and must choose their own."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Browser, expect

from tests.e2e.conftest import DOMAIN, PASSWORD, Instance, sign_in, submit

pytestmark = pytest.mark.e2e

CALLER_CODE = re.compile(r"Your code: (\d{8})\b")
NEW_PASSWORD = "Harbour-Lights-2049"


def register_email(instance: Instance, upn: str) -> None:
    """The user registers their email address for password reset, as the API lets them."""
    token = instance.api_sign_in(upn, PASSWORD).json()["token"]
    started = instance.api("POST", "/me/methods", {"method": "email", "value": upn}, token)
    assert started.status == 201, started.text
    code = re.search(r"Your code: (\d{8})", instance.outbox(upn)[0]["body"])
    assert code, instance.outbox(upn)
    done = instance.api(
        "POST", f"/me/methods/{started.json()['id']}/verification", {"code": code.group(1)}, token
    )
    assert done.status == 200, done.text


def caller_code(instance: Instance, upn: str) -> str:
    for message in instance.outbox(upn):  # newest first
        if message["subject"] == "The code your helpdesk asked for":
            found = CALLER_CODE.search(message["body"])
            assert found, message["body"]
            return found.group(1)
    pytest.fail(f"no caller code was sent to {upn}")


def test_helpdesk_verifies_the_caller_and_resets_the_password(
    browser: Browser, instance: Instance
) -> None:
    caller = instance.create_user("caller", password=PASSWORD)
    name = caller.split("@")[0]
    register_email(instance, caller)
    helpdesk = f"desk-{name}@{DOMAIN}"
    instance.sspr(
        "user",
        "create",
        instance.tenant,
        helpdesk,
        "--password",
        PASSWORD,
        "--email",
        helpdesk,
        "--role",
        "helpdesk-administrator",
    )

    desk = browser.new_context(base_url=instance.base_url)
    page = desk.new_page()
    sign_in(page, instance, helpdesk, PASSWORD)
    page.goto(instance.page_url("admin/"))
    page.get_by_role("navigation", name="Administration").get_by_role("link", name="Users").click()
    expect(page.get_by_role("heading", name="Users")).to_be_visible()

    # Find the caller by part of their name.
    page.get_by_label("Search by name, user name or email").fill(name)
    submit(page, page.get_by_role("button", name="Search"))
    users = page.get_by_role("table")
    expect(users.get_by_role("caption")).to_contain_text(f"Users matching “{name}”")
    submit(page, users.get_by_role("link", name=name, exact=True))
    expect(page.get_by_role("heading", name=name, exact=True)).to_be_visible()
    expect(page.locator("#eligibility")).to_contain_text("Can this user reset their password?")

    # Check the caller: a code to their own email, read back over the phone.
    verify = page.locator("#caller-verification")
    expect(verify.get_by_role("status")).to_have_text("Not verified.")
    verify.get_by_label(re.compile(r"Email: \w\*\*\*@" + re.escape(DOMAIN))).check()
    submit(page, verify.get_by_role("button", name="Send code"))
    expect(page.locator("#user-notice")).to_contain_text("A code was sent to")
    verify.get_by_label("Code the caller reads out").fill(caller_code(instance, caller))
    submit(page, verify.get_by_role("button", name="Check the code"))
    expect(verify.get_by_role("status")).to_contain_text("Verified: the caller read out the code")

    # Reset: the temporary password is on this page, once.
    submit(page, page.get_by_role("button", name="Reset password"))
    panel = page.locator("#temporary-password-panel")
    expect(panel).to_contain_text("it is shown only this once")
    temporary = page.locator("#temporary-password").inner_text()
    assert re.fullmatch(r"[A-Za-z0-9]{4}(-[A-Za-z0-9]{4}){3}", temporary), temporary
    # A reload sends the form again: refused, and the password is not shown again.
    page.reload()
    expect(page.locator("#reset-error")).to_contain_text("This form was already sent")
    expect(page.locator("#temporary-password")).to_have_count(0)
    assert temporary not in page.content()
    page.goto(page.url)
    assert temporary not in page.content()
    expect(page.locator("#last-reset")).to_contain_text(f"by {helpdesk}")
    desk.close()

    # The user signs in with it and must choose their own password before anything else.
    own = browser.new_context(base_url=instance.base_url)
    page = own.new_page()
    sign_in(page, instance, caller, temporary)
    expect(page).to_have_url(instance.page_url("change"))
    expect(page.get_by_role("status")).to_contain_text(
        "You need to change your password before you continue."
    )
    page.get_by_label("Current password").fill(temporary)
    page.get_by_label("New password", exact=True).fill(NEW_PASSWORD)
    page.get_by_label("Confirm new password").fill(NEW_PASSWORD)
    submit(page, page.get_by_role("button", name="Change password"))
    expect(page.get_by_role("heading", name="Your password was changed")).to_be_visible()
    own.close()

    assert instance.api_sign_in(caller, PASSWORD).status == 401
    assert instance.api_sign_in(caller, NEW_PASSWORD).status == 201
