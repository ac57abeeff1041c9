"""OpenLDAP (slapd with the ppolicy overlay) through ldap3.

Users are `inetOrgPerson` entries under `base_dn` (and `config.user_filter`); groups are
`groupOfNames` / `groupOfUniqueNames` (and `config.group_filter`). Every object is anchored on its
`entryUUID`, which survives renames and moves.

Attribute mapping (`config.attributes` overrides the LDAP names on the left of each pair):

| UserRecord          | OpenLDAP                                                          |
|---------------------|-------------------------------------------------------------------|
| anchor              | entryUUID                                                         |
| upn                 | mail (override with {"upn": "uid"} or any attribute)              |
| display_name        | displayName, else cn                                              |
| given_name          | givenName                                                         |
| family_name         | sn                                                                |
| mail                | mail                                                              |
| mobile_phone        | mobile                                                            |
| office_phone        | telephoneNumber                                                   |
| enabled             | False only when pwdAccountLockedTime is 000001010000Z (ppolicy's  |
|                     | "locked for good": how an administrator disables an account)      |
| locked_out          | pwdAccountLockedTime present with any other value (a lockout; with|
|                     | pwdLockoutDuration > 0 it may have lapsed: slapd clears it on the |
|                     | next successful bind)                                             |
| password_last_set   | pwdChangedTime (unix seconds)                                     |
| GroupRecord.members | member / uniqueMember DNs → the entryUUIDs of in-scope users and  |
|                     | groups (nested groups appear as members); out-of-scope DNs are    |
|                     | left out                                                          |

Sync: `cursor()` is the suffix's `contextCSN` (needs the syncprov overlay; the greatest value when
there are several server IDs). `read_changes(cursor)` returns the entries with
`(&(entryCSN>=cursor)(!(entryCSN=cursor)))`: changed after the cursor (a CSN names a single
change; entryCSN has microseconds, where modifyTimestamp has seconds). Plain LDAP cannot list
deleted entries, so `deleted_anchors` is always empty here and deletions (and moves out of
scope) are found by the full sync's "not seen" rule. syncrepl
(RFC 4533 refreshOnly with its syncIdSet of deleted entryUUIDs) is future work. Take the cursor
*before* a full read, so that nothing changed during the read is lost. With several providers
and replication lag, an entry replicated late can carry a CSN below the cursor: run full syncs
regularly.

Writeback (the service account needs `manage` on userPassword, pwdAccountLockedTime and
pwdReset, and read on pwdHistory, pwdPolicySubentry and the pwdPolicy entries; ppolicy treats an
identity with `manage` on the password as a password administrator):
- reset: Password Modify extended operation (RFC 3062) as the service account. A password
  administrator's reset skips ppolicy's quality, history and minimum age checks (as the rootdn's
  does). ppolicy sets `pwdReset: TRUE` by itself when pwdMustChange is on; the agent then sets or
  removes it as `must_change` asks. A reset also clears a lockout (ppolicy removes
  pwdAccountLockedTime when a password changes), so a disabled account (000001010000Z) is refused
  before the reset: a reset must never re-enable an account. ppolicy records the replaced
  password in pwdHistory on an administrator's reset too.
- reset with `enforce_policy` (a self-service reset): before writing, the agent applies the
  user's effective policy as ppolicy would to the user's own change, and refuses without writing:
  with pwdCheckQuality > 0, fewer octets (UTF-8) than pwdMinLength → PASSWORD_TOO_SHORT, more than
  pwdMaxLength → DIRECTORY_ERROR; with pwdInHistory > 0, the current userPassword →
  PASSWORD_UNCHANGED and one of the newest pwdInHistory values of pwdHistory
  ("time#syntax#length#value") → PASSWORD_IN_HISTORY. Hashes are verified here ({SSHA}, {SHA},
  {SSHA256}/{SHA256}, 384, 512, {SMD5}/{MD5}, {PBKDF2-*}, {ARGON2}, {CRYPT}, {CLEARTEXT} and
  plain values); a value in another scheme cannot be compared and is logged and passed over.
  A pwdCheckModule cannot be run from here (a warning is logged), and the minimum age is not
  applied (a forgotten password may be reset at any time). The write itself is the
  administrator's reset above.
  The effective policy: the entry's pwdPolicySubentry; else `config.default_policy_dn`; else
  the overlay's olcPPolicyDefault when cn=config is readable; else the one pwdPolicy entry under
  the database's suffix, or, of several, the one named `cn=default` (the usual
  `cn=default,ou=policies,<suffix>`). No pwdPolicy entry at all: no policy, nothing checked.
  Several and none of them recognisably the default: DIRECTORY_ERROR (set default_policy_dn).
  A policy entry that is named but cannot be read: DIRECTORY_ERROR, nothing written.
- change: as the user (bind with the old password, then Password Modify with old and new), so
  pwdInHistory, pwdMinAge, pwdMinLength and quality checks apply; a wrong old password is a failed
  bind and counts towards the lockout.
- unlock: delete pwdAccountLockedTime (slapd drops pwdFailureTime, the failure count, with it; an
  account with failures but no lock gets its pwdFailureTime deleted, with the Relax control); a
  disabled account stays disabled.
- verify_credentials: a simple bind as the user with the ppolicy request control; an empty
  password is refused before binding (RFC 4513 makes it an unauthenticated bind that succeeds).

Errors → Outcome (the ppolicy response control is decoded: ldap3 hands over its raw value):

| slapd answer                                               | Outcome                 |
|------------------------------------------------------------|-------------------------|
| 19 + ppolicy passwordTooShort                              | PASSWORD_TOO_SHORT      |
| 19 + ppolicy insufficientPasswordQuality                   | PASSWORD_NOT_COMPLEX    |
| 19 + ppolicy passwordInHistory "...in history..."          | PASSWORD_IN_HISTORY     |
| 19 "Password is not being changed from existing value"     | PASSWORD_UNCHANGED      |
| 19 + ppolicy passwordTooYoung                              | PASSWORD_TOO_YOUNG      |
| 19 + ppolicy passwordTooLong                               | DIRECTORY_ERROR (no     |
|                                                            | code for it yet)        |
| 53 "unwilling to verify old password"; 49 on the user bind | WRONG_PASSWORD          |
| 49 + ppolicy accountLocked                                 | ACCOUNT_LOCKED          |
| ... and pwdAccountLockedTime is 000001010000Z              | ACCOUNT_DISABLED        |
| bind OK + ppolicy changeAfterReset (or graceAuthNsRemaining)| MUST_CHANGE            |
| 49 + ppolicy passwordExpired; 50 + changeAfterReset        | MUST_CHANGE             |
| 49 and the entry does not exist; 32 noSuchObject; 34       | USER_NOT_FOUND          |
| socket / TLS failure, 51 busy, 52 unavailable              | DIRECTORY_UNAVAILABLE   |
| anything else (50 insufficientAccess, passwordModNotAllowed| DIRECTORY_ERROR (with   |
| mustSupplyOldPassword, ...)                                | slapd's words)          |
"""

