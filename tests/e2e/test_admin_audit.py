"""The audit log in a real browser: an administrator changes the reset policy, finds that change
in the audit log by filtering, and downloads the filtered log as CSV and as JSON lines."""

from __future__ import annotations

import csv
import dataclasses
import io
import json
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from tests.e2e.conftest import Console, Instance, signed_in

pytestmark = pytest.mark.e2e

SLUG = "fourthcoffee"  # not "tailspin": test_admin_rollout makes that one on the same instance
POLICY_CHANGE = "Update self-service password reset policy"


@pytest.fixture(scope="module")
def fourthcoffee(instance: Instance) -> tuple[Instance, str]:
    site = dataclasses.replace(instance, tenant=SLUG)
    site.sspr("tenant", "create", SLUG, "--name", "Fourth Coffee", "--plan", "p1")
    admin = site.create_admin()
    return site, admin


def test_a_policy_change_is_found_in_the_audit_log_and_exported(
    page: Page, console: Console, fourthcoffee: tuple[Instance, str]
) -> None:
    site, admin = fourthcoffee
    signed_in(page, site, admin)

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

    assert console.policy_violations() == []
