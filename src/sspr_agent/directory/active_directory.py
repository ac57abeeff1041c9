"""Active Directory (and Samba AD DCs) through ldap3, over LDAPS (or StartTLS on ldap://).

Users are `(&(objectClass=user)(objectCategory=person))` under `base_dn` (and
`config.user_filter`); groups are `(objectClass=group)` (and `config.group_filter`). Every
object is anchored on its `objectGUID`, as a canonical lower-case UUID string (the raw value is
little-endian: `uuid.UUID(bytes_le=...)`).

Attribute mapping (`config.attributes` overrides the LDAP names on the left of each pair):

| UserRecord          | Active Directory                                                  |
|---------------------|-------------------------------------------------------------------|
| anchor              | objectGUID                                                        |
| upn                 | userPrincipalName                                                 |
| display_name        | displayName, else cn                                              |
| given_name / family | givenName / sn                                                    |
| mail                | mail                                                              |
| mobile_phone        | mobile                                                            |
| office_phone        | telephoneNumber                                                   |
| enabled             | not (userAccountControl & 0x2 ACCOUNTDISABLE)                     |
| locked_out          | lockoutTime > 0, unless msDS-User-Account-Control-Computed (when  |
|                     | the DC computes it) says the lockout has lapsed (no 0x10 LOCKOUT) |
| password_last_set   | pwdLastSet (FILETIME → unix seconds); 0 ("must change") → None    |
| GroupRecord.members | member DNs (ranged retrieval followed) → the objectGUIDs of       |
|                     | in-scope users and groups; out-of-scope DNs are left out          |

Sync: `cursor()` is the rootDSE's highestCommittedUSN; `read_changes(cursor)` reads
`(uSNChanged>=cursor+1)`, and the tombstones (Show Deleted control) with uSNChanged above the
cursor whose lastKnownParent was under base_dn give `deleted_anchors`. USNs belong to one DC:
the agent must keep talking to the same DC, or run a full sync after switching. An object moved
out of scope is found by the full sync's "not seen" rule. Take the cursor *before* a full read.

Writeback (the service account needs Reset Password, write pwdLastSet and lockoutTime):
- reset: unicodePwd replaced (an administrator's reset: no history or minimum age, length and
  complexity apply) together with pwdLastSet in the same modify: 0 when the user must change at
  next logon, -1 otherwise (now: never forced).
- reset with `enforce_policy` (a self-service reset): the same modify with the
  LDAP_SERVER_POLICY_HINTS control (1.2.840.113556.1.4.2239, value 1, not critical), with which
  a Windows DC applies the password history to the reset as well, as for Entra's password
  writeback (not tried here against a Windows DC). Samba (4.17 here) does not know the
  control and passes over it (non-critical): on a Samba DC a reset, self-service or not, is
  checked for length and complexity but never for history, which applies only to the user's own
  change. A Windows refusal without a reason is then worked out as for a change (history after
  length and complexity), the minimum age aside.
- change: as the user (bind with the old password, then delete old / add new unicodePwd on that
  connection): history, minimum age, length and complexity apply; a wrong old password counts as
  a bad attempt towards the lockout. A user who must change (bind answers 773) or whose password
  expired (532) cannot bind: the same delete/add goes over the service account's connection,
  which AD still treats as the user's own change (old password checked, history applies).
- unlock: lockoutTime = 0 (also clears badPwdCount).
- verify_credentials: a simple bind as the user; an empty password is refused before binding.

Errors → Outcome:

| DC answer                                                      | Outcome                    |
|----------------------------------------------------------------|----------------------------|
| 0000052D ... "too short"                                       | PASSWORD_TOO_SHORT         |
| 0000052D ... "complexity criteria"                             | PASSWORD_NOT_COMPLEX       |
| 0000052D ... "already used (in history)"                       | PASSWORD_IN_HISTORY        |
| 0000052D ... "already used (previous password)"                | PASSWORD_UNCHANGED         |
| 0000052D ... "too young"                                       | PASSWORD_TOO_YOUNG         |
| 0000052D without a reason (Windows DCs say only "data 0")      | worked out from the policy |
|                                                                | (length, complexity, age;  |
|                                                                | else history on a change)  |
| 00000056 (wrong old password); bind 49 data 52e                | WRONG_PASSWORD             |
| 00000775; bind data 775                                        | ACCOUNT_LOCKED             |
| bind data 533 (disabled), 701 (account expired)                | ACCOUNT_DISABLED           |
| bind data 773 (must change), 532 (password expired)            | MUST_CHANGE                |
| bind data 525; 52e and the DN does not exist; 32 noSuchObject  | USER_NOT_FOUND             |
| socket / TLS failure, 51 busy, 52 unavailable                  | DIRECTORY_UNAVAILABLE      |
| anything else (50 insufficientAccessRights, 53 without 052D,   | DIRECTORY_ERROR (with the  |
| bind 530/531 logon hours / workstation, ...)                   | DC's words)                |
"""

