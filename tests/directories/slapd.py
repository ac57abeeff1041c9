"""A private OpenLDAP slapd that a test run configures, starts and stops.

    server = SlapdServer(tmp_path / "slapd")
    server.start()                  # about 0.1-0.2 s: config, slapadd of the base, slapd up
    bob = server.add_user("bob", password="Initial#Pass1", given_name="Bob", surname="Test")
    conn = server.connection(bob.dn, "Initial#Pass1")   # ldap3, StartTLS verified against the CA
    server.stop()                   # SIGTERM, waits; no process is left behind

The server is the product's own launcher, `sspr.demo_directory.Slapd` (the one `sspr demo
--hybrid` runs; its docstring says what slapd is given: back_mdb, syncprov, ppolicy, the access
rules, StartTLS with a CA made in the folder, slapd in the foreground with its log in slapd.log).
What this file adds is for tests:
- a fresh server at every start(): the folder is remade, the base entries loaded with slapadd,
  the database without fsync (dbnosync), a free port unless one is given, the process stopped at
  exit if a test did not;
- test settings: dc=example,dc=test, known passwords, the service account
  `cn=sspr-agent,ou=services,<suffix>`, and a default policy with lockout after 3 failures
  (the product's other defaults: pwdMinLength 8, pwdInHistory 3, locked until an unlock,
  pwdMustChange);
- ldap3 helpers to build fixtures as the rootdn (`admin_dn`, which bypasses ppolicy): add_user,
  add_group, add_policy, modify, disable, read, delete, can_bind.
"""

from __future__ import annotations

import atexit
import base64
import hashlib
import os
import shutil
import ssl
import tempfile
import time
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ldap3 import BASE, MODIFY_DELETE, MODIFY_REPLACE, NONE, Connection, Server, Tls
from ldap3.utils.dn import escape_rdn

from sspr.demo_directory import DISABLED_MARK, Slapd, SlapdError, find_slapd, free_port

_INSTALL = find_slapd()
SLAPD = _INSTALL.slapd if _INSTALL else "/usr/sbin/slapd"
SLAPADD = _INSTALL.slapadd if _INSTALL else "/usr/sbin/slapadd"
DEFAULT_ADMIN_PASSWORD = "Adm1n-Secret-2024"
DEFAULT_SERVICE_PASSWORD = "Svc-Agent-Secret-2024"
PPOLICY_OID = "1.3.6.1.4.1.42.2.27.8.5.1"
RELAX_OID = "1.3.6.1.4.1.4203.666.5.12"
# The tests' default policy: the product's, but locked after 3 wrong passwords rather than 5.
POLICY_CHANGES: dict[str, list[str]] = {"pwdMaxFailure": ["3"]}

__all__ = [
    "DEFAULT_ADMIN_PASSWORD", "DEFAULT_SERVICE_PASSWORD", "DISABLED_MARK", "PPOLICY_OID",
    "RELAX_OID", "SLAPADD", "SLAPD", "SlapdError", "SlapdGroup", "SlapdServer", "SlapdUser",
    "free_port", "ssha",
]  # fmt: skip


@dataclass(frozen=True)
class SlapdUser:
    dn: str
    uid: str
    upn: str
    password: str | None


@dataclass(frozen=True)
class SlapdGroup:
    dn: str
    cn: str


def ssha(password: str) -> str:
    """An {SSHA} userPassword value (what slappasswd makes), without running slappasswd."""
    salt = os.urandom(8)
    digest = hashlib.sha1(password.encode() + salt).digest()  # noqa: S324 - LDAP's {SSHA} scheme
    return "{SSHA}" + base64.b64encode(digest + salt).decode()


