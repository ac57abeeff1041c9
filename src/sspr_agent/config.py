"""The agent's two files: its configuration (who it is, its keys, its directory) and its state.

Both are JSON, written atomically with mode 0600: the configuration holds the agent's private keys
and the directory's bind password; the state file holds no secret but says what the agent did
(the journal of executed commands, the sync cursor, the last errors). The state file sits next to
the configuration: ``agent.json`` → ``agent.state.json``.
"""

from __future__ import annotations

import base64
import contextlib
import json
import os
import tempfile
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sspr_agent.directory.base import DirectoryConfig
from sspr_agent.journal import Journal, journal_path_for

CONFIG_FORMAT = 1
STATE_FORMAT = 1
ERRORS_KEPT = 20
DIRECTORY_KINDS = ("ad", "openldap")


class ConfigError(Exception):
    """The configuration is missing, unreadable or inconsistent. Its text is one clear line."""


def write_private(path: Path, data: dict[str, Any]) -> None:
    """Write JSON to `path` atomically, readable and writable by the owner only."""
    path = Path(path)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with contextlib.suppress(OSError):  # not every platform has POSIX modes
            os.fchmod(fd, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            json.dump(data, fh, indent=2, sort_keys=True)
            fh.write("\n")
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def _read_json(path: Path, what: str) -> dict[str, Any]:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(f"{what} {path} does not exist") from None
    except OSError as exc:
        raise ConfigError(f"cannot read {what} {path}: {exc.strerror}") from None
    try:
        data = json.loads(text)
    except ValueError:
        raise ConfigError(f"{what} {path} is not valid JSON") from None
    if not isinstance(data, dict):
        raise ConfigError(f"{what} {path} is not a JSON object")
    return data


def state_path_for(config_path: Path) -> Path:
    config_path = Path(config_path)
    stem = config_path.stem if config_path.suffix == ".json" else config_path.name
    return config_path.with_name(f"{stem}.state.json")


def read_password_file(path: Path) -> str:
    """The first line of a password file (a trailing newline is not part of the password)."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(f"bind password file {path} does not exist") from None
    except (OSError, UnicodeDecodeError):
        raise ConfigError(f"cannot read bind password file {path}") from None
    password = text.splitlines()[0] if text else ""
    if not password:
        raise ConfigError(f"bind password file {path} is empty")
    return password


@dataclass
class DirectorySettings:
    kind: str
    url: str
    bind_dn: str
    base_dn: str
    # The bind password is kept in the 0600 configuration (copied from --bind-password-file at
    # enrolment). An operator may instead set `bind_password_file` (and drop `bind_password`) to
    # rotate the service account's password without touching this file; it is re-read at start.
    bind_password: str = field(default="", repr=False)
    bind_password_file: str = ""
    user_filter: str = ""
    group_filter: str = ""
    attributes: dict[str, str] = field(default_factory=dict)
    start_tls: bool = True  # ldap:// URLs only; off is for a loopback test server
    timeout: float = 10.0
    # OpenLDAP: the ppolicy overlay's default policy entry, when the agent cannot find it alone.
    default_policy_dn: str = ""

    def password(self) -> str:
        if self.bind_password_file:
            return read_password_file(Path(self.bind_password_file))
        return self.bind_password


@dataclass
class AgentConfig:
    path: Path
    service_url: str
    agent_id: str
    tenant: str
    name: str
    sign_private_key: str = field(repr=False)  # base64 Ed25519 seed
    box_private_key: str = field(repr=False)  # base64 X25519 private key
    service_sign_public_key: str  # base64, pinned at enrolment
    directory: DirectorySettings
    ca_file: str = ""
    insecure_tls: bool = False
    sync_interval: int = 120
    enrolled_at: float = 0.0

    @property
    def state_path(self) -> Path:
        return state_path_for(self.path)

    def directory_config(self) -> DirectoryConfig:
        d = self.directory
        return DirectoryConfig(
            kind=d.kind,
            url=d.url,
            bind_dn=d.bind_dn,
            bind_password=d.password(),
            base_dn=d.base_dn,
            user_filter=d.user_filter,
            ca_file=self.ca_file,
            insecure_tls=self.insecure_tls,
            attributes=dict(d.attributes),
            group_filter=d.group_filter,
            start_tls=d.start_tls,
            timeout=d.timeout,
            default_policy_dn=d.default_policy_dn,
        )

    def to_json(self) -> dict[str, Any]:
        d = self.directory
        directory: dict[str, Any] = {
            "kind": d.kind,
            "url": d.url,
            "bind_dn": d.bind_dn,
            "base_dn": d.base_dn,
            "user_filter": d.user_filter,
            "group_filter": d.group_filter,
            "attributes": dict(d.attributes),
            "start_tls": d.start_tls,
            "timeout": d.timeout,
        }
        if d.default_policy_dn:
            directory["default_policy_dn"] = d.default_policy_dn
        if d.bind_password_file:
            directory["bind_password_file"] = d.bind_password_file
        else:
            directory["bind_password"] = d.bind_password
        return {
            "format": CONFIG_FORMAT,
            "service_url": self.service_url,
            "agent_id": self.agent_id,
            "tenant": self.tenant,
            "name": self.name,
            "enrolled_at": self.enrolled_at,
            "keys": {
                "sign_private_key": self.sign_private_key,
                "box_private_key": self.box_private_key,
                "service_sign_public_key": self.service_sign_public_key,
            },
            "directory": directory,
            "tls": {"ca_file": self.ca_file, "insecure": self.insecure_tls},
            "sync_interval": self.sync_interval,
        }

    def save(self) -> None:
        write_private(self.path, self.to_json())

    @classmethod
    def load(cls, path: Path) -> AgentConfig:
        path = Path(path)
        data = _read_json(path, "configuration")
        if data.get("format") != CONFIG_FORMAT:
            raise ConfigError(f"configuration {path} has an unknown format {data.get('format')!r}")
        try:
            keys = data["keys"]
            d = data["directory"]
            tls = data.get("tls", {})
            config = cls(
                path=path,
                service_url=str(data["service_url"]).rstrip("/"),
                agent_id=str(data["agent_id"]),
                tenant=str(data.get("tenant", "")),
                name=str(data.get("name", "")),
                sign_private_key=str(keys["sign_private_key"]),
                box_private_key=str(keys["box_private_key"]),
                service_sign_public_key=str(keys["service_sign_public_key"]),
                directory=DirectorySettings(
                    kind=str(d["kind"]),
                    url=str(d["url"]),
                    bind_dn=str(d["bind_dn"]),
                    base_dn=str(d["base_dn"]),
                    bind_password=str(d.get("bind_password", "")),
                    bind_password_file=str(d.get("bind_password_file", "")),
                    user_filter=str(d.get("user_filter", "")),
                    group_filter=str(d.get("group_filter", "")),
                    start_tls=bool(d.get("start_tls", True)),
                    timeout=float(d.get("timeout", 10.0)),
                    default_policy_dn=str(d.get("default_policy_dn", "")),
                    attributes={str(k): str(v) for k, v in d.get("attributes", {}).items()},
                ),
                ca_file=str(tls.get("ca_file", "")),
                insecure_tls=bool(tls.get("insecure", False)),
                sync_interval=int(data.get("sync_interval", 120)),
                enrolled_at=float(data.get("enrolled_at", 0.0)),
            )
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise ConfigError(
                f"configuration {path} is incomplete ({exc.__class__.__name__}: "
                f"{exc.args[0] if exc.args else ''})"
            ) from None
        config.validate()
        return config

    def validate(self) -> None:
        where = f"configuration {self.path}"
        if self.directory.kind not in DIRECTORY_KINDS:
            raise ConfigError(
                f"{where}: directory kind must be one of {', '.join(DIRECTORY_KINDS)}"
            )
        if not self.service_url.startswith(("https://", "http://")):
            raise ConfigError(f"{where}: service_url must be an http(s) URL")
        if self.ca_file and self.insecure_tls:
            raise ConfigError(f"{where}: tls.ca_file and tls.insecure exclude each other")
        if self.sync_interval < 10:
            raise ConfigError(f"{where}: sync_interval must be at least 10 seconds")
        for name in ("sign_private_key", "box_private_key", "service_sign_public_key"):
            try:
                raw = base64.b64decode(getattr(self, name), validate=True)
            except ValueError:
                raise ConfigError(f"{where}: keys.{name} is not base64") from None
            if len(raw) != 32:
                raise ConfigError(f"{where}: keys.{name} is not a 32-byte key")
        if not self.directory.bind_password and not self.directory.bind_password_file:
            raise ConfigError(f"{where}: directory.bind_password or bind_password_file is required")


def _empty_state() -> dict[str, Any]:
    return {
        "format": STATE_FORMAT,
        "agent": {},
        "sync": {},
        "errors": [],
    }


class StateStore:
    """The state file: read once, changed in memory under a lock, written atomically (0600).

    Nothing secret goes in: results carry outcome codes and the directory's words, never a
    password; errors carry short descriptions, never request bodies.
    """

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self._lock = threading.RLock()
        self.journal = Journal(journal_path_for(self.path))
        self._data = self._read()

    def _read(self) -> dict[str, Any]:
        if not self.path.exists():
            return _empty_state()
        try:
            data = _read_json(self.path, "state file")
        except ConfigError:
            # A damaged state file must not stop the agent; keep the bad one for inspection.
            with contextlib.suppress(OSError):
                os.replace(self.path, self.path.with_name(self.path.name + ".corrupt"))
            return _empty_state()
        state = _empty_state()
        for key in state:
            if key in data and isinstance(data[key], type(state[key])):
                state[key] = data[key]
        old_journal = data.get("journal")
        if isinstance(old_journal, dict) and old_journal and not self.journal.entries():
            # A state file of an earlier version kept the journal inside: move it out.
            self.journal.replace_all(old_journal)
            write_private(self.path, state)
        return state

    @contextlib.contextmanager
    def update(self) -> Iterator[dict[str, Any]]:
        """Change the state and write it: ``with store.update() as s: s["sync"]["cursor"] = c``."""
        with self._lock:
            yield self._data
            write_private(self.path, self._data)

    def snapshot(self) -> dict[str, Any]:
        with self._lock:
            copied: dict[str, Any] = json.loads(json.dumps(self._data))
            return copied

    # The journal of executed commands, keyed by idempotency key (sspr_agent.journal).

    def journal_get(self, key: str) -> dict[str, Any] | None:
        return self.journal.get(key)

    def journal_start(self, key: str, command_id: str, kind: str) -> None:
        self.journal.start(key, command_id, kind)

    def journal_done(self, key: str, command_id: str, kind: str, result: dict[str, Any]) -> None:
        self.journal.done(key, command_id, kind, result)
        with self._lock:
            # In memory only: the next write of the state (a heartbeat, the stop) carries them.
            counts = self._data["agent"].setdefault("commands", {})
            counts[kind] = counts.get(kind, 0) + 1
            self._data["agent"]["last_command"] = {
                "kind": kind,
                "outcome": result.get("outcome"),
                "at": time.time(),
            }

    def record_error(self, where: str, message: str) -> None:
        with self.update() as s:
            s["errors"].append({"at": time.time(), "where": where, "message": message[:300]})
            del s["errors"][:-ERRORS_KEPT]