from __future__ import annotations

import base64
import binascii
import calendar
import hashlib
import hmac
import logging
import re
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from ldap3 import BASE, MODIFY_DELETE, MODIFY_REPLACE, SUBTREE, Connection

from sspr_agent.directory import (
    DirectoryError,
    LdapLink,
    dn_within,
    first,
    naming_context,
    norm_dn,
    text,
    unavailable_or_error,
    values,
)
from sspr_agent.directory.base import DirectoryConfig, OperationResult, Page
from sspr_agent.directory.reading import Account, Entry, Schema, SyncReader
from sspr_protocol.messages import Outcome

log = logging.getLogger("sspr_agent.directory.openldap")

PPOLICY_OID = "1.3.6.1.4.1.42.2.27.8.5.1"
PPOLICY_REQUEST = [(PPOLICY_OID, False, None)]
RELAX = [("1.3.6.1.4.1.4203.666.5.12", True, None)]  # the Relax Rules control
# ppolicy: pwdAccountLockedTime with this value locks the account until an administrator acts.
DISABLED_MARK = "000001010000Z"
PPOLICY_ERRORS = {
    0: "passwordExpired",
    1: "accountLocked",
    2: "changeAfterReset",
    3: "passwordModNotAllowed",
    4: "mustSupplyOldPassword",
    5: "insufficientPasswordQuality",
    6: "passwordTooShort",
    7: "passwordTooYoung",
    8: "passwordInHistory",
    9: "passwordTooLong",
}
STATE_ATTRIBUTES = ["entryUUID", "pwdAccountLockedTime", "pwdFailureTime", "pwdReset"]
# What a policy check reads of the entry, and of its policy.
PASSWORD_ATTRIBUTES = ["userPassword", "pwdHistory", "pwdPolicySubentry"]
POLICY_ATTRIBUTES = [
    "pwdAttribute",
    "pwdMinLength",
    "pwdMaxLength",
    "pwdCheckQuality",
    "pwdInHistory",
    "pwdCheckModule",
    "pwdUseCheckModule",
]
_CSN = re.compile(r"^\d{14}(\.\d{1,6})?Z#[0-9a-fA-F]{6}#[0-9a-fA-F]{3}#[0-9a-fA-F]{6}$")
_UNIQUE_MEMBER_UID = re.compile(r"#'[01]*'B$")


