"""The language of the portal in a real browser: the browser's own first, then the user's choice."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser, BrowserContext, Page, expect

from tests.e2e.conftest import PASSWORD, Console, Instance

pytestmark = pytest.mark.e2e


@pytest.fixture
def context(browser: Browser, instance: Instance) -> Iterator[BrowserContext]:
    """A browser set up for German (overrides the shared `context`): Accept-Language de-DE."""
    fresh = browser.new_context(base_url=instance.base_url, locale="de-DE")
    try:
        yield fresh
    finally:
        fresh.close()


def test_a_german_browser_gets_german_and_can_switch_to_french(
    page: Page, instance: Instance, console: Console
) -> None:
    page.goto(instance.page_url("reset"))
    expect(page.locator("html")).to_have_attribute("lang", "de")
    expect(page.get_by_role("heading", level=1)).to_have_text("Zurück zu Ihrem Konto")
    expect(page.get_by_label("Benutzername")).to_be_visible()
    expect(page.get_by_role("button", name="Weiter")).to_be_visible()
    # The proof-of-work check reports in the page's language too (its texts come from the page).
    expect(page.locator("[data-captcha-status]")).to_have_text("Fertig")

    with page.expect_navigation():
        page.get_by_role("button", name="Français").click()

    expect(page).to_have_url(instance.page_url("reset"))
    expect(page.locator("html")).to_have_attribute("lang", "fr")
    expect(page.get_by_role("heading", level=1)).to_have_text("Récupérer l'accès à votre compte")
    expect(page.get_by_role("button", name="Suivant")).to_be_visible()
    expect(page.locator("[data-captcha-status]")).to_have_text("Terminé")
    expect(page.locator("#language-switcher [aria-current=true]")).to_have_text("Français")

    # The choice is remembered: another page, visited afresh, is French as well.
    page.goto(instance.page_url("sign-in"))
    expect(page.locator("html")).to_have_attribute("lang", "fr")
    expect(page.get_by_role("heading", level=1)).to_have_text("Se connecter")
    expect(page.get_by_role("link", name="Mot de passe oublié")).to_be_visible()
    assert console.policy_violations() == []


def test_live_password_feedback_speaks_the_chosen_language(
    page: Page, instance: Instance, console: Console
) -> None:
    """The rules beside the field come from the API, which follows the language cookie."""
    upn = instance.create_user("langue")
    page.goto(instance.page_url("sign-in"))
    with page.expect_navigation():
        page.get_by_role("button", name="Français").click()
    page.get_by_label("Nom d'utilisateur").fill(upn)
    page.get_by_label("Mot de passe", exact=True).fill(PASSWORD)
    with page.expect_navigation():
        page.get_by_role("button", name="Se connecter").click()
    page.goto(instance.page_url("change"))
    field = page.get_by_label("Nouveau mot de passe", exact=True)
    field.press_sequentially("abc")
    rules = page.locator("#password-rules")
    expect(rules.locator("li[data-rule=length]")).to_have_text("✗ Entre 8 et 256 caractères.")
    expect(page.locator("#password-feedback-status")).to_contain_text(
        "Règles pas encore respectées"
    )
    field.press_sequentially("D-Lantern-4821")
    expect(page.locator("#password-feedback-status")).to_have_text(
        "Ce mot de passe respecte toutes les règles."
    )
    assert console.policy_violations() == []
