"""A private OpenLDAP slapd that a test run configures, starts and stops.

    server = SlapdServer(tmp_path / "slapd")
    server.start()                  # about 0.1-0.2 s: config, slapadd of the base, slapd up
    bob = server.add_user("bob", password="Initial#Pass1", given_name="Bob", surname="Test")
    conn = server.connection(bob.dn, "Initial#Pass1")   # ldap3, StartTLS verified against the CA
    server.stop()                   # SIGTERM, waits; no process is left behind

What it is (Debian 12, slapd 2.5; shared/notes/directories.md has the measurements):
- `back_mdb` with the `ppolicy` overlay (`ppolicy_default`, `ppolicy_hash_cleartext`,
  `ppolicy_use_lockout`) and `syncprov` (so the suffix carries `contextCSN`). The default policy:
  pwdMinLength 8, pwdInHistory 3, pwdLockout with pwdMaxFailure 3 (locked until an unlock),
  pwdMustChange (a password set by someone else must be changed by its owner).
- Base entries are loaded with `slapadd -q` while slapd is stopped; slapd then runs in the
  foreground (`-d 0`, no fork), so the process started here is the server and stop() ends it.
- ldap://127.0.0.1:<a free port>/ with StartTLS, using a CA and a server certificate made here
  (IP:127.0.0.1 in the SAN): clients verify it for real with `ca_file`.
- A service account (`service_dn`/`service_password`) with the rights the agent needs: read
  everything, `manage` on userPassword (Password Modify for anyone), pwdAccountLockedTime (an
  unlock, with the Relax control) and pwdReset. Its own policy has no lockout.
- The rootdn (`admin_dn`) bypasses ppolicy: the helpers here use it to build fixtures.
"""

from __future__ import annotations

import atexit
import base64
import contextlib
import hashlib
import ipaddress
import os
import shutil
import signal
import socket
import ssl
import subprocess
import tempfile
import time
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ldap3 import BASE, MODIFY_DELETE, MODIFY_REPLACE, NONE, Connection, Server, Tls
from ldap3.utils.dn import escape_rdn

from sspr import local_tls

SLAPD = "/usr/sbin/slapd"
SLAPADD = "/usr/sbin/slapadd"
MODULE_PATH = "/usr/lib/ldap"
SCHEMA_DIR = "/etc/ldap/schema"
DEFAULT_ADMIN_PASSWORD = "Adm1n-Secret-2024"
DEFAULT_SERVICE_PASSWORD = "Svc-Agent-Secret-2024"
PPOLICY_OID = "1.3.6.1.4.1.42.2.27.8.5.1"
RELAX_OID = "1.3.6.1.4.1.4203.666.5.12"
# pwdAccountLockedTime with this value locks an account for good: an administrator's "disable".
DISABLED_MARK = "000001010000Z"

DEFAULT_POLICY: dict[str, list[str]] = {
    "pwdAttribute": ["userPassword"],
    "pwdMinLength": ["8"],
    "pwdCheckQuality": ["2"],
    "pwdInHistory": ["3"],
    "pwdLockout": ["TRUE"],
    "pwdMaxFailure": ["3"],
    "pwdLockoutDuration": ["0"],  # 0: locked until someone unlocks it
    "pwdFailureCountInterval": ["0"],
    "pwdMustChange": ["TRUE"],
    "pwdAllowUserChange": ["TRUE"],
    "pwdSafeModify": ["FALSE"],
}


class SlapdError(RuntimeError):
    pass


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


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


def ssha(password: str) -> str:
    """An {SSHA} userPassword value (what slappasswd makes)."""
    salt = os.urandom(8)
    digest = hashlib.sha1(password.encode() + salt).digest()  # noqa: S324 - LDAP's {SSHA} scheme
    return "{SSHA}" + base64.b64encode(digest + salt).decode()