class SlapdServer(Slapd):
    """One private slapd in `root` (created if missing), re-made from scratch by each start()."""

    def __init__(
        self,
        root: str | os.PathLike[str] | None = None,
        *,
        host: str = "127.0.0.1",
        port: int | None = None,
        suffix: str = "dc=example,dc=test",
        admin_password: str = DEFAULT_ADMIN_PASSWORD,
        service_password: str = DEFAULT_SERVICE_PASSWORD,
        policy: dict[str, list[str]] | None = None,
        tls: bool = True,
        start_timeout: float = 10.0,
    ) -> None:
        self._own_root = root is None
        super().__init__(
            Path(root or tempfile.mkdtemp(prefix="sspr-slapd-")).resolve(),
            suffix=suffix,
            admin_password=admin_password,
            service_password=service_password,
            host=host,
            port=port or 0,
            organisation="Example",
            service_dn=f"cn=sspr-agent,ou=services,{suffix}",
            policy={**POLICY_CHANGES, **(policy or {})},
            tls=tls,
            durable=False,
            start_timeout=start_timeout,
        )
        self.timings: dict[str, float] = {}

    @property
    def base_dn(self) -> str:
        return self.suffix

    # ---------------------------------------------------------------- life cycle
    def start(self, *, die_with_parent_process: bool = False) -> SlapdServer:
        """A fresh folder and database (the base entries only), then slapd."""
        if self.running:
            return self
        started = time.monotonic()
        if self.root.exists():
            shutil.rmtree(self.root)
        self.load_base_entries()
        self.timings["prepare"] = time.monotonic() - started
        super().start(die_with_parent_process=die_with_parent_process)
        atexit.register(self.stop)
        self.timings["start"] = time.monotonic() - started
        return self

    def stop(self, timeout: float = 10.0) -> None:
        if self.process is None:
            return
        atexit.unregister(self.stop)
        started = time.monotonic()
        super().stop(timeout)
        self.timings["stop"] = time.monotonic() - started

    def destroy(self) -> None:
        self.stop()
        shutil.rmtree(self.root, ignore_errors=True)

    def __enter__(self) -> SlapdServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        if self._own_root:
            self.destroy()
        else:
            self.stop()

    # ---------------------------------------------------------------- LDAP helpers (ldap3)
    def server(self, connect_timeout: float = 5) -> Server:
        tls = Tls(validate=ssl.CERT_REQUIRED, ca_certs_file=str(self.ca_file)) if self.tls else None
        return Server(self.host, port=self.port, tls=tls, get_info=NONE,
                      connect_timeout=connect_timeout)  # fmt: skip

    def connection(self, dn: str, password: str) -> Connection:
        """A connection (StartTLS first) with bind() already tried: look at `.bound`, `.result`."""
        conn = Connection(self.server(), dn, password, raise_exceptions=False)
        conn.open()
        if self.tls:
            conn.start_tls()
        conn.bind(controls=[(PPOLICY_OID, False, None)])
        return conn

    def admin_connection(self) -> Connection:
        conn = self.connection(self.admin_dn, self.admin_password)
        _check(conn, "bind as the rootdn")
        return conn

    def add(self, dn: str, object_classes: list[str], attributes: dict[str, Any]) -> None:
        conn = self.admin_connection()
        try:
            conn.add(dn, object_classes, attributes)
            _check(conn, f"add {dn}")
        finally:
            conn.unbind()

    def add_user(
        self,
        uid: str,
        *,
        password: str | None = None,
        given_name: str = "",
        surname: str = "",
        display_name: str | None = None,
        upn: str | None = None,
        mail: str | None = None,
        container_dn: str | None = None,
        policy_dn: str | None = None,
        **attributes: Any,
    ) -> SlapdUser:
        """Add an inetOrgPerson (mail = the UPN unless given); the rootdn sets the password."""
        upn = upn or f"{uid}@{self.domain}"
        display_name = display_name or " ".join(p for p in (given_name, surname) if p) or uid
        dn = f"uid={escape_rdn(uid)},{container_dn or self.people_dn}"
        attrs: dict[str, Any] = {
            "uid": uid,
            "cn": display_name,
            "sn": surname or uid,
            "displayName": display_name,
            "mail": mail if mail is not None else upn,
            **attributes,
        }
        if given_name:
            attrs["givenName"] = given_name
        if password is not None:
            attrs["userPassword"] = password  # hashed by ppolicy_hash_cleartext
        if policy_dn:
            attrs["pwdPolicySubentry"] = policy_dn
        self.add(dn, ["top", "person", "organizationalPerson", "inetOrgPerson"], attrs)
        return SlapdUser(dn, uid, upn, password)

    def add_group(
        self,
        cn: str,
        members: Iterable[str] = (),
        *,
        unique: bool = False,
        container_dn: str | None = None,
    ) -> SlapdGroup:
        """A groupOfNames (member) or, with unique, a groupOfUniqueNames (uniqueMember).

        groupOfNames needs a member: an empty one gets the empty DN, as is customary.
        """
        dn = f"cn={escape_rdn(cn)},{container_dn or self.groups_dn}"
        members = list(members)
        if unique:
            self.add(dn, ["top", "groupOfUniqueNames"], {"cn": cn, "uniqueMember": members or [""]})
        else:
            self.add(dn, ["top", "groupOfNames"], {"cn": cn, "member": members or [""]})
        return SlapdGroup(dn, cn)

    def add_policy(self, cn: str, **settings: str) -> str:
        """Another password policy (the default one's settings, overridden); returns its DN."""
        dn = f"cn={escape_rdn(cn)},{self.policies_dn}"
        attrs: dict[str, Any] = {**self.policy, **{k: [v] for k, v in settings.items()}}
        self.add(dn, ["top", "device", "pwdPolicy"], {"cn": cn, **attrs})
        return dn

    def modify(self, dn: str, changes: dict[str, Any], *, relax: bool = False) -> None:
        """Replace attributes as the rootdn: {"mail": ["x@y"], "mobile": []} (empty: delete)."""
        mods = {
            name: [(MODIFY_REPLACE, values if isinstance(values, list) else [values])]
            for name, values in changes.items()
        }
        conn = self.admin_connection()
        try:
            conn.modify(dn, mods, controls=[(RELAX_OID, True, None)] if relax else None)
            _check(conn, f"modify {dn}")
        finally:
            conn.unbind()

    def disable(self, dn: str) -> None:
        """Lock an account for good (pwdAccountLockedTime 000001010000Z), as an administrator."""
        self.modify(dn, {"pwdAccountLockedTime": [DISABLED_MARK]}, relax=True)

    def delete_attribute(self, dn: str, name: str) -> None:
        conn = self.admin_connection()
        try:
            conn.modify(dn, {name: [(MODIFY_DELETE, [])]}, controls=[(RELAX_OID, True, None)])
            _check(conn, f"delete {name} of {dn}")
        finally:
            conn.unbind()

    def read(self, dn: str, *attributes: str) -> dict[str, list[Any]]:
        """The entry's attributes (operational ones by name), as the rootdn; {} if none."""
        conn = self.admin_connection()
        try:
            if not conn.search(dn, "(objectClass=*)", BASE, attributes=list(attributes) or ["*"]):
                return {}
            return {k: list(v) for k, v in conn.response[0]["attributes"].items()}
        finally:
            conn.unbind()

    def delete(self, dn: str) -> None:
        conn = self.admin_connection()
        try:
            conn.delete(dn)
        finally:
            conn.unbind()

    def can_bind(self, dn: str, password: str) -> bool:
        conn = self.connection(dn, password)
        try:
            return bool(conn.bound)
        finally:
            conn.unbind()


def _check(conn: Connection, what: str) -> None:
    if conn.result and conn.result.get("result") not in (0, None):
        raise SlapdError(
            f"could not {what}: {conn.result['result']} "
            f"{conn.result.get('description')} {conn.result.get('message')!r}"
        )
    if not conn.bound:
        raise SlapdError(f"could not {what}: not bound ({conn.result})")
