"""The `sspr` command, run as an operator runs it: a fresh data directory, real processes."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

SSPR = str(Path(sys.executable).with_name("sspr"))


class Sspr:
    def __init__(self, data_dir: Path) -> None:
        self.env = {k: v for k, v in os.environ.items()
                    if k not in ("DATABASE_URL", "DJANGO_SETTINGS_MODULE", "SECRET_KEY")}
        self.env["SSPR_DATA_DIR"] = str(data_dir)

    def __call__(self, *args: str, ok: bool = True) -> subprocess.CompletedProcess[str]:
        result = subprocess.run([SSPR, *args], env=self.env, capture_output=True, text=True,
                                timeout=120, check=False)
        if ok:
            assert result.returncode == 0, result.stderr
        return result


@pytest.fixture(scope="module")
def sspr(tmp_path_factory: Any) -> Sspr:
    return Sspr(tmp_path_factory.mktemp("cli-data"))


class TestFreshDataDirectory:
    def test_every_command_migrates_first(self, tmp_path: Path) -> None:
        run = Sspr(tmp_path / "new")
        assert run("tenant", "list").stdout == ""
        assert (tmp_path / "new" / "sspr.sqlite3").exists()
        # Write-ahead log: readers go on while one writer commits (set once, kept in the file).
        with sqlite3.connect(tmp_path / "new" / "sspr.sqlite3") as db:
            assert db.execute("PRAGMA journal_mode").fetchone() == ("wal",)


class TestTenantsAndUsers:
    def test_create_tenant_then_users_with_roles(self, sspr: Sspr) -> None:
        out = sspr("tenant", "create", "northwind", "--name", "Northwind", "--plan", "free")
        assert "Created tenant northwind" in out.stdout
        sspr("user", "create", "northwind", "ann@northwind.test", "--password",
             "Harbor-Lights-9", "--email", "ann@northwind.test", "--mobile", "+15550100",
             "--role", "global-administrator", "--role", "helpdesk-administrator")
        listing = sspr("user", "list", "northwind").stdout
        assert "ann@northwind.test\tcloud\tglobal-administrator,helpdesk-administrator" in listing

    def test_errors_are_one_clear_line_and_exit_2(self, sspr: Sspr) -> None:
        bad = sspr("tenant", "create", "Bad Slug!", "--name", "X", "--plan", "p1", ok=False)
        assert bad.returncode == 2
        assert "lower-case letters" in bad.stderr and "Traceback" not in bad.stderr
        weak = sspr("user", "create", "northwind", "weak@northwind.test", "--password", "abc",
                    ok=False)
        assert weak.returncode == 2 and "at least 8 characters" in weak.stderr
        ghost = sspr("user", "list", "nowhere", ok=False)
        assert ghost.returncode == 2 and "no organisation called 'nowhere'" in ghost.stderr


class TestPolicy:
    def test_a_new_tenant_starts_like_a_new_entra_tenant(self, sspr: Sspr) -> None:
        sspr("tenant", "create", "fresh", "--name", "Fresh", "--plan", "p2")
        policy = json.loads(sspr("policy", "show", "fresh").stdout)
        assert policy["enabled_for"] == "none"
        assert policy["methods_required"] == 1
        assert policy["methods_enabled"] == ["email", "sms", "totp"]
        assert policy["captcha_enabled"] is True

    def test_set_several_keys(self, sspr: Sspr) -> None:
        sspr("tenant", "create", "setme", "--name", "Set Me", "--plan", "p1")
        out = sspr("policy", "set", "setme", "enabled_for=all", "methods_required=2",
                   "methods_enabled=email,sms,questions", "banned_passwords=contoso,blank",
                   "password_protection=audit", "helpdesk_url=https://help.example.com")
        policy = json.loads(out.stdout)
        assert policy["methods_required"] == 2
        assert policy["banned_passwords"] == ["contoso", "blank"]
        assert json.loads(sspr("policy", "show", "setme").stdout) == policy

    def test_an_invalid_value_changes_nothing(self, sspr: Sspr) -> None:
        sspr("tenant", "create", "strict", "--name", "Strict", "--plan", "p1")
        before = sspr("policy", "show", "strict").stdout
        bad = sspr("policy", "set", "strict", "enabled_for=all", "reconfirm_days=999", ok=False)
        assert bad.returncode == 2 and "reconfirm_days is a whole number from 0 to 730" in (
            bad.stderr)
        unknown = sspr("policy", "set", "strict", "colour=blue", ok=False)
        assert "Unknown policy setting colour" in unknown.stderr
        assert sspr("policy", "show", "strict").stdout == before


class TestDemoAndOutbox:
    def test_demo_prints_who_can_sign_in_and_is_created_once(self, sspr: Sspr) -> None:
        first = sspr("demo", "--no-serve").stdout
        assert "Created the demo tenant 'contoso' (plan p1)" in first
        assert "admin@contoso.com" in first and "Sunrise-Harbor-71" in first
        assert "http://127.0.0.1:8000/t/contoso/sign-in" in first
        assert "Using the demo tenant" in sspr("demo", "--no-serve").stdout
        assert json.loads(sspr("policy", "show", "contoso").stdout)["enabled_for"] == "all"
        staff = sspr("group", "members", "contoso", "All staff").stdout.split()
        assert len(staff) == 5 and "carol@contoso.com" in staff

    def test_outbox_shows_what_was_sent_newest_first(self, sspr: Sspr) -> None:
        sspr("demo", "--no-serve")
        script = (
            "from sspr.directory.models import User;"
            "from sspr.messaging.notify import notify_password_changed as n;"
            "[n(User.objects.get(upn=u)) for u in ('alice@contoso.com','bob@contoso.com')]"
        )
        sspr("shell", "-c", script)
        lines = sspr("outbox", "--json").stdout.splitlines()
        messages = [json.loads(line) for line in lines]
        assert [m["to"] for m in messages[:2]] == ["bob@contoso.com", "alice@contoso.com"]
        assert set(messages[0]) == {"channel", "to", "subject", "body", "sent_at"}
        assert messages[0]["channel"] == "email"
        only = sspr("outbox", "--json", "--to", "alice@contoso.com").stdout.splitlines()
        assert {json.loads(line)["to"] for line in only} == {"alice@contoso.com"}
