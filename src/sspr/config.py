"""Configuration from the environment, and the data directory it points to.

Every setting an operator may change is read here, once, so that `settings.py` stays wiring.
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path


def env(name: str, default: str = "") -> str:
    return os.environ.get(name, default).strip()


def env_bool(name: str, default: bool = False) -> bool:
    value = env(name)
    if not value:
        return default
    return value.lower() in {"1", "true", "yes", "on"}


def env_choice(name: str, default: str, choices: tuple[str, ...]) -> str:
    """One of `choices`; anything else stops the start, rather than run on a guess."""
    value = env(name, default).lower()
    if value not in choices:
        raise ValueError(f"{name} must be one of {', '.join(choices)}, not {value!r}.")
    return value


def data_dir() -> Path:
    path = Path(env("SSPR_DATA_DIR", "var")).resolve()
    path.mkdir(parents=True, exist_ok=True)
    return path


def secret_key(directory: Path) -> str:
    """SECRET_KEY from the environment, else from `secret_key` in the data directory.

    The file is created on first run with mode 0600 so that a fresh installation is never
    left on a known key.
    """
    value = env("SECRET_KEY")
    if value:
        return value
    path = directory / "secret_key"
    try:
        return path.read_text().strip()
    except FileNotFoundError:
        pass
    key = secrets.token_urlsafe(50)
    # O_EXCL: two processes starting together must agree on one key.
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return path.read_text().strip()
    with os.fdopen(fd, "w") as handle:
        handle.write(key + "\n")
    return key