# ------------------------------------------------------------------------- ppolicy control
def decode_ppolicy(value: bytes | None) -> dict[str, Any]:
    """PasswordPolicyResponseValue (draft-behera-ldap-password-policy) → {"error": name, ...}.

    SEQUENCE { warning [0] CHOICE { timeBeforeExpiration [0] INTEGER,
    graceAuthNsRemaining [1] INTEGER } OPTIONAL, error [1] ENUMERATED OPTIONAL }
    """
    out: dict[str, Any] = {}
    if not value or value[0] != 0x30:
        return out
    length, i = _ber_length(value, 1)
    end = min(len(value), i + length)
    while i < end:
        tag = value[i]
        length, start = _ber_length(value, i + 1)
        body = value[start : start + length]
        if tag == 0x81 and body:  # error [1] ENUMERATED
            code = int.from_bytes(body, "big")
            out["error"] = PPOLICY_ERRORS.get(code, str(code))
        elif tag == 0xA0 and len(body) >= 2:  # warning [0]
            inner_length, inner_start = _ber_length(body, 1)
            number = int.from_bytes(body[inner_start : inner_start + inner_length], "big")
            if body[0] == 0x80:
                out["timeBeforeExpiration"] = number
            elif body[0] == 0x81:
                out["graceAuthNsRemaining"] = number
        i = start + length
    return out


def _ber_length(data: bytes, i: int) -> tuple[int, int]:
    """(length, index of the content) for the length octets at data[i]."""
    if i >= len(data):
        return 0, i
    first_octet = data[i]
    if first_octet < 0x80:
        return first_octet, i + 1
    count = first_octet & 0x7F
    return int.from_bytes(data[i + 1 : i + 1 + count], "big"), i + 1 + count


def ppolicy_of(result: dict[str, Any] | None) -> dict[str, Any] | None:
    """The decoded ppolicy response control of an LDAP result; None when the server sent none."""
    control = ((result or {}).get("controls") or {}).get(PPOLICY_OID)
    if not control:
        return None
    return decode_ppolicy(control.get("value"))


def generalized_time(value: Any) -> float | None:
    """LDAP GeneralizedTime ("20240131120000Z", fractions and offsets allowed) → unix seconds."""
    if value is None:
        return None
    if not isinstance(value, str):
        value = value.decode() if isinstance(value, bytes) else str(value)
    match = re.match(
        r"^(\d{4})(\d{2})(\d{2})(\d{2})(\d{2})?(\d{2})?(?:[.,](\d+))?(Z|[+-]\d{2}(\d{2})?)?$",
        value.strip(),
    )
    if not match:
        return None
    year, month, day, hour = (int(match[n]) for n in (1, 2, 3, 4))
    minute, second = int(match[5] or 0), int(match[6] or 0)
    try:
        seconds = float(calendar.timegm((year, month, day, hour, minute, second, 0, 0, 0)))
    except (ValueError, OverflowError):
        return None
    if match[7]:
        seconds += float("0." + match[7])
    zone = match[8]
    if zone and zone != "Z":
        sign = 1 if zone[0] == "+" else -1
        offset = int(zone[1:3]) * 3600 + int(zone[3:5] or 0) * 60
        seconds -= sign * offset
    return seconds


# ------------------------------------------------------------------------------ password policy
@dataclass(frozen=True)
class PasswordPolicy:
    """What of a pwdPolicy entry a self-service reset obeys."""

    dn: str
    min_length: int = 0
    max_length: int = 0
    check_quality: int = 0
    in_history: int = 0
    check_module: bool = False  # a pwdCheckModule (or pwdUseCheckModule) the agent cannot run

    @classmethod
    def of(cls, dn: str, attributes: dict[str, Any]) -> PasswordPolicy:
        return cls(
            dn=dn,
            min_length=_int(text(attributes, "pwdMinLength")),
            max_length=_int(text(attributes, "pwdMaxLength")),
            check_quality=_int(text(attributes, "pwdCheckQuality")),
            in_history=_int(text(attributes, "pwdInHistory")),
            check_module=bool(text(attributes, "pwdCheckModule"))
            or text(attributes, "pwdUseCheckModule").upper() == "TRUE",
        )


