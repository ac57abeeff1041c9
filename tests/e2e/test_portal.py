"""The end-user portal in a real browser, against a served instance: what a person notices."""

from __future__ import annotations

import re
import urllib.parse

import pytest
from playwright.sync_api import Locator, Page, Response, expect

from tests.e2e.conftest import (
    PASSWORD,
    Console,
    Instance,
    http,
    refuse_forbidden,
    sign_in,
    submit,
)

pytestmark = pytest.mark.e2e

GENERIC_FAILURE = "Your account or password is incorrect."
NEW_PASSWORD = "Fresh-Start-2024!"
REFERRER_POLICIES = ("same-origin",)


def submit_change(page: Page, current: str, new: str, confirm: str | None = None) -> None:
    page.get_by_label("Current password").fill(current)
    page.get_by_label("New password", exact=True).fill(new)
    page.get_by_label("Confirm new password").fill(new if confirm is None else confirm)
    submit(page, page.get_by_role("button", name="Change password"))


def alert(page: Page) -> Locator:
    return page.locator("main").get_by_role("alert")


def test_wrong_password_and_unknown_user_get_the_same_generic_message(
    page: Page, instance: Instance
) -> None:
    upn = instance.create_user("wrongpw")

    sign_in(page, instance, upn, "Not-The-Password-1")
    expect(page).to_have_url(instance.page_url("sign-in"))
    expect(alert(page)).to_have_text(GENERIC_FAILURE)
    for_wrong_password = alert(page).inner_text()

    sign_in(page, instance, f"nobody-{upn}", "Not-The-Password-1")
    expect(page).to_have_url(instance.page_url("sign-in"))
    expect(alert(page)).to_have_text(GENERIC_FAILURE)
    assert alert(page).inner_text() == for_wrong_password


def test_sign_in_shows_the_account_and_sign_out_returns_to_sign_in(
    page: Page, instance: Instance
) -> None:
    upn = instance.create_user("account")

    sign_in(page, instance, upn, PASSWORD)
    expect(page).to_have_url(instance.page_url("account"))
    expect(page.get_by_role("heading", name="My account")).to_be_visible()
    expect(page.locator("main")).to_contain_text(upn)

    page.get_by_role("button", name="Sign out").click()
    expect(page).to_have_url(instance.page_url("sign-in"))
    expect(page.get_by_role("heading", name="Sign in")).to_be_visible()

    # Signed out for real: the account page sends the visitor back to sign in.
    page.goto(instance.page_url("account"))
    expect(page).to_have_url(instance.page_url("sign-in"))


def test_must_change_user_is_sent_to_change_and_rules_are_enforced(
    page: Page, instance: Instance
) -> None:
    upn = instance.create_user("mustchange", must_change=True)

    sign_in(page, instance, upn, PASSWORD)
    expect(page).to_have_url(instance.page_url("change"))
    expect(page.get_by_role("status")).to_contain_text(
        "You need to change your password before you continue."
    )
    # The account page is out of reach until the password is changed.
    page.goto(instance.page_url("account"))
    expect(page).to_have_url(instance.page_url("change"))

    submit_change(page, PASSWORD, "short")
    expect(alert(page)).to_contain_text("does not meet the rules")
    broken = alert(page).locator("li[data-code]")
    expect(broken.first).to_be_visible()
    codes = {code for code in broken.evaluate_all("items => items.map(i => i.dataset.code)")}
    assert {"password_too_short", "password_too_simple"} <= codes
    for item in broken.all():
        expect(item).not_to_have_text("")

    # Nothing changed: the old password still works, and a change is still required.
    reply = instance.api_sign_in(upn, PASSWORD)
    assert reply.status == 201, reply.text
    assert reply.json()["must_change_password"] is True

    submit_change(page, PASSWORD, NEW_PASSWORD)
    expect(page.get_by_role("heading", name="Your password was changed")).to_be_visible()

    reply = instance.api_sign_in(upn, PASSWORD)
    assert reply.status == 401, reply.text
    reply = instance.api_sign_in(upn, NEW_PASSWORD)
    assert reply.status == 201, reply.text
    assert reply.json()["must_change_password"] is False

    page.get_by_role("link", name="Back to my account").click()
    expect(page).to_have_url(instance.page_url("account"))


def test_change_in_browser_revokes_api_tokens_and_sends_a_notice(
    page: Page, instance: Instance
) -> None:
    upn = instance.create_user("notice")
    reply = instance.api_sign_in(upn, PASSWORD)
    assert reply.status == 201, reply.text
    token = reply.json()["token"]
    assert instance.api("GET", "/me", token=token).status == 200

    sign_in(page, instance, upn, PASSWORD)
    page.get_by_role("link", name="Change password").click()
    expect(page).to_have_url(instance.page_url("change"))
    submit_change(page, PASSWORD, NEW_PASSWORD)
    expect(page.get_by_role("heading", name="Your password was changed")).to_be_visible()
    expect(page.locator("#changed")).to_contain_text(upn)

    reply = instance.api("GET", "/me", token=token)
    assert reply.status == 401, reply.text

    messages = instance.outbox(upn)
    assert any(
        m["channel"] == "email" and m["to"] == upn
        and re.search(r"password was changed", m["subject"], re.IGNORECASE)
        for m in messages
    ), messages

    # The browser session that made the change is the one that is kept.
    page.goto(instance.page_url("account"))
    expect(page).to_have_url(instance.page_url("account"))


