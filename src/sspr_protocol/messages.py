"""Versioned messages of the agent channel, with one canonical JSON form for signing."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field, fields
from enum import StrEnum
from typing import Any, TypeVar

from sspr_protocol import VERSION

T = TypeVar("T")


class CommandKind(StrEnum):
    PING = "ping"
    RESET_PASSWORD = "reset_password"  # an administrator's or self-service reset
    CHANGE_PASSWORD = "change_password"  # the user's own change: old and new, history applies
    UNLOCK = "unlock"
    VERIFY_CREDENTIALS = "verify_credentials"  # pass-through sign-in: an LDAP bind
    CHECK_PASSWORD = "check_password"  # the pre-check: would the directory accept it?


class Outcome(StrEnum):
    """Stable codes for what a directory answered, whichever directory it was."""

    OK = "ok"
    PASSWORD_TOO_SHORT = "password_too_short"
    PASSWORD_NOT_COMPLEX = "password_not_complex"
    PASSWORD_IN_HISTORY = "password_in_history"
    PASSWORD_TOO_YOUNG = "password_too_young"
    PASSWORD_UNCHANGED = "password_unchanged"
    WRONG_PASSWORD = "wrong_password"
    MUST_CHANGE = "must_change_password"
    ACCOUNT_LOCKED = "account_locked"
    ACCOUNT_DISABLED = "account_disabled"
    USER_NOT_FOUND = "user_not_found"
    EXPIRED = "command_expired"
    DIRECTORY_UNAVAILABLE = "directory_unavailable"
    DIRECTORY_ERROR = "directory_error"


def canonical(data: dict[str, Any]) -> bytes:
    """The bytes a signature covers: sorted keys, no spaces, UTF-8."""
    return json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def fields_of(message: Any) -> dict[str, Any]:
    """A message's fields as a dict, without `asdict`'s deep copy: the sync sends hundreds of
    thousands of records, and they are encoded as JSON at once."""
    return dict(vars(message))


def _load(cls: type[T], data: dict[str, Any]) -> T:
    names = {f.name for f in fields(cls)}  # type: ignore[arg-type]
    if data.get("version", VERSION) != VERSION:
        raise ValueError(f"unsupported message version {data.get('version')!r}")
    return cls(**{k: v for k, v in data.items() if k in names})


@dataclass(frozen=True)
class Target:
    """The directory object a command acts on."""

    anchor: str  # objectGUID (AD) or entryUUID (OpenLDAP)
    dn: str
    upn: str = ""


@dataclass(frozen=True)
class Command:
    id: str
    kind: str
    idempotency_key: str
    issued_at: float
    expires_at: float
    target: dict[str, str] = field(default_factory=dict)
    # Secrets sealed to the agent's public key, base64: {"new_password": ..., "old_password": ...}
    sealed: dict[str, str] = field(default_factory=dict)
    options: dict[str, Any] = field(default_factory=dict)
    version: int = VERSION

    def unsigned(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def load(cls, data: dict[str, Any]) -> Command:
        return _load(cls, data)


@dataclass(frozen=True)
class Result:
    command_id: str
    outcome: str
    message: str = ""
    details: dict[str, Any] = field(default_factory=dict)
    version: int = VERSION

    @property
    def ok(self) -> bool:
        return self.outcome == Outcome.OK

    @classmethod
    def load(cls, data: dict[str, Any]) -> Result:
        return _load(cls, data)


@dataclass(frozen=True)
class Heartbeat:
    agent_version: str
    capabilities: list[str]
    state: str  # "idle", "syncing", "error"
    detail: dict[str, Any] = field(default_factory=dict)
    version: int = VERSION

    @classmethod
    def load(cls, data: dict[str, Any]) -> Heartbeat:
        return _load(cls, data)


@dataclass(frozen=True)
class UserRecord:
    anchor: str
    dn: str
    upn: str
    display_name: str = ""
    given_name: str = ""
    family_name: str = ""
    mail: str = ""
    mobile_phone: str = ""
    office_phone: str = ""
    enabled: bool = True
    locked_out: bool = False
    password_last_set: float | None = None


@dataclass(frozen=True)
class GroupRecord:
    anchor: str
    dn: str
    name: str
    member_anchors: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class SyncBatch:
    """One page of a sync. A full sync ends with `final`; anchors not seen by then are gone."""

    sync_id: str
    mode: str  # "full" or "delta"
    users: list[dict[str, Any]] = field(default_factory=list)
    groups: list[dict[str, Any]] = field(default_factory=list)
    deleted_anchors: list[str] = field(default_factory=list)
    cursor: str = ""  # the high-water mark to resume from after this batch
    final: bool = False
    version: int = VERSION

    @classmethod
    def load(cls, data: dict[str, Any]) -> SyncBatch:
        return _load(cls, data)