_SCHEME = re.compile(rb"^\{([^}]{1,40})\}(.*)$", re.DOTALL)
_DIGESTS = {"SHA": "sha1", "SHA256": "sha256", "SHA384": "sha384", "SHA512": "sha512", "MD5": "md5"}
_PBKDF2 = {
    "PBKDF2": "sha1",
    "PBKDF2-SHA1": "sha1",
    "PBKDF2-SHA256": "sha256",
    "PBKDF2-SHA512": "sha512",
}


def password_matches(stored: bytes | str, password: str) -> bool | None:
    """Whether `password` is the one a userPassword value holds: True, False, or None when the
    value's scheme is not one the agent can verify."""
    if isinstance(stored, str):
        stored = stored.encode()
    secret = password.encode()
    match = _SCHEME.match(stored)
    if not match:
        return hmac.compare_digest(stored, secret)  # no scheme: slapd compares the cleartext
    scheme, body = match[1].decode("ascii", "replace").upper(), match[2]
    try:
        if scheme == "CLEARTEXT":
            return hmac.compare_digest(body, secret)
        if scheme in _DIGESTS or (scheme.startswith("S") and scheme[1:] in _DIGESTS):
            return _digest_matches(scheme, body, secret)
        if scheme in _PBKDF2:
            return _pbkdf2_matches(_PBKDF2[scheme], body, secret)
        if scheme == "ARGON2":
            return _argon2_matches(body, password)
        if scheme == "CRYPT":
            return _crypt_matches(body, password)
    except (binascii.Error, ValueError, UnicodeError):
        return None  # a value that is not what its scheme says
    # A scheme slapd may know and the agent does not; slapd compares a value in a scheme it does
    # not know as cleartext, as a whole.
    return True if hmac.compare_digest(stored, secret) else None


def _digest_matches(scheme: str, body: bytes, secret: bytes) -> bool | None:
    salted = scheme not in _DIGESTS
    algorithm = _DIGESTS[scheme[1:] if salted else scheme]
    raw = base64.b64decode(body, validate=True)
    size = hashlib.new(algorithm).digest_size
    digest, salt = raw[:size], raw[size:]
    if len(digest) != size or (salt and not salted):
        return None
    return hmac.compare_digest(hashlib.new(algorithm, secret + salt).digest(), digest)


def _ab64(value: bytes) -> bytes:
    """The "adapted base64" of pw-pbkdf2 (and passlib): '.' for '+', no padding."""
    value = value.replace(b".", b"+")
    return base64.b64decode(value + b"=" * (-len(value) % 4), validate=True)


def _pbkdf2_matches(algorithm: str, body: bytes, secret: bytes) -> bool | None:
    rounds, salt, digest = body.split(b"$")
    dk = hashlib.pbkdf2_hmac(algorithm, secret, _ab64(salt), int(rounds), len(_ab64(digest)))
    return hmac.compare_digest(dk, _ab64(digest))


def _argon2_matches(body: bytes, password: str) -> bool | None:
    try:
        return PasswordHasher().verify(body.decode("ascii"), password)
    except VerificationError:
        return False
    except InvalidHashError:
        return None


def _crypt_matches(body: bytes, password: str) -> bool | None:
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)
            import crypt  # deprecated, gone in Python 3.13: {CRYPT} then cannot be checked
    except ImportError:
        return None
    salt = body.decode("ascii")
    hashed = crypt.crypt(password, salt)
    if not hashed or hashed in ("*0", "*1"):
        return None  # a method this system's crypt(3) does not know
    return hmac.compare_digest(hashed.encode(), body)


def history_values(found: list[Any]) -> list[bytes]:
    """The password values of pwdHistory ("time#syntaxOID#length#value"), oldest first."""
    dated: list[tuple[float, int, bytes]] = []
    for index, item in enumerate(found):
        raw = item if isinstance(item, bytes) else str(item).encode()
        parts = raw.split(b"#", 3)
        if len(parts) != 4:
            continue  # slapd passes over a value it cannot parse, and so does the agent
        when = generalized_time(parts[0].decode("ascii", "replace")) or 0.0
        value = parts[3]
        if parts[2].isdigit() and int(parts[2]) <= len(value):
            value = value[: int(parts[2])]
        dated.append((when, index, value))
    return [value for _, _, value in sorted(dated)]