from __future__ import annotations

import functools
import re
import time
import uuid
from collections.abc import Iterator
from typing import Any

from ldap3 import BASE, MODIFY_ADD, MODIFY_DELETE, MODIFY_REPLACE, Connection
from ldap3.core.exceptions import LDAPCommunicationError

from sspr_agent.directory import (
    UNAVAILABLE_RESULTS,
    DirectoryError,
    LdapLink,
    dn_within,
    first,
    naming_context,
    text,
    values,
)
from sspr_agent.directory.base import DirectoryConfig, OperationResult, Page
from sspr_agent.directory.reading import Account, Entry, Schema, SyncReader
from sspr_protocol.messages import Outcome

SHOW_DELETED_OID = "1.2.840.113556.1.4.417"
UF_ACCOUNTDISABLE = 0x2
UF_LOCKOUT = 0x10
DOMAIN_PASSWORD_COMPLEX = 0x1  # pwdProperties
# FILETIME: 100 ns intervals since 1601-01-01 UTC.
_FILETIME_UNIX_EPOCH = 116_444_736_000_000_000
# LDAP_SERVER_POLICY_HINTS: BER SEQUENCE { Flags INTEGER 1 } (1: enforce the history on a reset).
POLICY_HINTS_OID = "1.2.840.113556.1.4.2239"
POLICY_HINTS = [(POLICY_HINTS_OID, False, b"\x30\x03\x02\x01\x01")]
_NEVER = (0, 0x7FFFFFFFFFFFFFFF)
_RANGE = re.compile(r"^(?P<name>[^;]+);range=(?P<low>\d+)-(?P<high>\d+|\*)$", re.IGNORECASE)
_DATA_CODE = re.compile(r"\bdata ([0-9a-fA-F]+)\b")

# AD bind "data" sub-codes.
_BIND_CODES = {
    "52e": (Outcome.WRONG_PASSWORD, "wrong password"),
    "525": (Outcome.USER_NOT_FOUND, "no such user"),
    "530": (Outcome.DIRECTORY_ERROR, "not permitted to log on at this time"),
    "531": (Outcome.DIRECTORY_ERROR, "not permitted to log on at this workstation"),
    "532": (Outcome.MUST_CHANGE, "password expired"),
    "533": (Outcome.ACCOUNT_DISABLED, "account disabled"),
    "701": (Outcome.ACCOUNT_DISABLED, "account expired"),
    "773": (Outcome.MUST_CHANGE, "the user must change the password"),
    "775": (Outcome.ACCOUNT_LOCKED, "account locked out"),
}
_REASONS = (
    ("too short", Outcome.PASSWORD_TOO_SHORT),
    ("complexity", Outcome.PASSWORD_NOT_COMPLEX),
    ("(previous password)", Outcome.PASSWORD_UNCHANGED),
    ("history", Outcome.PASSWORD_IN_HISTORY),
    ("too young", Outcome.PASSWORD_TOO_YOUNG),
)


def filetime_to_unix(value: Any) -> float | None:
    """AD FILETIME (int or str) → unix seconds; 0 and "never" → None."""
    try:
        number = int(value)
    except (TypeError, ValueError):
        return None
    if number in _NEVER or number < 0:
        return None
    return (number - _FILETIME_UNIX_EPOCH) / 10_000_000


