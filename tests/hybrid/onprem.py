"""The on-premises side of the hybrid tests: one class per directory, one set of questions.

Each side adds people and groups for a test run, says whether a password binds (and how), locks
an account with failed binds, and counts the writes of an account's password, so that the
scenarios (scenarios.py) read the same against OpenLDAP and Active Directory.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from typing import Any

from ldap3 import BASE, MODIFY_REPLACE

from tests.directories.samba import SambaDC
from tests.directories.slapd import PPOLICY_OID, SlapdServer
from tests.hybrid.harness import DirectoryAccess

LOCKOUT_THRESHOLD = 3  # both test directories lock after three failed binds
DIRECTORY_MIN_LENGTH = 12  # more than the service's own 8: the directory's refusal is its own


@dataclass
class Person:
    key: str
    dn: str
    upn: str
    mail: str
    display_name: str
    given_name: str
    family_name: str
    password: str  # the password the directory holds as far as the test knows


class OnPrem:
    kind = ""
    directory_name = ""
    prefix = ""  # every name this side adds starts with it

    @property
    def access(self) -> DirectoryAccess:
        raise NotImplementedError

    @property
    def bind_password(self) -> str:
        return self.access.bind_password

    def add_person(self, key: str, password: str, given: str, family: str) -> Person:
        raise NotImplementedError

    def add_group(self, name: str, members: list[str]) -> str:
        """A group of these member DNs (people or groups); returns its DN."""
        raise NotImplementedError

    def password_state(self, person: Person, password: str) -> str:
        """ "ok", "must_change" (right password, to be changed now), "locked" or "wrong"."""
        raise NotImplementedError

    def must_change_flag(self, person: Person) -> bool:
        """What the entry says: OpenLDAP pwdReset TRUE, AD pwdLastSet 0."""
        raise NotImplementedError

    def is_locked(self, person: Person) -> bool:
        raise NotImplementedError

    def password_writes(self, person: Person) -> int:
        """A count that grows by one with every write of the password."""
        raise NotImplementedError

    def lock(self, person: Person, wrong: str) -> None:
        for _ in range(LOCKOUT_THRESHOLD):
            assert self.password_state(person, wrong) in ("wrong", "locked")
        assert self.is_locked(person), f"{person.upn} is not locked after failed binds"

    def binds(self, person: Person, password: str) -> bool:
        return self.password_state(person, password) == "ok"


class OpenLdapSide(OnPrem):
    """slapd with ppolicy: lockout after 3 failures; every test person under a policy with a
    minimum length of 12 (the default policy's settings otherwise: history 3, quality 2)."""

    kind = "openldap"
    directory_name = "OpenLDAP"

    def __init__(self, server: SlapdServer, prefix: str) -> None:
        self.server = server
        self.prefix = prefix
        self.policy_dn = server.add_policy(
            f"{prefix}-policy", pwdMinLength=str(DIRECTORY_MIN_LENGTH)
        )

    @property
    def access(self) -> DirectoryAccess:
        s = self.server
        return DirectoryAccess(
            kind="openldap", url=s.url, bind_dn=s.service_dn, bind_password=s.service_password,
            base_dn=s.base_dn, ca_file=str(s.ca_file),
        )  # fmt: skip

    def add_person(self, key: str, password: str, given: str, family: str) -> Person:
        uid = f"{self.prefix}-{key}"
        user = self.server.add_user(
            uid, password=password, given_name=given, surname=family, policy_dn=self.policy_dn
        )
        return Person(
            key, user.dn, user.upn, user.upn, f"{given} {family}", given, family, password
        )

    def add_group(self, name: str, members: list[str]) -> str:
        return self.server.add_group(f"{self.prefix}-{name}", members).dn

    def password_state(self, person: Person, password: str) -> str:
        conn = self.server.connection(person.dn, password)
        try:
            bound, result = bool(conn.bound), dict(conn.result or {})
        finally:
            conn.unbind()
        error = ppolicy_error(result)
        if bound:
            return "must_change" if error == "changeAfterReset" else "ok"
        if error == "accountLocked" or self.is_locked(person):
            return "locked"
        return "wrong"

    def must_change_flag(self, person: Person) -> bool:
        found = self.server.read(person.dn, "pwdReset").get("pwdReset", [])
        return [str(v).upper() for v in found] == ["TRUE"]

    def is_locked(self, person: Person) -> bool:
        return bool(self.server.read(person.dn, "pwdAccountLockedTime").get("pwdAccountLockedTime"))

    def password_writes(self, person: Person) -> int:
        """pwdHistory keeps every replaced password (pwdInHistory 3 is more than needed here)."""
        return len(self.server.read(person.dn, "pwdHistory").get("pwdHistory", []))


PPOLICY_ERRORS = {0: "passwordExpired", 1: "accountLocked", 2: "changeAfterReset"}


def ppolicy_error(result: dict[str, Any]) -> str:
    """The error of a bind's ppolicy response control ("" when none): the value is a BER
    SEQUENCE whose optional error is tagged [1] (0x81), after an optional warning [0]."""
    value = ((result.get("controls") or {}).get(PPOLICY_OID) or {}).get("value") or b""
    i = 2  # past the SEQUENCE tag and its (short) length
    while i + 1 < len(value):
        tag, length = value[i], value[i + 1]
        if tag == 0x81 and length:
            code = int.from_bytes(value[i + 2 : i + 2 + length], "big")
            return PPOLICY_ERRORS.get(code, str(code))
        i += 2 + length
    return ""


UNICODE_PWD_ATTID = 0x9005A  # unicodePwd in replPropertyMetaData


class ActiveDirectorySide(OnPrem):
    """A Samba AD DC: lockout after 3 failures, minimum length 12, complexity, history 24."""

    kind = "ad"
    directory_name = "Active Directory"

    def __init__(self, dc: SambaDC, prefix: str) -> None:
        self.dc = dc
        self.prefix = prefix
        self.ou = dc.ensure_ou(f"Hybrid-{prefix}")
        conn = dc.admin_connection()
        try:
            conn.modify(
                dc.base_dn, {"minPwdLength": [(MODIFY_REPLACE, [str(DIRECTORY_MIN_LENGTH)])]}
            )
            assert conn.result["result"] == 0, conn.result
        finally:
            conn.unbind()

    @property
    def access(self) -> DirectoryAccess:
        return DirectoryAccess(
            kind="ad", url=self.dc.ldaps_url, bind_dn=self.dc.admin_bind_dn,
            bind_password=self.dc.admin_password, base_dn=self.ou, ca_file=str(self.dc.ca_file),
        )  # fmt: skip

    def add_person(self, key: str, password: str, given: str, family: str) -> Person:
        sam = f"{self.prefix}{key}"[:20]
        upn = f"{sam}@{self.dc.realm.lower()}"
        user = self.dc.add_user(
            sam, password=password, given_name=given, surname=family,
            display_name=f"{given} {family}", upn=upn, container_dn=self.ou, mail=upn,
        )  # fmt: skip
        return Person(key, user.dn, upn, upn, f"{given} {family}", given, family, password)

    def add_group(self, name: str, members: list[str]) -> str:
        cn = f"{self.prefix}-{name}"
        dn = f"CN={cn},{self.ou}"
        conn = self.dc.admin_connection()
        try:
            attributes: dict[str, Any] = {"sAMAccountName": cn}
            if members:
                attributes["member"] = members
            conn.add(dn, ["top", "group"], attributes)
            assert conn.result["result"] == 0, conn.result
        finally:
            conn.unbind()
        return dn

    def _read(self, dn: str, *attributes: str) -> dict[str, Any]:
        conn = self.dc.admin_connection()
        try:
            conn.search(dn, "(objectClass=*)", BASE, attributes=list(attributes))
            entry = conn.response[0]
            return {**entry["attributes"], "_raw": entry["raw_attributes"]}
        finally:
            conn.unbind()

    def password_state(self, person: Person, password: str) -> str:
        conn = self.dc.connection(person.dn, password)
        try:
            bound, message = bool(conn.bound), str((conn.result or {}).get("message", ""))
        finally:
            conn.unbind()
        if bound:
            return "ok"
        if "data 773" in message:
            return "must_change"
        if "data 775" in message:
            return "locked"
        return "wrong"

    def must_change_flag(self, person: Person) -> bool:
        return int(self._read(person.dn, "pwdLastSet")["_raw"]["pwdLastSet"][0]) == 0

    def is_locked(self, person: Person) -> bool:
        raw = self._read(person.dn, "lockoutTime")["_raw"].get("lockoutTime") or [b"0"]
        return int(raw[0]) > 0

    def password_writes(self, person: Person) -> int:
        """The version of unicodePwd in the object's replication metadata (one per write)."""
        blob = self._read(person.dn, "replPropertyMetaData")["_raw"]["replPropertyMetaData"][0]
        _, _, count, _ = struct.unpack_from("<IIII", blob, 0)
        for i in range(count):
            attid, version = struct.unpack_from("<II", blob, 16 + 48 * i)
            if attid == UNICODE_PWD_ATTID:
                return int(version)
        return 0
