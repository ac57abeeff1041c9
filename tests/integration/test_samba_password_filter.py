"""`sspr-password-filter` as a real Samba AD DC's `check password script`, over LDAPS with ldap3."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.directories.samba import SambaDC, SambaUser, command_line

FILTER = Path(sys.executable).with_name("sspr-password-filter")
INITIAL = "Quartz-Harbor-61"
POLICY = {
    "tenant_name": "Example",
    "min_length": 8,
    "min_character_classes": 3,
    "banned_passwords": ["contoso", "blank"],
    "password_protection": "enforce",
}


@pytest.fixture(scope="module")
def policy_file(samba_dc: SambaDC, tmp_path_factory: Any) -> Iterator[Path]:
    policy = tmp_path_factory.mktemp("password-filter") / "policy.json"
    policy.write_text(json.dumps(POLICY))
    samba_dc.set_check_password_script(command_line(FILTER, "--policy", policy))
    try:
        yield policy
    finally:
        samba_dc.set_check_password_script(None)


@pytest.fixture
def user(samba_dc: SambaDC, policy_file: Path, request: Any) -> Iterator[SambaUser]:
    policy_file.write_text(json.dumps(POLICY))
    name = "pf" + request.node.name.removeprefix("test_")[:14].replace("_", "")
    created = samba_dc.add_user(name, password=INITIAL, given_name="Pat", surname="Filter")
    try:
        yield created
    finally:
        samba_dc.delete(created.dn)


def admin_reset(dc: SambaDC, dn: str, password: str) -> dict[str, Any]:
    conn = dc.admin_connection()
    try:
        conn.extend.microsoft.modify_password(dn, password)
        return dict(conn.result)
    finally:
        conn.unbind()


def assert_refused(result: dict[str, Any]) -> None:
    # The DC does not pass the script's output on: the client sees the complexity error.
    assert result["result"] == 19, result
    assert result["message"].startswith("0000052D"), result
    assert "complexity" in result["message"], result


def test_banned_password_is_refused_by_the_dc(samba_dc: SambaDC, user: SambaUser) -> None:
    # contoso + blank + 1 + ! = 4 points, under Entra's 5. (C0ntos0Blank12! would score 5 and
    # pass, as it does in the service: the same engine.)
    assert_refused(admin_reset(samba_dc, user.dn, "C0ntos0Blank1!"))
    assert samba_dc.can_bind(user.upn, INITIAL)
    assert not samba_dc.can_bind(user.upn, "C0ntos0Blank1!")


def test_good_password_is_accepted_and_works(samba_dc: SambaDC, user: SambaUser) -> None:
    assert admin_reset(samba_dc, user.dn, "Maple-Lantern-38")["result"] == 0
    assert samba_dc.can_bind(user.upn, "Maple-Lantern-38")
    assert not samba_dc.can_bind(user.upn, INITIAL)


def test_complexity_is_the_filters_job_now(samba_dc: SambaDC, user: SambaUser) -> None:
    assert_refused(admin_reset(samba_dc, user.dn, "alllowercase"))
    assert_refused(admin_reset(samba_dc, user.dn, f"{user.sam_account_name}-Rocks-77"))


def test_users_own_change_obeys_the_same_rules(samba_dc: SambaDC, user: SambaUser) -> None:
    assert_refused(samba_dc.change_password(user.upn, user.dn, INITIAL, "Blank-Contoso1"))
    assert samba_dc.change_password(user.upn, user.dn, INITIAL, "Maple-Lantern-38")["result"] == 0
    assert samba_dc.can_bind(user.upn, "Maple-Lantern-38")


def test_policy_file_is_read_at_every_password_set(
    samba_dc: SambaDC, user: SambaUser, policy_file: Path
) -> None:
    # Audit mode: the banned password goes through (and is logged); complexity still holds.
    policy_file.write_text(json.dumps({**POLICY, "password_protection": "audit"}))
    assert admin_reset(samba_dc, user.dn, "C0ntos0Blank1!")["result"] == 0
    assert_refused(admin_reset(samba_dc, user.dn, "alllowercase"))
    # No policy file yet: fail open on the lists, never on complexity.
    policy_file.unlink()
    assert admin_reset(samba_dc, user.dn, "Blank-Contoso1")["result"] == 0
    assert_refused(admin_reset(samba_dc, user.dn, "alllowercase"))