def policy_refusal(
    policy: PasswordPolicy,
    new_password: str,
    current: list[bytes],
    history: list[bytes],
) -> OperationResult | None:
    """Why ppolicy would refuse `new_password` as the user's own change; None if it would not.

    As slapd does: quality (length) only with pwdCheckQuality > 0, counting octets; the current
    password and the newest pwdInHistory values of the history only with pwdInHistory > 0.
    """
    if policy.check_quality > 0:
        octets = len(new_password.encode())
        if octets < policy.min_length:
            return OperationResult(
                Outcome.PASSWORD_TOO_SHORT,
                f"shorter than pwdMinLength {policy.min_length} of {policy.dn}",
            )
        if policy.max_length and octets > policy.max_length:
            return OperationResult(
                Outcome.DIRECTORY_ERROR,
                f"longer than pwdMaxLength {policy.max_length} of {policy.dn} (ppolicy "
                "passwordTooLong)",
            )
        if policy.check_module:
            log.warning(
                "agent.openldap.check_module_skipped policy=%s: a reset cannot run the policy's "
                "pwdCheckModule",
                policy.dn,
            )
    if policy.in_history <= 0:
        return None
    if not current:
        log.warning(
            "agent.openldap.no_password policy=%s: no userPassword to read (absent, or no read "
            "access): only the history is checked",
            policy.dn,
        )
    unknown = 0
    for value in current:
        matched = password_matches(value, new_password)
        if matched:
            return OperationResult(
                Outcome.PASSWORD_UNCHANGED, "the password is not being changed from its value"
            )
        unknown += matched is None
    for value in history[-policy.in_history :]:
        matched = password_matches(value, new_password)
        if matched:
            words = f"pwdInHistory {policy.in_history} of {policy.dn}"
            return OperationResult(
                Outcome.PASSWORD_IN_HISTORY, f"the password is in the history ({words})"
            )
        unknown += matched is None
    if unknown:
        log.warning(
            "agent.openldap.history_unchecked values=%d: stored in a scheme the agent cannot "
            "verify",
            unknown,
        )
    return None


# ------------------------------------------------------------------------------ directory
def entry_uuid(entry: Entry) -> str:
    """entryUUID, lower-case ('' when absent)."""
    return text(entry.get("attributes") or {}, "entryUUID").lower()


def member_dns(entry: Entry) -> list[str]:
    """The DNs of member and uniqueMember (without a uniqueMember's optional #'...'B UID)."""
    attributes = entry.get("attributes") or {}
    members = [
        _UNIQUE_MEMBER_UID.sub("", str(v))
        for v in values(attributes, "member") + values(attributes, "uniqueMember")
    ]
    return [m for m in members if m.strip()]


def account_of(attributes: dict[str, Any]) -> Account:
    """A user's account state (the table above: enabled, locked_out, password_last_set)."""
    locked_time = text(attributes, "pwdAccountLockedTime")
    return Account(
        enabled=locked_time != DISABLED_MARK,
        locked_out=bool(locked_time) and locked_time != DISABLED_MARK,
        password_last_set=generalized_time(first(attributes, "pwdChangedTime")),
    )


SCHEMA = Schema(
    user_classes="(objectClass=inetOrgPerson)",
    group_classes="(|(objectClass=groupOfNames)(objectClass=groupOfUniqueNames))",
    anchor="entryUUID",
    anchor_of=entry_uuid,
    dn_attribute="entryDN",
    member_attributes=("member", "uniqueMember"),
    upn="mail",
    account_attributes=("pwdAccountLockedTime", "pwdChangedTime"),
    account_of=account_of,
)


