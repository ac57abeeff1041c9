"""The production settings pass Django's deployment checklist, and the secret key file.

Each test runs the `sspr` command in a child process with an environment of its own, as an
operator would, so that nothing from the test settings leaks in.
"""

from __future__ import annotations

import os
import secrets
import stat
import string
import subprocess
import sys
from pathlib import Path

import pytest

# Variables the settings read; none of the test run's own may reach the child.
_OPERATOR_VARIABLES = ("SSPR_", "SMTP_", "DATABASE_URL", "REDIS_URL", "SECRET_KEY",
                       "DJANGO_SETTINGS_MODULE")


def random_secret_key(length: int = 60) -> str:
    alphabet = string.ascii_letters + string.digits + "!@#%^&*(-_=+)"
    return "".join(secrets.choice(alphabet) for _ in range(length))


def operator_env(data_dir: Path, **overrides: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(_OPERATOR_VARIABLES)}
    env.update(SSPR_DATA_DIR=str(data_dir), DJANGO_SETTINGS_MODULE="sspr.settings", **overrides)
    return env


def sspr(*args: str, env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "sspr.cli.main", *args],
        env=env, cwd=cwd, capture_output=True, text=True, timeout=120, check=False,
    )


def deploy_check(tmp_path: Path, **overrides: str) -> subprocess.CompletedProcess[str]:
    production = {"SSPR_BASE_URL": "https://sspr.example.com", "SECRET_KEY": random_secret_key()}
    env = operator_env(tmp_path / "data", **{**production, **overrides})
    return sspr("check", "--deploy", "--fail-level", "WARNING", env=env, cwd=tmp_path)


def test_production_settings_pass_the_deployment_checklist(tmp_path: Path) -> None:
    result = deploy_check(tmp_path)
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    assert "System check identified no issues" in result.stdout, output
    assert "WARNING" not in output and "?: (" not in output, output


@pytest.mark.parametrize(
    ("overrides", "check_id"),
    [
        ({"SECRET_KEY": "changeme"}, "security.W009"),
        ({"SSPR_SSL_REDIRECT": "false"}, "security.W008"),
    ],
    ids=["weak-secret-key", "no-https-redirect"],
)
def test_the_checklist_does_fail_on_a_weakened_setting(
    tmp_path: Path, overrides: dict[str, str], check_id: str
) -> None:
    """The check above is not blind: weakening one setting makes it fail."""
    result = deploy_check(tmp_path, **overrides)
    assert result.returncode != 0
    assert check_id in result.stderr, result.stdout + result.stderr


def test_a_fresh_data_directory_gets_a_private_secret_key_that_is_kept(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    env = operator_env(data_dir)
    key_file = data_dir / "secret_key"

    first = sspr("tenant", "list", env=env, cwd=tmp_path)
    assert first.returncode == 0, first.stdout + first.stderr
    assert key_file.is_file()
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    key = key_file.read_text().strip()
    assert len(key) >= 50

    second = sspr("tenant", "list", env=env, cwd=tmp_path)
    assert second.returncode == 0, second.stdout + second.stderr
    assert key_file.read_text().strip() == key
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