def guid_of(entry: Entry) -> str:
    """objectGUID as a canonical lower-case UUID string ('' when absent)."""
    raw = first(entry.get("raw_attributes") or {}, "objectGUID")
    if isinstance(raw, bytes) and len(raw) == 16:
        return str(uuid.UUID(bytes_le=raw))
    value = first(entry.get("attributes") or {}, "objectGUID")
    if isinstance(value, bytes) and len(value) == 16:
        return str(uuid.UUID(bytes_le=value))
    if isinstance(value, str) and value:
        return str(uuid.UUID(value.strip("{}")))
    return ""


def account_of(attributes: dict[str, Any]) -> Account:
    """A user's account state (the table above: enabled, locked_out, password_last_set)."""
    uac = _int(first(attributes, "userAccountControl"))
    lockout_time = _int(first(attributes, "lockoutTime"))
    computed = first(attributes, "msDS-User-Account-Control-Computed")
    return Account(
        enabled=not uac & UF_ACCOUNTDISABLE,
        locked_out=lockout_time > 0 and (computed is None or bool(_int(computed) & UF_LOCKOUT)),
        password_last_set=filetime_to_unix(first(attributes, "pwdLastSet")),
    )


SCHEMA = Schema(
    user_classes="(&(objectClass=user)(objectCategory=person))",
    group_classes="(objectClass=group)",
    anchor="objectGUID",
    anchor_of=guid_of,
    dn_attribute="distinguishedName",
    member_attributes=("member",),
    upn="userPrincipalName",
    account_attributes=(
        "userAccountControl",
        "lockoutTime",
        "pwdLastSet",
        "msDS-User-Account-Control-Computed",
    ),
    account_of=account_of,
)


def bind_data_code(message: str | None) -> str | None:
    """The AD sub-code of a bind error ("... AcceptSecurityContext error, data 775, v1db1")."""
    match = _DATA_CODE.search(message or "")
    return match.group(1).lower() if match else None


def meets_ad_complexity(password: str, sam_account_name: str = "", display_name: str = "") -> bool:
    """Windows' "password must meet complexity requirements".

    Not the account name (3+ characters) nor any 3+ character token of the display name, and
    characters of 3 of the 5 kinds: upper case, lower case, digits, other (non-alphanumeric),
    letters that are neither upper nor lower case.
    """
    lowered = password.lower()
    if len(sam_account_name) >= 3 and sam_account_name.lower() in lowered:
        return False
    for token in re.split(r"[,.\-_#\s]+", display_name or ""):
        if len(token) >= 3 and token.lower() in lowered:
            return False
    kinds = [
        any(c.isupper() for c in password),
        any(c.islower() for c in password),
        any(c in "0123456789" for c in password),
        any(not c.isalnum() for c in password),
        any(c.isalpha() and not c.isupper() and not c.islower() for c in password),
    ]
    return sum(kinds) >= 3


def _encode_password(password: str) -> bytes:
    return f'"{password}"'.encode("utf-16-le")


