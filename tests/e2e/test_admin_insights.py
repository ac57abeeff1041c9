"""Usage & insights and recommendations in a real browser: an administrator reads the charts
of what users really did, narrows the period, and fixes a recommendation with one click."""

from __future__ import annotations

import dataclasses
import re
from datetime import UTC, datetime

import pytest
from playwright.sync_api import Locator, Page, expect

from tests.e2e.conftest import PASSWORD, Console, Instance, open_admin_page

pytestmark = pytest.mark.e2e

SLUG = "northwind"
NEW_PASSWORD = "Brand-New-Start-77"
EMAIL_CODE = re.compile(r"Your code: (\d{8})\b")


def code_for(site: Instance, address: str) -> str:
    """The code in the newest message to `address` in the instance's outbox."""
    for message in site.outbox(address):
        found = EMAIL_CODE.search(message["body"])
        if found:
            return found.group(1)
    pytest.fail(f"no code was sent to {address}")


def registered_user(site: Instance) -> str:
    """A user who registered an email address through the API, as a script or app would."""
    upn = site.create_user("ann")
    token = site.api_sign_in(upn, PASSWORD).json()["token"]
    added = site.api("POST", "/me/methods", {"method": "email", "value": upn}, token)
    assert added.status == 201, added.text
    confirmed = site.api(
        "POST",
        f"/me/methods/{added.json()['id']}/verification",
        {"code": code_for(site, upn)},
        token,
    )
    assert confirmed.status == 200, confirmed.text
    return upn


def reset_with_one_wrong_code(site: Instance, upn: str) -> None:
    flow = site.api("POST", f"/tenants/{SLUG}/password-resets", {"username": upn}).json()
    base = f"/password-resets/{flow['id']}"
    assert site.api("POST", f"{base}/challenges", {"method": "email"}).status == 202
    wrong = site.api("POST", f"{base}/verifications", {"method": "email", "code": "00000000"})
    assert wrong.status == 422
    right = site.api(
        "POST", f"{base}/verifications", {"method": "email", "code": code_for(site, upn)}
    )
    assert right.status == 200, right.text
    done = site.api("POST", f"{base}/completion", {"new_password": NEW_PASSWORD})
    assert done.status == 200, done.text


@pytest.fixture(scope="module")
def northwind(instance: Instance) -> tuple[Instance, str]:
    """A tenant of this module's own on the shared instance: reset on for a pilot group whose
    one member registered and reset once; an administrator outside the group."""
    site = dataclasses.replace(instance, tenant=SLUG)
    site.sspr("tenant", "create", SLUG, "--name", "Northwind", "--plan", "p1")
    site.sspr("policy", "set", SLUG, "enabled_for=all", "captcha_enabled=false")
    upn = registered_user(site)
    site.sspr("group", "create", SLUG, "pilot", "--member", upn)
    site.sspr("policy", "set", SLUG, "enabled_for=selected", "enabled_groups=pilot")
    reset_with_one_wrong_code(site, upn)
    admin = site.create_admin()
    return site, admin


def bars(page: Page, chart: str) -> Locator:
    return page.locator(f"svg#{chart} rect.bar")


def test_an_administrator_reads_the_charts_and_narrows_the_period(
    page: Page, console: Console, northwind: tuple[Instance, str]
) -> None:
    site, admin = northwind
    open_admin_page(page, site, admin, "Usage & insights")

    coverage = page.get_by_role("img", name="Registration by method")
    expect(coverage).to_be_visible()
    expect(bars(page, "chart-coverage")).to_have_count(6)  # one per method
    email = page.locator("svg#chart-coverage rect.bar").first
    assert email.get_attribute("data-value") == "1"
    assert float(email.get_attribute("width") or 0) > 0
    expect(page.locator("#coverage-table tr[data-method=email] td").last).to_have_text("1")
    expect(page.locator("#count-registered")).to_have_text("1 (100%)")
    expect(page.locator("#registration-summary")).to_contain_text("selected groups (pilot)")

    expect(page.get_by_role("img", name="Resets by result, per day (UTC)")).to_be_visible()
    expect(bars(page, "chart-resets")).to_have_count(60)  # 30 days, succeeded and failed
    page.get_by_text("The same numbers, day by day, as a table").click()
    today = page.locator("#daily-table tbody tr").last
    expect(today.locator("td").nth(0)).to_have_text("1")
    expect(today.locator("td").nth(1)).to_have_text("1")
    resets = page.locator("#outcomes-table tr.total").first
    expect(resets.locator("td")).to_have_text(["All methods", "1", "1"])
    expect(page.locator("#failure-reasons")).to_contain_text("User failed to verify with email")

    day = datetime.now(UTC).date().isoformat()
    page.get_by_label("From", exact=True).fill(day)
    page.get_by_label("To (inclusive)").fill(day)
    with page.expect_navigation():
        page.get_by_role("button", name="Show").click()
    expect(bars(page, "chart-resets")).to_have_count(2)  # one day
    expect(page.get_by_label("From", exact=True)).to_have_value(day)
    assert console.policy_violations() == []


def test_an_administrator_fixes_a_recommendation_with_one_click(
    page: Page, console: Console, northwind: tuple[Instance, str]
) -> None:
    site, admin = northwind
    open_admin_page(page, site, admin, "Recommendations")
    item = page.locator("#rec-enable_sspr_for_all")
    expect(item.locator(".status")).to_have_text("To do")
    expect(item.locator(".state")).to_have_text(
        "SSPR is enabled for selected groups (1): pilot; 1 of 2 users are in scope."
    )
    score = page.locator("#score").inner_text()
    with page.expect_navigation():
        item.get_by_role("button", name="Fix: Enable for all users").click()
    expect(page.locator("#recommendations-notice")).to_contain_text(
        "Done: Enable self-service password reset for all users."
    )
    expect(item.locator(".status")).to_have_text("Done")
    expect(item.get_by_role("button")).to_have_count(0)
    assert page.locator("#score").inner_text() != score
    shown = site.sspr("policy", "show", SLUG)
    assert '"enabled_for": "all"' in shown
    assert console.policy_violations() == []