class OpenLdapDirectory:
    """The `Directory` protocol for OpenLDAP slapd (ppolicy, syncprov)."""

    def __init__(self, config: DirectoryConfig) -> None:
        self.config = config
        self.link = LdapLink(config, default_port=389)
        self._suffix: str | None = None
        self._default_policy: str | None = None  # found once; never a guess
        self.reads = SyncReader(self.link, SCHEMA, member_dns=member_dns)

    # ---------------------------------------------------------------- reads
    def _user_attributes(self) -> list[str]:
        """What a sync reads of each user (bench/hybrid.py sizes a sync by it)."""
        return self.reads.user_attributes

    def read_all(self, page_size: int = 1000) -> Iterator[Page]:
        yield from self.reads.pages(page_size)

    def read_changes(self, cursor: str, page_size: int = 1000) -> Iterator[Page]:
        cursor = cursor.strip()
        if not _CSN.match(cursor):
            raise DirectoryError(Outcome.DIRECTORY_ERROR, f"not an OpenLDAP CSN: {cursor!r}")
        # Strictly after the cursor: a CSN names one change, so the entry that set it is skipped.
        since = f"(&(entryCSN>={cursor})(!(entryCSN={cursor})))"
        yield from self.reads.pages(page_size, since)

    def cursor(self) -> str:
        def operation(conn: Connection) -> str:
            suffix = self._naming_context(conn)
            conn.search(suffix, "(objectClass=*)", BASE, attributes=["contextCSN"])
            if conn.result.get("result") != 0 or not conn.response:
                raise DirectoryError(
                    Outcome.DIRECTORY_ERROR, f"cannot read contextCSN of {suffix}: {conn.result}"
                )
            csns = [str(v) for v in values(conn.response[0].get("attributes") or {}, "contextCSN")]
            if not csns:
                raise DirectoryError(
                    Outcome.DIRECTORY_ERROR,
                    f"{suffix} has no contextCSN: delta sync needs the syncprov overlay",
                )
            return max(csns)

        return self.link.with_service(operation)

    def _naming_context(self, conn: Connection) -> str:
        """The database suffix holding base_dn (where syncprov keeps contextCSN)."""
        if self._suffix is None:
            conn.search("", "(objectClass=*)", BASE, attributes=["namingContexts"])
            contexts: list[str] = []
            if conn.result.get("result") == 0 and conn.response:
                contexts = [
                    str(v) for v in values(conn.response[0]["attributes"], "namingContexts")
                ]
            self._suffix = naming_context(contexts, self.config.base_dn) or self.config.base_dn
        return self._suffix

    # ---------------------------------------------------------------- writeback
    def _state(
        self, conn: Connection, dn: str, extra: list[str] | None = None
    ) -> dict[str, Any] | None:
        """The entry's password state as the service account sees it; None if there is none.

        The attributes of `extra` come as they are stored (bytes), the others decoded.
        """
        conn.search(dn, "(objectClass=*)", BASE, attributes=STATE_ATTRIBUTES + (extra or []))
        code = conn.result.get("result")
        if code in (32, 34):
            return None
        if code != 0:
            raise DirectoryError(unavailable_or_error(code), _describe(conn.result))
        entries = [e for e in conn.response or [] if e.get("type") == "searchResEntry"]
        if not entries:
            return None
        state = dict(entries[0].get("attributes") or {})
        raw = entries[0].get("raw_attributes") or {}
        for name in extra or []:
            for key in [k for k in state if k.lower() == name.lower()]:
                del state[key]
            state[name] = values(raw, name)
        return state

    def _policy_of(self, conn: Connection, state: dict[str, Any]) -> PasswordPolicy | None:
        """The entry's effective password policy; None when no policy applies to it."""
        named = text(state, "pwdPolicySubentry")
        dn = named or self.config.default_policy_dn or self._default_policy_dn(conn)
        if not dn:
            return None
        conn.search(dn, "(objectClass=pwdPolicy)", BASE, attributes=POLICY_ATTRIBUTES)
        code = conn.result.get("result")
        entries = [e for e in conn.response or [] if e.get("type") == "searchResEntry"]
        if code != 0 or not entries:
            # slapd would apply it (or, for a broken pwdPolicySubentry, none): without it, the
            # agent cannot tell, and must not write.
            raise DirectoryError(
                unavailable_or_error(code) if code else Outcome.DIRECTORY_ERROR,
                f"cannot read the password policy {dn}: {_describe(conn.result)}",
            )
        return PasswordPolicy.of(entries[0]["dn"], entries[0].get("attributes") or {})

    def _default_policy_dn(self, conn: Connection) -> str:
        """The policy slapd applies to an entry without pwdPolicySubentry ("" when none).

        ppolicy_default is configuration, out of reach of LDAP unless cn=config is readable: its
        olcPPolicyDefault when it is, else the one pwdPolicy entry under the suffix, or, of
        several, the one named cn=default. Several and no such name: an error (ask for
        default_policy_dn), never a guess.
        """
        if self._default_policy:
            return self._default_policy
        suffix = self._naming_context(conn)
        wanted = ["olcPPolicyDefault"]
        conn.search("cn=config", "(olcPPolicyDefault=*)", SUBTREE, attributes=wanted)
        found = (conn.response or []) if conn.result.get("result") == 0 else []
        configured = {
            text(e.get("attributes") or {}, "olcPPolicyDefault")
            for e in found
            if e.get("type") == "searchResEntry"
        }
        configured = {dn for dn in configured if dn and dn_within(dn, suffix)}
        if len(configured) == 1:
            self._default_policy = configured.pop()
            return self._default_policy
        policies = [
            entry["dn"]
            for entries in self.link.paged_search(
                conn, suffix, "(objectClass=pwdPolicy)", ["1.1"], 1000
            )
            for entry in entries
        ]
        if not policies:
            return ""  # not remembered: a policy added later is found then
        named_default = [dn for dn in policies if norm_dn(dn).split(",")[0] == "cn=default"]
        if len(policies) == 1 or len(named_default) == 1:
            self._default_policy = policies[0] if len(policies) == 1 else named_default[0]
            return self._default_policy
        raise DirectoryError(
            Outcome.DIRECTORY_ERROR,
            f"{len(policies)} password policies under {suffix} and none is known to be the "
            "default: set the directory's default_policy_dn (ppolicy_default) in the agent's "
            "configuration",
        )

    def reset_password(
        self, dn: str, new_password: str, must_change: bool, enforce_policy: bool = False
    ) -> OperationResult:
        if not new_password:
            # Password Modify without a new password asks the server to generate one: never.
            return OperationResult(Outcome.PASSWORD_TOO_SHORT, "an empty password is refused")

        def operation(conn: Connection) -> OperationResult:
            state = self._state(conn, dn, PASSWORD_ATTRIBUTES if enforce_policy else None)
            if state is None:
                return OperationResult(Outcome.USER_NOT_FOUND, f"no entry {dn}")
            if text(state, "pwdAccountLockedTime") == DISABLED_MARK:
                return OperationResult(
                    Outcome.ACCOUNT_DISABLED, "the account is disabled (pwdAccountLockedTime)"
                )
            if enforce_policy:
                # ppolicy exempts the service account (a password administrator) from the
                # user's policy: a self-service reset checks it here, before writing.
                policy = self._policy_of(conn, state)
                if policy is not None:
                    refusal = policy_refusal(
                        policy,
                        new_password,
                        values(state, "userPassword"),
                        history_values(values(state, "pwdHistory")),
                    )
                    if refusal is not None:
                        return refusal
            conn.extend.standard.modify_password(dn, None, new_password, controls=PPOLICY_REQUEST)
            outcome = self._outcome(conn.result)
            if not outcome.ok:
                return outcome
            if must_change:
                conn.modify(dn, {"pwdReset": [(MODIFY_REPLACE, ["TRUE"])]})
            else:
                conn.modify(dn, {"pwdReset": [(MODIFY_DELETE, [])]})
            if conn.result.get("result") not in (0, 16):  # 16: there was no pwdReset
                return OperationResult(
                    Outcome.DIRECTORY_ERROR,
                    "the password was set but pwdReset could not be "
                    f"{'set' if must_change else 'removed'}: {_describe(conn.result)}",
                )
            return OperationResult(Outcome.OK)

        return self.link.service_result(operation)

    def change_password(self, dn: str, old_password: str, new_password: str) -> OperationResult:
        if not old_password:
            return OperationResult(Outcome.WRONG_PASSWORD, "empty old password refused")
        if not new_password:
            return OperationResult(Outcome.PASSWORD_TOO_SHORT, "an empty password is refused")

        def operation(conn: Connection) -> OperationResult:
            if not conn.bound:
                return self._bind_failure(dn, conn.result)
            conn.extend.standard.modify_password(
                dn, old_password, new_password, controls=PPOLICY_REQUEST
            )
            return self._outcome(conn.result)

        return self.link.as_user(dn, old_password, operation, controls=PPOLICY_REQUEST)

    def unlock(self, dn: str) -> OperationResult:
        def operation(conn: Connection) -> OperationResult:
            state = self._state(conn, dn)
            if state is None:
                return OperationResult(Outcome.USER_NOT_FOUND, f"no entry {dn}")
            if text(state, "pwdAccountLockedTime") == DISABLED_MARK:
                return OperationResult(
                    Outcome.ACCOUNT_DISABLED, "the account is disabled, not locked out"
                )
            if values(state, "pwdAccountLockedTime"):
                # slapd drops pwdFailureTime (the failure count) along with the lock.
                conn.modify(dn, {"pwdAccountLockedTime": [(MODIFY_DELETE, [])]})
                if conn.result.get("result") not in (0, 16):
                    return self._outcome(conn.result)
            elif values(state, "pwdFailureTime"):
                # Not locked yet, but failures counted: start again from zero, as AD's
                # lockoutTime=0 does. pwdFailureTime is NO-USER-MODIFICATION: it takes
                # `manage` and the Relax control. Best effort.
                conn.modify(dn, {"pwdFailureTime": [(MODIFY_DELETE, [])]}, controls=RELAX)
            return OperationResult(Outcome.OK)

        return self.link.service_result(operation)

    def verify_credentials(self, dn: str, password: str) -> OperationResult:
        def operation(conn: Connection) -> OperationResult:
            if not conn.bound:
                return self._bind_failure(dn, conn.result)
            policy = ppolicy_of(conn.result) or {}
            if policy.get("error") in ("changeAfterReset", "passwordExpired"):
                return OperationResult(Outcome.MUST_CHANGE, policy["error"])
            if "graceAuthNsRemaining" in policy:
                return OperationResult(
                    Outcome.MUST_CHANGE,
                    f"password expired, {policy['graceAuthNsRemaining']} grace logins left",
                )
            return OperationResult(Outcome.OK)

        return self.link.as_user(dn, password, operation, controls=PPOLICY_REQUEST)

    def close(self) -> None:
        self.link.close()

    # ---------------------------------------------------------------- mapping
    def _bind_failure(self, dn: str, result: dict[str, Any] | None) -> OperationResult:
        """Why a bind as the user failed: slapd says little (49) unless ppolicy adds a reason."""
        result = result or {}
        code = result.get("result")
        policy = ppolicy_of(result)
        error = (policy or {}).get("error")
        if code != 49:
            return self._outcome(result)
        if error == "passwordExpired":
            return OperationResult(Outcome.MUST_CHANGE, "password expired")
        try:
            state = self.link.with_service(lambda conn: self._state(conn, dn))
        except DirectoryError:
            state = {}  # cannot tell more: say what the bind said
        if state is None:
            return OperationResult(Outcome.USER_NOT_FOUND, f"no entry {dn}")
        locked_time = text(state, "pwdAccountLockedTime")
        # accountLocked from ppolicy; or, when slapd sends no ppolicy control
        # (ppolicy_use_lockout off), what the entry says.
        if error == "accountLocked" or (policy is None and locked_time):
            if locked_time == DISABLED_MARK:
                return OperationResult(Outcome.ACCOUNT_DISABLED, "account disabled")
            return OperationResult(Outcome.ACCOUNT_LOCKED, "account locked")
        return OperationResult(Outcome.WRONG_PASSWORD, _describe(result))

    def _outcome(self, result: dict[str, Any] | None) -> OperationResult:
        return outcome_of(result)