class SlapdServer:
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
        self.root = Path(root or tempfile.mkdtemp(prefix="sspr-slapd-")).resolve()
        self.host = str(ipaddress.IPv4Address(host))
        self.port = port
        self.suffix = suffix
        self.admin_password = admin_password
        self.service_password = service_password
        self.policy = {**DEFAULT_POLICY, **(policy or {})}
        self.tls = tls
        self.start_timeout = start_timeout
        self.process: subprocess.Popen[bytes] | None = None
        self.timings: dict[str, float] = {}

    # ---------------------------------------------------------------- what clients need
    @property
    def url(self) -> str:
        return f"ldap://{self.host}:{self.port}"

    @property
    def base_dn(self) -> str:
        return self.suffix

    @property
    def people_dn(self) -> str:
        return f"ou=people,{self.suffix}"

    @property
    def groups_dn(self) -> str:
        return f"ou=groups,{self.suffix}"

    @property
    def policies_dn(self) -> str:
        return f"ou=policies,{self.suffix}"

    @property
    def default_policy_dn(self) -> str:
        return f"cn=default,{self.policies_dn}"

    @property
    def admin_dn(self) -> str:
        return f"cn=admin,{self.suffix}"

    @property
    def service_dn(self) -> str:
        return f"cn=sspr-agent,ou=services,{self.suffix}"

    @property
    def tls_dir(self) -> Path:
        return self.root / "tls"

    @property
    def ca_file(self) -> Path:
        return self.tls_dir / "ca.pem"

    @property
    def conf_file(self) -> Path:
        return self.root / "slapd.conf"

    @property
    def log_file(self) -> Path:
        return self.root / "slapd.log"

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    # ---------------------------------------------------------------- life cycle
    def start(self) -> SlapdServer:
        if self.running:
            return self
        started = time.monotonic()
        if self.root.exists():
            shutil.rmtree(self.root)
        (self.root / "data").mkdir(parents=True)
        (self.root / "run").mkdir()
        if self.tls:
            self._make_certificates()
        self.conf_file.write_text(self._config())
        self._slapadd(self._base_ldif())
        self.timings["prepare"] = time.monotonic() - started
        for attempt in range(5):
            port = self.port or free_port(self.host)
            with self.log_file.open("ab") as log:
                self.process = subprocess.Popen(
                    [SLAPD, "-f", str(self.conf_file), "-h", f"ldap://{self.host}:{port}/",
                     "-d", "0"],
                    stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                    start_new_session=True,
                )  # fmt: skip
            atexit.register(self.stop)
            try:
                self._wait_until_ready(port)
            except _PortTaken:
                self.stop()
                if self.port or attempt == 4:
                    raise SlapdError(f"port {port} is taken") from None
                continue
            except BaseException:
                self.stop()
                raise
            self.port = port
            break
        self.timings["start"] = time.monotonic() - started
        return self

    def stop(self, timeout: float = 10.0) -> None:
        process, self.process = self.process, None
        if process is None:
            return
        atexit.unregister(self.stop)
        started = time.monotonic()
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(process.pid, signal.SIGKILL)
                process.wait(5)
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

    # ---------------------------------------------------------------- configuration
    def _config(self) -> str:
        svc = self.service_dn
        tls = ""
        if self.tls:
            tls = (
                f"TLSCACertificateFile {self.ca_file}\n"
                f"TLSCertificateFile {self.tls_dir / 'cert.pem'}\n"
                f"TLSCertificateKeyFile {self.tls_dir / 'key.pem'}\n"
            )
        schemas = "".join(
            f"include {SCHEMA_DIR}/{name}.schema\n"
            for name in ("core", "cosine", "nis", "inetorgperson")
        )
        return f"""{schemas}modulepath {MODULE_PATH}
moduleload back_mdb
moduleload ppolicy
moduleload syncprov
pidfile  {self.root}/run/slapd.pid
argsfile {self.root}/run/slapd.args
loglevel stats
sizelimit unlimited
password-hash {{SSHA}}
{tls}
database mdb
maxsize 1073741824
suffix "{self.suffix}"
rootdn "{self.admin_dn}"
rootpw {ssha(self.admin_password)}
directory {self.root}/data
dbnosync
index objectClass eq
index uid,mail,cn eq
index entryUUID,entryCSN eq
limits dn.exact="{svc}" size=unlimited time=unlimited
# The agent's service account manages passwords and the lockout / reset state; users change their
# own password; anonymous may only bind.
access to dn.base="" by * read
access to attrs=userPassword
  by dn.exact="{svc}" manage
  by self write
  by anonymous auth
  by * none
access to attrs=pwdAccountLockedTime,pwdReset,pwdFailureTime
  by dn.exact="{svc}" manage
  by users read
  by * none
access to *
  by dn.exact="{svc}" read
  by users read
  by anonymous auth

overlay syncprov
syncprov-checkpoint 100 10

overlay ppolicy
ppolicy_default "{self.default_policy_dn}"
ppolicy_hash_cleartext
ppolicy_use_lockout
"""

    def _base_ldif(self) -> str:
        dc = self.suffix.split(",")[0].split("=", 1)[1]
        policy = {"objectClass": ["top", "device", "pwdPolicy"], "cn": ["default"], **self.policy}
        service_policy = {
            "objectClass": ["top", "device", "pwdPolicy"],
            "cn": ["service"],
            "pwdAttribute": ["userPassword"],
            "pwdLockout": ["FALSE"],
        }
        entries: list[tuple[str, dict[str, list[str]]]] = [
            (self.suffix, {"objectClass": ["top", "dcObject", "organization"],
                           "o": ["Example"], "dc": [dc]}),
            (self.people_dn, {"objectClass": ["organizationalUnit"], "ou": ["people"]}),
            (self.groups_dn, {"objectClass": ["organizationalUnit"], "ou": ["groups"]}),
            (f"ou=services,{self.suffix}",
             {"objectClass": ["organizationalUnit"], "ou": ["services"]}),
            (self.policies_dn, {"objectClass": ["organizationalUnit"], "ou": ["policies"]}),
            (self.default_policy_dn, policy),
            (f"cn=service,{self.policies_dn}", service_policy),
            (self.service_dn, {
                "objectClass": ["top", "applicationProcess", "simpleSecurityObject"],
                "cn": ["sspr-agent"],
                "userPassword": [ssha(self.service_password)],
                "pwdPolicySubentry": [f"cn=service,{self.policies_dn}"],
            }),
        ]  # fmt: skip
        return "\n".join(_ldif(dn, attrs) for dn, attrs in entries)

    def _slapadd(self, ldif: str) -> None:
        path = self.root / "base.ldif"
        path.write_text(ldif)
        result = subprocess.run(
            [SLAPADD, "-q", "-f", str(self.conf_file), "-l", str(path)],
            capture_output=True, text=True, check=False,
        )  # fmt: skip
        if result.returncode != 0:
            raise SlapdError(f"slapadd failed:\n{result.stdout}{result.stderr}")

    def _make_certificates(self) -> None:
        local_tls.issue(self.tls_dir, "slapd test CA", "localhost", [self.host, "localhost"])

    def _wait_until_ready(self, port: int) -> None:
        deadline = time.monotonic() + self.start_timeout
        while True:
            assert self.process is not None
            if self.process.poll() is not None:
                log = self.log_file.read_text(errors="replace")
                if "Address already in use" in log:
                    raise _PortTaken
                raise SlapdError(f"slapd exited with {self.process.returncode}:\n{_tail(log)}")
            with socket.socket() as probe:
                probe.settimeout(0.5)
                if probe.connect_ex((self.host, port)) == 0:
                    return
            if time.monotonic() > deadline:
                raise SlapdError(
                    f"slapd not listening within {self.start_timeout} s:\n"
                    + _tail(self.log_file.read_text(errors="replace"))
                )
            time.sleep(0.01)

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
        upn = upn or f"{uid}@{self._domain()}"
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

    def _domain(self) -> str:
        return ".".join(
            part.split("=", 1)[1]
            for part in self.suffix.split(",")
            if part.lower().startswith("dc=")
        )


class _PortTaken(Exception):
    pass


def _ldif(dn: str, attributes: dict[str, list[str]]) -> str:
    lines = [f"dn: {dn}"]
    for name, values in attributes.items():
        for value in values:
            if value and (value[0] in " :<" or not value.isascii() or value.endswith(" ")):
                lines.append(f"{name}:: {base64.b64encode(value.encode()).decode()}")
            else:
                lines.append(f"{name}: {value}")
    return "\n".join(lines) + "\n"


def _check(conn: Connection, what: str) -> None:
    if conn.result and conn.result.get("result") not in (0, None):
        raise SlapdError(
            f"could not {what}: {conn.result['result']} "
            f"{conn.result.get('description')} {conn.result.get('message')!r}"
        )
    if not conn.bound:
        raise SlapdError(f"could not {what}: not bound ({conn.result})")


def _tail(text: str, lines: int = 25) -> str:
    return "\n".join(text.splitlines()[-lines:])
