"""Live feedback beside the new-password field, as the user types."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect

from tests.e2e.conftest import PASSWORD, Console, Instance, sign_in

pytestmark = pytest.mark.e2e


def test_rules_turn_met_as_the_password_grows(
    page: Page, instance: Instance, console: Console
) -> None:
    """Each rule is marked met or not while typing; only our own server is asked."""
    user = instance.create_user("typist")
    asked: list[str] = []
    page.on("request", lambda request: asked.append(request.url))
    sign_in(page, instance, user, PASSWORD)
    page.goto(instance.page_url("change"))
    field = page.get_by_label("New password", exact=True)
    field.press_sequentially("abc")
    rules = page.locator("#password-rules")
    expect(rules.locator("li[data-rule=length]")).to_have_class("unmet")
    expect(rules.locator("li[data-rule=character_classes]")).to_have_class("unmet")
    field.press_sequentially("D-Lantern-4821")
    expect(rules.locator("li[data-rule=length]")).to_have_class("met")
    expect(rules.locator("li[data-rule=character_classes]")).to_have_class("met")
    expect(page.locator("#password-feedback-status")).to_have_text(
        "This password meets every rule.")
    assert all(url.startswith(instance.url("")) for url in asked), asked
    assert console.policy_violations() == []