def outcome_of(result: dict[str, Any] | None) -> OperationResult:
    """The Outcome of a slapd answer to a write (Password Modify, modify)."""
    result = result or {}
    code = result.get("result")
    if code in (0, None):
        return OperationResult(Outcome.OK)
    message = str(result.get("message") or "")
    lowered = message.lower()
    error = (ppolicy_of(result) or {}).get("error")
    words = _describe(result)
    if "not being changed" in lowered:
        return OperationResult(Outcome.PASSWORD_UNCHANGED, words)
    by_error = {
        "passwordTooShort": Outcome.PASSWORD_TOO_SHORT,
        "insufficientPasswordQuality": Outcome.PASSWORD_NOT_COMPLEX,
        "passwordInHistory": Outcome.PASSWORD_IN_HISTORY,
        "passwordTooYoung": Outcome.PASSWORD_TOO_YOUNG,
        "accountLocked": Outcome.ACCOUNT_LOCKED,
        "changeAfterReset": Outcome.MUST_CHANGE,
        "passwordExpired": Outcome.MUST_CHANGE,
    }
    if error in by_error:
        return OperationResult(by_error[error], words)
    if error:  # passwordTooLong, passwordModNotAllowed, mustSupplyOldPassword
        return OperationResult(Outcome.DIRECTORY_ERROR, f"{words} (ppolicy {error})")
    if code == 19:  # no ppolicy control: slapd's own words
        for needle, outcome in (
            ("history", Outcome.PASSWORD_IN_HISTORY),
            ("too young", Outcome.PASSWORD_TOO_YOUNG),
            ("too short", Outcome.PASSWORD_TOO_SHORT),
            ("quality", Outcome.PASSWORD_NOT_COMPLEX),
        ):
            if needle in lowered:
                return OperationResult(outcome, words)
    if code == 53 and "old password" in lowered:
        return OperationResult(Outcome.WRONG_PASSWORD, words)
    if code == 49:
        return OperationResult(Outcome.WRONG_PASSWORD, words)
    if code in (32, 34):
        return OperationResult(Outcome.USER_NOT_FOUND, words)
    return OperationResult(unavailable_or_error(code), words)


def _int(value: str) -> int:
    try:
        return int(value.strip())
    except ValueError:
        return 0


def _describe(result: dict[str, Any] | None) -> str:
    result = result or {}
    words = f"{result.get('result')} {result.get('description')}"
    if result.get("message"):
        words += f": {result['message']}"
    policy = ppolicy_of(result)
    if policy:
        words += f" (ppolicy {policy})"
    return words