class ActiveDirectory:
    """The `Directory` protocol for Active Directory and Samba AD DCs."""

    def __init__(self, config: DirectoryConfig) -> None:
        self.config = config
        self.link = LdapLink(config, default_port=389)
        self._naming_context: str | None = None
        self.reads = SyncReader(self.link, SCHEMA, member_dns=self._member_dns)

    # ---------------------------------------------------------------- reads
    def _member_dns(self, entry: Entry) -> list[str]:
        # Another connection: a search in the middle of a paged search may end it.
        return self.link.with_service(functools.partial(self._members, entry=entry))

    def _members(self, conn: Connection, entry: Entry) -> list[str]:
        """All member DNs, following ranged retrieval (a DC hands out 1500 values at a time)."""
        attributes = entry.get("attributes") or {}
        members = [str(v) for v in values(attributes, "member")]
        ranged = [(k, v) for k, v in attributes.items() if _RANGE.match(k)]
        while ranged:
            key, found = ranged[0]
            members.extend(str(v) for v in found)
            match = _RANGE.match(key)
            assert match is not None
            if match["high"] == "*":
                break
            following = f"member;range={int(match['high']) + 1}-*"
            conn.search(entry["dn"], "(objectClass=*)", BASE, attributes=[following])
            if conn.result.get("result") != 0 or not conn.response:
                raise DirectoryError(
                    Outcome.DIRECTORY_ERROR, f"ranged read of {entry['dn']}: {conn.result}"
                )
            attributes = conn.response[0].get("attributes") or {}
            ranged = [(k, v) for k, v in attributes.items() if _RANGE.match(k)]
        return members

    def read_all(self, page_size: int = 1000) -> Iterator[Page]:
        yield from self.reads.pages(page_size)

    def read_changes(self, cursor: str, page_size: int = 1000) -> Iterator[Page]:
        try:
            usn = int(cursor)
        except ValueError:
            raise DirectoryError(Outcome.DIRECTORY_ERROR, f"not an AD USN: {cursor!r}") from None
        with self.link.reader() as conn:
            yield from self.reads.read(conn, page_size, since=f"(uSNChanged>={usn + 1})")
            deleted = self._tombstones(conn, usn, page_size)
        for start in range(0, len(deleted), max(1, page_size)):
            yield Page(users=[], groups=[], deleted_anchors=deleted[start : start + page_size])

    def _tombstones(self, conn: Connection, usn: int, page_size: int) -> list[str]:
        """objectGUIDs of users and groups deleted since `usn` that were under base_dn."""
        search_filter = (
            f"(&(isDeleted=TRUE)(uSNChanged>={usn + 1})(|(objectClass=user)(objectClass=group)))"
        )
        anchors: list[str] = []
        try:
            pages = list(
                self.link.paged_search(
                    conn,
                    self._domain(conn),
                    search_filter,
                    ["objectGUID", "lastKnownParent"],
                    page_size,
                    controls=[(SHOW_DELETED_OID, True, None)],
                )
            )
        except DirectoryError as exc:
            if exc.outcome == Outcome.DIRECTORY_UNAVAILABLE:
                raise
            return []  # no right to see tombstones: the full sync finds deletions
        for entries in pages:
            for entry in entries:
                parent = text(entry.get("attributes") or {}, "lastKnownParent")
                if parent and not dn_within(parent, self.config.base_dn):
                    continue
                guid = guid_of(entry)
                if guid:
                    anchors.append(guid)
        return anchors

    def _domain(self, conn: Connection) -> str:
        """The naming context (domain) holding base_dn: where tombstones and the policy live."""
        if self._naming_context is None:
            root = self._root_dse(conn)
            contexts = [str(v) for v in values(root, "namingContexts")]
            self._naming_context = (
                naming_context(contexts, self.config.base_dn)
                or text(root, "defaultNamingContext")
                or self.config.base_dn
            )
        return self._naming_context

    @staticmethod
    def _root_dse(conn: Connection) -> dict[str, Any]:
        # By name, ldap3 (with a schema loaded) refuses highestCommittedUSN: ask for '*'.
        conn.search("", "(objectClass=*)", BASE, attributes=["*"])
        if conn.result.get("result") != 0 or not conn.response:
            raise DirectoryError(Outcome.DIRECTORY_ERROR, f"cannot read the rootDSE: {conn.result}")
        return dict(conn.response[0].get("attributes") or {})

    def cursor(self) -> str:
        def operation(conn: Connection) -> str:
            usn = text(self._root_dse(conn), "highestCommittedUSN")
            if not usn.isdigit():
                raise DirectoryError(Outcome.DIRECTORY_ERROR, "no highestCommittedUSN")
            return usn

        return self.link.with_service(operation)

    # ---------------------------------------------------------------- writeback
    def reset_password(
        self, dn: str, new_password: str, must_change: bool, enforce_policy: bool = False
    ) -> OperationResult:
        if not new_password:
            return OperationResult(Outcome.PASSWORD_TOO_SHORT, "an empty password is refused")

        def operation(conn: Connection) -> OperationResult:
            conn.modify(
                dn,
                {
                    "unicodePwd": [(MODIFY_REPLACE, [_encode_password(new_password)])],
                    "pwdLastSet": [(MODIFY_REPLACE, ["0" if must_change else "-1"])],
                },
                controls=POLICY_HINTS if enforce_policy else None,
            )
            return self._outcome(
                conn, conn.result, dn, new_password, change=False, history=enforce_policy
            )

        return self.link.service_result(operation)

    def change_password(self, dn: str, old_password: str, new_password: str) -> OperationResult:
        if not old_password:
            return OperationResult(Outcome.WRONG_PASSWORD, "empty old password refused")
        if not new_password:
            return OperationResult(Outcome.PASSWORD_TOO_SHORT, "an empty password is refused")
        changes = {
            "unicodePwd": [
                (MODIFY_DELETE, [_encode_password(old_password)]),
                (MODIFY_ADD, [_encode_password(new_password)]),
            ]
        }

        def as_the_user(conn: Connection) -> OperationResult | None:
            if conn.bound:
                conn.modify(dn, changes)
                return self._outcome(conn, conn.result, dn, new_password, change=True)
            failure = self._bind_failure(dn, conn.result)
            return None if failure.outcome == Outcome.MUST_CHANGE else failure

        answer = self.link.as_user(dn, old_password, as_the_user)
        if answer is not None:
            return answer

        # Must change (773) or expired (532): the user cannot bind, but may still change the
        # password knowing the old one. Over the service connection; not repeated if it breaks.
        def operation(service: Connection) -> OperationResult:
            service.modify(dn, changes)
            return self._outcome(service, service.result, dn, new_password, change=True)

        return self.link.service_result(operation, retry=False)

    def unlock(self, dn: str) -> OperationResult:
        def operation(conn: Connection) -> OperationResult:
            conn.modify(dn, {"lockoutTime": [(MODIFY_REPLACE, ["0"])]})
            return self._outcome(conn, conn.result, dn, "", change=False)

        return self.link.service_result(operation)

    def verify_credentials(self, dn: str, password: str) -> OperationResult:
        def operation(conn: Connection) -> OperationResult:
            if conn.bound:
                return OperationResult(Outcome.OK)
            return self._bind_failure(dn, conn.result)

        return self.link.as_user(dn, password, operation)

    def close(self) -> None:
        self.link.close()

    # ---------------------------------------------------------------- mapping
    def _exists(self, dn: str) -> bool | None:
        def operation(conn: Connection) -> bool | None:
            conn.search(dn, "(objectClass=*)", BASE, attributes=["objectGUID"])
            code = conn.result.get("result")
            if code == 0:
                return True
            if code in (32, 34):
                return False
            return None

        try:
            found: bool | None = self.link.with_service(operation)
        except DirectoryError:
            return None
        return found

    def _bind_failure(self, dn: str, result: dict[str, Any] | None) -> OperationResult:
        result = result or {}
        code = result.get("result")
        message = str(result.get("message") or "")
        if code != 49:
            return outcome_of(result)
        outcome, words = _BIND_CODES.get(
            bind_data_code(message) or "", (Outcome.WRONG_PASSWORD, "")
        )
        if outcome == Outcome.WRONG_PASSWORD and self._exists(dn) is False:
            return OperationResult(Outcome.USER_NOT_FOUND, f"no entry {dn}")
        return OperationResult(outcome, f"{words}: {message}" if words else message)

    def _outcome(
        self,
        conn: Connection,
        result: dict[str, Any] | None,
        dn: str,
        password: str,
        *,
        change: bool,
        history: bool | None = None,
    ) -> OperationResult:
        """`history`: the write was checked against the history (a change; a reset with the
        policy hints). By default, a change is."""
        answer = outcome_of(result)
        if answer.outcome == Outcome.DIRECTORY_ERROR and "0000052D" in answer.message.upper():
            # A Windows DC does not say why: work it out from the policy.
            return self._explain_policy_refusal(
                conn,
                dn,
                password,
                answer.message,
                change=change,
                history=change if history is None else history,
            )
        return answer

    def _explain_policy_refusal(
        self, conn: Connection, dn: str, password: str, words: str, *, change: bool, history: bool
    ) -> OperationResult:
        """Which rule a 0000052D refusal most likely hit, from the effective password policy."""
        try:
            conn.search(
                dn,
                "(objectClass=*)",
                BASE,
                attributes=["sAMAccountName", "displayName", "pwdLastSet", "msDS-ResultantPSO"],
            )
            user = (conn.response or [{}])[0].get("attributes") or {}
            policy = self._policy(conn, text(user, "msDS-ResultantPSO"))
        except (LDAPCommunicationError, DirectoryError, IndexError):
            return OperationResult(Outcome.PASSWORD_NOT_COMPLEX, words)
        guessed = f"{words} (reason worked out from the password policy)"
        if len(password) < policy["min_length"]:
            return OperationResult(Outcome.PASSWORD_TOO_SHORT, guessed)
        if policy["complex"] and not meets_ad_complexity(
            password, text(user, "sAMAccountName"), text(user, "displayName")
        ):
            return OperationResult(Outcome.PASSWORD_NOT_COMPLEX, guessed)
        if change:
            last_set = filetime_to_unix(first(user, "pwdLastSet"))
            if policy["min_age"] > 0 and last_set and last_set + policy["min_age"] > time.time():
                return OperationResult(Outcome.PASSWORD_TOO_YOUNG, guessed)
        if history:
            return OperationResult(Outcome.PASSWORD_IN_HISTORY, guessed)
        # A reset skips history and age: a password filter (or a rule we do not know) refused.
        return OperationResult(Outcome.PASSWORD_NOT_COMPLEX, guessed)

    def _policy(self, conn: Connection, pso_dn: str) -> dict[str, Any]:
        """min_length, complex, min_age (seconds): the user's PSO if readable, else the domain."""
        if pso_dn:
            conn.search(
                pso_dn,
                "(objectClass=*)",
                BASE,
                attributes=[
                    "msDS-MinimumPasswordLength",
                    "msDS-PasswordComplexityEnabled",
                    "msDS-MinimumPasswordAge",
                ],
            )
            if conn.result.get("result") == 0 and conn.response:
                pso = conn.response[0].get("attributes") or {}
                return {
                    "min_length": _int(first(pso, "msDS-MinimumPasswordLength")),
                    "complex": text(pso, "msDS-PasswordComplexityEnabled").upper() == "TRUE",
                    "min_age": abs(_int(first(pso, "msDS-MinimumPasswordAge"))) / 10_000_000,
                }
        domain = self._domain(conn)
        conn.search(
            domain,
            "(objectClass=*)",
            BASE,
            attributes=["minPwdLength", "pwdProperties", "minPwdAge"],
        )
        found = (conn.response or [{}])[0].get("attributes") or {}
        return {
            "min_length": _int(first(found, "minPwdLength")),
            "complex": bool(_int(first(found, "pwdProperties")) & DOMAIN_PASSWORD_COMPLEX),
            "min_age": abs(_int(first(found, "minPwdAge"))) / 10_000_000,
        }


