"""What the agent needs from a directory, whichever it is.

Every operation answers with an `Outcome` code of `sspr_protocol.messages` (never a raw LDAP
error): the service turns the code into words for the user.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Protocol

from sspr_protocol.messages import GroupRecord, Outcome, UserRecord


@dataclass(frozen=True)
class DirectoryConfig:
    kind: str  # "ad" or "openldap"
    url: str  # ldaps://dc.example.com or ldap://127.0.0.1:3890 (StartTLS where offered)
    bind_dn: str
    bind_password: str
    base_dn: str
    user_filter: str = ""  # an extra LDAP filter that scopes which users sync
    ca_file: str = ""
    insecure_tls: bool = False
    # Attribute overrides: {"upn": "mail", "mobile_phone": "mobile", ...}
    attributes: dict[str, str] = field(default_factory=dict)
    group_filter: str = ""  # an extra LDAP filter that scopes which groups sync
    # ldap:// URLs: StartTLS before anything else (False: plain LDAP, for a loopback test server)
    start_tls: bool = True
    timeout: float = 10.0  # seconds, to connect and for each answer
    # OpenLDAP: the policy ppolicy applies to entries without a pwdPolicySubentry (the overlay's
    # ppolicy_default / olcPPolicyDefault, which plain LDAP cannot read). Empty: found by the agent
    # (see openldap.py).
    default_policy_dn: str = ""


@dataclass(frozen=True)
class OperationResult:
    outcome: Outcome
    message: str = ""  # the directory's own words, for the audit trail and logs (no secrets)

    @property
    def ok(self) -> bool:
        return self.outcome == Outcome.OK


@dataclass(frozen=True)
class Page:
    users: list[UserRecord]
    groups: list[GroupRecord]
    deleted_anchors: list[str]


class Directory(Protocol):
    def read_all(self, page_size: int = 1000) -> Iterator[Page]:
        """Every user and group in scope, page by page (a full sync)."""
        ...

    def read_changes(self, cursor: str, page_size: int = 1000) -> Iterator[Page]:
        """What changed since `cursor` (a delta sync); deletions where the directory tells."""
        ...

    def cursor(self) -> str:
        """The current high-water mark (AD highestCommittedUSN, OpenLDAP contextCSN)."""
        ...

    def reset_password(
        self, dn: str, new_password: str, must_change: bool, enforce_policy: bool = False
    ) -> OperationResult:
        """A reset: the new password set without the old one.

        Without `enforce_policy`, an administrator's reset: the directory's history (and, where it
        allows, quality) checks are skipped. With it, a self-service reset: the directory's
        policy applies as to the user's own change (length, quality, history; not the minimum
        age), and a refusal comes back with its code before anything is written.
        """
        ...

    def change_password(self, dn: str, old_password: str, new_password: str) -> OperationResult:
        """The user's own change, as the user: history and minimum age apply."""
        ...

    def unlock(self, dn: str) -> OperationResult: ...

    def verify_credentials(self, dn: str, password: str) -> OperationResult:
        """An LDAP bind as the user. An empty password is refused before any bind."""
        ...

    def close(self) -> None: ...
