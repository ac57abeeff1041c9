"""The audit log in a real browser: an administrator changes the reset policy, finds that change
in the audit log by filtering, and downloads the filtered log as CSV and as JSON lines."""

from __future__ import annotations

import csv
import dataclasses
import io
import json
import uuid
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from tests.e2e.conftest import PASSWORD, Console, Instance

pytestmark = pytest.mark.e2e

SLUG = "tailspin"
POLICY_CHANGE = "Update self-service password reset policy"


@pytest.fixture(scope="module")
def tailspin(instance: Instance) -> tuple[Instance, str]:
    site = dataclasses.replace(instance, tenant=SLUG)
    site.sspr("tenant", "create", SLUG, "--name", "Tailspin Toys", "--plan", "p1")
    admin = f"ga-{uuid.uuid4().hex[:8]}@tailspin.test"
    site.sspr(
        "user", "create", SLUG, admin, "--password", PASSWORD, "--role", "global-administrator"
    )
    return site, admin


def sign_in(page: Page, site: Instance, username: str) -> None:
    page.goto(site.page_url("sign-in"))
    page.get_by_label("User name").fill(username)
    page.get_by_label("Password", exact=True).fill(PASSWORD)
    with page.expect_navigation():
        page.get_by_role("button", name="Sign in").click()
    expect(page).not_to_have_url(site.page_url("sign-in"))


def test_a_policy_change_is_found_in_the_audit_log_and_exported(
    page: Page, console: Console, tailspin: tuple[Instance, str]
) -> None:
    site, admin = tailspin
    sign_in(page, site, admin)

    page.goto(site.page_url("admin/password-reset"))
    page.get_by_label("Notify users on password resets").uncheck()
    with page.expect_navigation():
        page.get_by_role("button", name="Save").click()

    page.get_by_role("link", name="Audit log").click()
    expect(page.get_by_role("heading", name="Audit log", level=1)).to_be_visible()
    page.get_by_label("Activity").select_option(POLICY_CHANGE)
    page.get_by_label("Result").select_option("success")
    with page.expect_navigation():
        page.get_by_role("button", name="Apply filter").click()
    rows = page.locator("#audit-events tbody tr")
    expect(rows).to_have_count(1)
    expect(rows.first).to_contain_text(POLICY_CHANGE)
    expect(rows.first).to_contain_text(admin)

    with page.expect_download() as csv_download:
        page.get_by_role("link", name="Export CSV").click()
    table = list(csv.DictReader(io.StringIO(Path(csv_download.value.path()).read_text())))
    assert [r["activity"] for r in table] == [POLICY_CHANGE]
    assert table[0]["actor"] == admin and table[0]["result"] == "success"

    with page.expect_download() as jsonl_download:
        page.get_by_role("link", name="Export JSON lines").click()
    lines = Path(jsonl_download.value.path()).read_text().splitlines()
    events = [json.loads(line) for line in lines if line.strip()]
    assert [e["activity"] for e in events] == [POLICY_CHANGE]
    assert "notify_users" in json.dumps(events[0])  # what changed is in the record

    assert [t for t in console.texts() if "Content Security Policy" in t] == []