def test_smart_lockout_after_ten_wrong_passwords(page: Page, instance: Instance) -> None:
    upn = instance.create_user("lockout")

    # Ten different wrong passwords: the same wrong one typed twice would count once.
    for attempt in range(10):
        sign_in(page, instance, upn, f"Wrong-Guess-{attempt}")
        expect(alert(page)).to_have_text(GENERIC_FAILURE)

    sign_in(page, instance, upn, PASSWORD)
    expect(page).to_have_url(instance.page_url("sign-in"))
    expect(alert(page)).to_contain_text("locked")
    expect(alert(page)).to_have_text(re.compile(r"Try again in \d+ seconds"))


def test_pages_carry_security_headers_and_forms_need_csrf(
    page: Page, instance: Instance
) -> None:
    upn = instance.create_user("headers")

    def check(response: Response | None) -> None:
        assert response is not None
        headers = response.headers
        where = response.url
        assert "frame-ancestors 'none'" in headers.get("content-security-policy", ""), where
        assert headers.get("x-frame-options") == "DENY", where
        # No address ever leaves the site in a Referer. "same-origin" is allowed as well as
        # "no-referrer": under "no-referrer" browsers send `Origin: null` with every form POST,
        # which Django's CSRF check refuses, so no form could be sent at all.
        assert headers.get("referrer-policy") in REFERRER_POLICIES, where

    check(page.goto(instance.page_url("sign-in")))
    token = page.locator("main form input[type=hidden][name=csrfmiddlewaretoken]")
    expect(token).to_have_count(1)
    expect(token).to_have_attribute("value", re.compile(r".+"))

    check(sign_in(page, instance, upn, PASSWORD))
    expect(page).to_have_url(instance.page_url("account"))
    check(page.goto(instance.page_url("change")))

    # The same form without its token (or cookie) is refused.
    form = urllib.parse.urlencode({"username": upn, "password": PASSWORD}).encode()
    reply = http("POST", instance.page_url("sign-in"), form,
                 {"Content-Type": "application/x-www-form-urlencoded"})
    assert reply.status == 403, reply.text
    assert "This form has expired" in reply.text


def assert_every_input_is_labelled(page: Page) -> None:
    inputs = page.locator("main input:not([type=hidden])")
    assert inputs.count() > 0
    for field in inputs.all():
        ident = field.get_attribute("id")
        assert ident, field.evaluate("e => e.outerHTML")
        label = page.locator(f"label[for='{ident}']")
        expect(label).to_have_count(1)
        expect(label).not_to_have_text("")


def test_inputs_have_labels_on_sign_in_and_change(page: Page, instance: Instance) -> None:
    upn = instance.create_user("labels")

    page.goto(instance.page_url("sign-in"))
    assert_every_input_is_labelled(page)

    sign_in(page, instance, upn, PASSWORD)
    page.goto(instance.page_url("change"))
    assert_every_input_is_labelled(page)


def test_sign_in_and_change_with_the_keyboard_only(page: Page, instance: Instance) -> None:
    upn = instance.create_user("keyboard", must_change=True)

    page.goto(instance.page_url("sign-in"))
    username = page.get_by_label("User name")
    username.focus()
    expect(username).to_be_focused()
    page.keyboard.type(upn)
    page.keyboard.press("Tab")
    expect(page.get_by_label("Password", exact=True)).to_be_focused()
    page.keyboard.type(PASSWORD)
    with page.expect_navigation() as navigation:
        page.keyboard.press("Enter")
    refuse_forbidden(page, navigation.value)
    expect(page).to_have_url(instance.page_url("change"))

    # The change form starts on its first field; Tab walks the fields in order.
    expect(page.get_by_label("Current password")).to_be_focused()
    page.keyboard.type(PASSWORD)
    page.keyboard.press("Tab")
    expect(page.get_by_label("New password", exact=True)).to_be_focused()
    page.keyboard.type(NEW_PASSWORD)
    page.keyboard.press("Tab")
    expect(page.get_by_label("Confirm new password")).to_be_focused()
    page.keyboard.type(NEW_PASSWORD)
    with page.expect_navigation() as navigation:
        page.keyboard.press("Enter")
    refuse_forbidden(page, navigation.value)
    expect(page.get_by_role("heading", name="Your password was changed")).to_be_visible()


def test_no_content_security_policy_violations(
    page: Page, console: Console, instance: Instance
) -> None:
    upn = instance.create_user("csp")

    sign_in(page, instance, upn, "Not-The-Password-1")
    expect(alert(page)).to_have_text(GENERIC_FAILURE)
    sign_in(page, instance, upn, PASSWORD)
    expect(page.get_by_role("heading", name="My account")).to_be_visible()
    page.goto(instance.page_url("change"))
    submit_change(page, PASSWORD, "short")
    expect(alert(page)).to_be_visible()
    submit_change(page, PASSWORD, NEW_PASSWORD)
    expect(page.get_by_role("heading", name="Your password was changed")).to_be_visible()
    page.wait_for_load_state("load")

    violations = console.policy_violations()
    assert violations == [], violations