def outcome_of(result: dict[str, Any] | None) -> OperationResult:
    """The Outcome of a DC's answer to a write (modify of unicodePwd, lockoutTime, ...)."""
    result = result or {}
    code = result.get("result")
    if code in (0, None):
        return OperationResult(Outcome.OK)
    message = str(result.get("message") or "")
    words = f"{code} {result.get('description')}: {message}".strip()
    upper = message.upper()
    lowered = message.lower()
    if "0000052D" in upper:
        for needle, outcome in _REASONS:
            if needle in lowered:
                return OperationResult(outcome, words)
        return OperationResult(Outcome.DIRECTORY_ERROR, words)  # explained by the caller
    if upper.startswith("00000056"):
        return OperationResult(Outcome.WRONG_PASSWORD, words)
    if upper.startswith("00000775"):
        return OperationResult(Outcome.ACCOUNT_LOCKED, words)
    if code == 49:
        outcome, _ = _BIND_CODES.get(bind_data_code(message) or "", (Outcome.WRONG_PASSWORD, ""))
        return OperationResult(outcome, words)
    if code in (32, 34):
        return OperationResult(Outcome.USER_NOT_FOUND, words)
    if code in UNAVAILABLE_RESULTS:
        return OperationResult(Outcome.DIRECTORY_UNAVAILABLE, words)
    return OperationResult(Outcome.DIRECTORY_ERROR, words)


def _int(value: Any) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        return 0
