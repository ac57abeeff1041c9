"""A private OpenLDAP slapd: the on-premises directory of ``sspr demo --hybrid``.

The demo's directory is ``dc=fabrikam,dc=test`` with four people and a group, served on
``ldap://127.0.0.1:3890`` (StartTLS offered with a CA made here, plain binds allowed on loopback
so that ``ldapwhoami -x`` works). Its files live in ``$SSPR_DATA_DIR/demo-ldap/``, made on the
first run and kept, so that a password changed through the demo is still changed next time::

    slapd.conf      written at every start (the port may change)
    data/           the mdb database, loaded once with slapadd (`.loaded` marks it complete)
    tls/            ca.pem, cert.pem, key.pem (0600): StartTLS for the agent, made once
    secrets/        admin.password (the rootdn), sspr-agent.password: random, 0600, made once
    run/            slapd.pid, slapd.args
    slapd.log       start-up, errors and every operation (binds, Password Modify, searches)

What the server is (Debian's slapd 2.5; shared/notes/directories.md has measurements):
- ``back_mdb`` with ``syncprov`` (the suffix carries ``contextCSN``, the agent's delta cursor) and
  ``ppolicy`` (``ppolicy_hash_cleartext``, ``ppolicy_use_lockout``). The default policy: at
  least 8 characters, the last 3 passwords refused, locked after 5 wrong passwords until someone
  unlocks it, a password set by someone else must be changed by its owner.
- A service account (``cn=sspr-agent,<suffix>`` by default) that reads everything and has
  ``manage`` on userPassword (Password Modify for anyone), pwdReset, pwdAccountLockedTime and
  pwdFailureTime (unlock, with the Relax control); its own policy has no lockout.
- The rootdn ``cn=admin,<suffix>`` bypasses ppolicy; it is there for an evaluator's own
  ``ldapadd``/``ldapmodify``.

Building blocks. ``Slapd`` knows nothing of Fabrikam: it is a private slapd in a folder, with the
steps apart, so that a caller may keep its folder from run to run (the demo) or remake it from
scratch at every start::

    server = Slapd(root, suffix="dc=example,dc=test", port=0,
                   admin_password=..., service_password=...)
    server.make_certificates()          # once (tls=True)
    server.write_config()               # slapd.conf for the current port and passwords
    server.load_base_entries(extra)     # slapadd -q while stopped: base entries + `extra`
    server.slapadd(path, context_csn=True)  # more entries from an LDIF file (a bulk load)
    server.start()                      # slapd in its own session; returns once it answers
    server.wait_ready()                 # (start() calls it) until the port answers or slapd died
    server.stop()                       # SIGTERM, wait, SIGKILL as a last resort

The constructor takes the rest: ``policy`` (settings over DEFAULT_POLICY), ``service_dn`` (an
``ou`` of its own is made too), ``organisation``, ``durable=False`` (dbnosync: faster, for a
directory that is thrown away), ``tls``, ``host`` and ``port`` (0: a free one).
Nothing here imports ldap3: preparing and running the server needs only slapd's own programs.

``demo_slapd(root, port)`` puts these together for the demo: the folder is made and loaded on the
first call and only reconfigured on later ones.
"""

from __future__ import annotations

import base64
import contextlib
import ctypes
import ipaddress
import os
import secrets
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from sspr import local_tls

Entry = tuple[str, dict[str, list[str]]]

INSTALL_HINT = "apt-get install slapd ldap-utils"
_BINARY_DIRS = ("/usr/sbin", "/usr/local/sbin", "/usr/local/libexec", "/opt/symas/sbin")
_MODULE_DIRS = ("/usr/lib/ldap", "/usr/lib64/openldap", "/usr/lib/openldap",
                "/usr/local/libexec/openldap", "/opt/symas/lib/openldap")  # fmt: skip
_SCHEMA_DIRS = ("/etc/ldap/schema", "/etc/openldap/schema", "/usr/local/etc/openldap/schema",
                "/opt/symas/etc/openldap/schema")  # fmt: skip
SCHEMAS = ("core", "cosine", "nis", "inetorgperson")

# pwdAccountLockedTime with this value locks an account for good: an administrator's "disable".
DISABLED_MARK = "000001010000Z"
DEFAULT_POLICY: dict[str, list[str]] = {
    "pwdAttribute": ["userPassword"],
    "pwdMinLength": ["8"],
    "pwdCheckQuality": ["2"],
    "pwdInHistory": ["3"],
    "pwdLockout": ["TRUE"],
    "pwdMaxFailure": ["5"],
    "pwdLockoutDuration": ["0"],  # 0: locked until someone unlocks it
    "pwdFailureCountInterval": ["0"],
    "pwdMustChange": ["TRUE"],
    "pwdAllowUserChange": ["TRUE"],
    "pwdSafeModify": ["FALSE"],
}


class SlapdError(RuntimeError):
    """slapd could not be set up or started; the text says why in a line or a log tail."""


class PortTaken(SlapdError):
    pass


# ------------------------------------------------------------------------------ installation
@dataclass(frozen=True)
class SlapdInstall:
    """Where OpenLDAP's server programs, modules and schema files are on this machine."""

    slapd: str
    slapadd: str
    slappasswd: str
    module_dir: str
    schema_dir: str


def find_slapd() -> SlapdInstall | None:
    """OpenLDAP's server as installed (Debian's slapd package), or None when it is not.

    Looks on PATH and in the usual sbin folders (a plain user's PATH has no /usr/sbin).
    """
    search = os.pathsep.join([os.environ.get("PATH", ""), *_BINARY_DIRS])
    found = {name: shutil.which(name, path=search) for name in ("slapd", "slapadd", "slappasswd")}
    module_dir = next((d for d in _MODULE_DIRS if Path(d, "back_mdb.la").exists()
                       or Path(d, "back_mdb.so").exists()), None)  # fmt: skip
    schema_dir = next((d for d in _SCHEMA_DIRS if Path(d, "inetorgperson.schema").exists()), None)
    if not all(found.values()) or module_dir is None or schema_dir is None:
        return None
    return SlapdInstall(
        slapd=str(found["slapd"]),
        slapadd=str(found["slapadd"]),
        slappasswd=str(found["slappasswd"]),
        module_dir=module_dir,
        schema_dir=schema_dir,
    )


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


def _port_free(host: str, port: int) -> bool:
    """Whether `port` can be listened on (a connect probe would find another server there)."""
    with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind((host, port))
        except OSError:
            return False
        return True


def die_with_parent() -> None:
    """For Popen(preexec_fn=...): SIGTERM this child when the process that started it dies, so
    that nothing is left behind even when the parent is killed outright (Linux; a no-op
    elsewhere)."""
    with contextlib.suppress(Exception):
        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


# ------------------------------------------------------------------------------ the server
class Slapd:
    """One private slapd whose every file is under `root`."""

    def __init__(
        self,
        root: str | os.PathLike[str],
        *,
        suffix: str,
        admin_password: str,
        service_password: str,
        host: str = "127.0.0.1",
        port: int = 0,
        organisation: str = "",
        service_dn: str | None = None,
        policy: dict[str, list[str]] | None = None,
        tls: bool = True,
        durable: bool = True,
        install: SlapdInstall | None = None,
        start_timeout: float = 10.0,
    ) -> None:
        found = install or find_slapd()
        if found is None:
            raise SlapdError(f"OpenLDAP's slapd is not installed ({INSTALL_HINT})")
        self.install = found
        self.root = Path(root).absolute()
        self.suffix = suffix
        self.admin_password = admin_password
        self.service_password = service_password
        self.host = str(ipaddress.ip_address(host))
        self.port = port  # 0: a free one, chosen by start()
        self.organisation = organisation or self.domain
        self.service_dn = service_dn or f"cn=sspr-agent,{suffix}"
        self.policy = {**DEFAULT_POLICY, **(policy or {})}
        self.tls = tls
        self.durable = durable
        self.start_timeout = start_timeout
        self.process: subprocess.Popen[bytes] | None = None
        self._log_offset = 0

    # ---------------------------------------------------------------- names and paths
    @property
    def url(self) -> str:
        return f"ldap://{self.host}:{self.port}"

    @property
    def domain(self) -> str:
        return ".".join(
            p.split("=", 1)[1]
            for p in self.suffix.split(",")
            if p.strip().lower().startswith("dc=")
        )

    @property
    def admin_dn(self) -> str:
        return f"cn=admin,{self.suffix}"

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
    def service_policy_dn(self) -> str:
        return f"cn=service,{self.policies_dn}"

    @property
    def conf_file(self) -> Path:
        return self.root / "slapd.conf"

    @property
    def data_dir(self) -> Path:
        return self.root / "data"

    @property
    def run_dir(self) -> Path:
        return self.root / "run"

    @property
    def pid_file(self) -> Path:
        return self.run_dir / "slapd.pid"

    @property
    def log_file(self) -> Path:
        return self.root / "slapd.log"

    @property
    def tls_dir(self) -> Path:
        return self.root / "tls"

    @property
    def ca_file(self) -> Path:
        return self.tls_dir / "ca.pem"

    @property
    def loaded(self) -> bool:
        """Whether load_base_entries() completed on this folder."""
        return (self.data_dir / ".loaded").exists()

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    # ---------------------------------------------------------------- preparing the folder
    def hash_password(self, password: str) -> str:
        """An {SSHA} userPassword value, made by slappasswd (the password goes by stdin)."""
        done = subprocess.run(  # noqa: S603 - our own argv, no shell
            [self.install.slappasswd, "-h", "{SSHA}", "-T", "/dev/stdin"],
            input=password.encode(), capture_output=True, check=False,
        )  # fmt: skip
        value = done.stdout.decode().strip()
        if done.returncode != 0 or not value.startswith("{SSHA}"):
            raise SlapdError(f"slappasswd failed: {done.stderr.decode(errors='replace')[:300]}")
        return value

    def make_certificates(self, *, force: bool = False) -> None:
        """A CA and a server certificate for 127.0.0.1 and localhost (kept when present)."""
        if self.ca_file.exists() and (self.tls_dir / "key.pem").exists() and not force:
            return
        local_tls.issue(
            self.tls_dir, f"{self.domain} demo CA", "localhost", ["localhost", self.host]
        )

    def config_text(self) -> str:
        svc = self.service_dn
        tls = ""
        if self.tls:
            tls = (
                f"TLSCACertificateFile {self.ca_file}\n"
                f"TLSCertificateFile {self.tls_dir / 'cert.pem'}\n"
                f"TLSCertificateKeyFile {self.tls_dir / 'key.pem'}\n"
            )
        schemas = "".join(f"include {self.install.schema_dir}/{name}.schema\n" for name in SCHEMAS)
        return f"""# Written by opensspr ({__name__}) at every start: edits here are lost.
{schemas}modulepath {self.install.module_dir}
moduleload back_mdb
moduleload ppolicy
moduleload syncprov
pidfile  {self.pid_file}
argsfile {self.run_dir / "slapd.args"}
loglevel none
# (-d 256 on the command line sends the operations to slapd.log instead of syslog)
sizelimit unlimited
password-hash {{SSHA}}
{tls}
database mdb
maxsize 1073741824
suffix "{self.suffix}"
rootdn "{self.admin_dn}"
rootpw {self.hash_password(self.admin_password)}
directory {self.data_dir}
{"" if self.durable else "dbnosync"}
index objectClass eq
index uid,mail,cn eq
index entryUUID,entryCSN eq
limits dn.exact="{svc}" size=unlimited time=unlimited
# The agent's service account manages passwords and the lockout / reset state and reads
# everything; users change their own password and read the directory; anonymous may only bind.
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

    def write_config(self) -> Path:
        """slapd.conf for the current port, passwords and policy (the rootpw as a hash)."""
        self.root.mkdir(parents=True, exist_ok=True)
        self.run_dir.mkdir(exist_ok=True)
        if self.tls:
            self.make_certificates()
        path = self.conf_file
        path.touch(mode=0o600)
        path.chmod(0o600)
        path.write_text(self.config_text())
        return path

    def base_entries(self) -> list[Entry]:
        """The suffix, ou=people, ou=groups, ou=policies with the default and the service
        account's policy, and the service account (and its ou, when it is in one of its own)."""
        dc = self.suffix.split(",")[0].split("=", 1)[1]
        parent = self.service_dn.split(",", 1)[1]
        known = {self.suffix, self.people_dn, self.groups_dn, self.policies_dn}
        service_ou: list[Entry] = []
        if parent.lower() not in {dn.lower() for dn in known} and parent.lower().startswith("ou="):
            name = parent.split(",")[0].split("=", 1)[1]
            service_ou.append((parent, {"objectClass": ["organizationalUnit"], "ou": [name]}))
        service_policy = {
            "objectClass": ["top", "device", "pwdPolicy"],
            "cn": ["service"],
            "pwdAttribute": ["userPassword"],
            "pwdLockout": ["FALSE"],
        }
        return [
            (self.suffix, {"objectClass": ["top", "dcObject", "organization"],
                           "o": [self.organisation], "dc": [dc]}),
            (self.people_dn, {"objectClass": ["organizationalUnit"], "ou": ["people"]}),
            (self.groups_dn, {"objectClass": ["organizationalUnit"], "ou": ["groups"]}),
            (self.policies_dn, {"objectClass": ["organizationalUnit"], "ou": ["policies"]}),
            (self.default_policy_dn, {"objectClass": ["top", "device", "pwdPolicy"],
                                      "cn": ["default"], **self.policy}),
            (self.service_policy_dn, service_policy),
            *service_ou,
            (self.service_dn, {
                "objectClass": ["top", "applicationProcess", "simpleSecurityObject"],
                "cn": [self.service_dn.split(",")[0].split("=", 1)[1]],
                "userPassword": [self.hash_password(self.service_password)],
                "pwdPolicySubentry": [self.service_policy_dn],
            }),
        ]  # fmt: skip

    def load_base_entries(self, extra: Iterable[Entry] = ()) -> None:
        """Make the database afresh: the base entries and `extra`, with slapadd while stopped.

        Passwords in `extra` must be hashed already (hash_password): slapadd bypasses ppolicy.
        """
        if self.running:
            raise SlapdError("load_base_entries needs slapd stopped")
        if not self.conf_file.exists():
            self.write_config()
        if self.data_dir.exists():
            shutil.rmtree(self.data_dir)
        self.data_dir.mkdir(parents=True)
        self.data_dir.chmod(0o700)
        self.slapadd_ldif(
            "\n".join(to_ldif(dn, attrs) for dn, attrs in [*self.base_entries(), *extra])
        )
        (self.data_dir / ".loaded").touch()

    def slapadd_ldif(self, ldif: str) -> None:
        """slapadd of LDIF text while stopped, through a file of its own (0600, then removed)."""
        path = self.root / "base.ldif"
        path.touch(mode=0o600)
        path.write_text(ldif)
        try:
            self.slapadd(path)
        finally:
            path.unlink(missing_ok=True)

    def slapadd(self, ldif_file: str | os.PathLike[str], *, context_csn: bool = False) -> None:
        """Add the entries of an LDIF file with ``slapadd -q`` (no checks: a bulk load) while
        slapd is stopped. `context_csn` (``-w``) sets the suffix's contextCSN from the entries
        added, as syncprov would have."""
        if self.running:
            raise SlapdError("slapadd needs slapd stopped")
        argv = [self.install.slapadd, "-q", *(["-w"] if context_csn else [])]
        done = subprocess.run(  # noqa: S603 - our own argv, no shell
            [*argv, "-f", str(self.conf_file), "-l", str(ldif_file)],
            capture_output=True, text=True, check=False,
        )  # fmt: skip
        if done.returncode != 0:
            raise SlapdError(f"slapadd failed:\n{done.stdout}{done.stderr}")

    # ---------------------------------------------------------------- life cycle
    def leftover_pid(self) -> int | None:
        """The pid of a slapd still serving this folder (from an earlier run), if any."""
        try:
            pid = int(self.pid_file.read_text().split()[0])
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
        except (OSError, ValueError, IndexError):
            return None
        return pid if str(self.conf_file).encode() in cmdline else None

    def start(self, *, die_with_parent_process: bool = False) -> Slapd:
        """slapd in the foreground (``-d 256``: its start-up, errors and one line per operation
        go to slapd.log rather than syslog, and the process started is the server), in a
        session of its own (a Ctrl-C in the terminal is for the parent, which stops it in
        order); returns once it answers. Port 0 picks a free one (tried five times)."""
        if self.running:
            return self
        leftover = self.leftover_pid()
        if leftover is not None:
            raise SlapdError(
                f"a slapd from an earlier run still serves {self.root} (pid {leftover}); "
                f"stop it first: kill {leftover}"
            )
        chosen = self.port
        for attempt in range(5):
            self.port = chosen or free_port(self.host)
            try:
                if not _port_free(self.host, self.port):
                    raise PortTaken(f"port {self.port} on {self.host} is taken")
                self.write_config()
                self._log_offset = self.log_file.stat().st_size if self.log_file.exists() else 0
                with self.log_file.open("ab") as log:
                    self.process = subprocess.Popen(  # noqa: S603 - our own argv, no shell
                        [self.install.slapd, "-f", str(self.conf_file), "-h", f"{self.url}/",
                         "-d", "256"],
                        stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                        start_new_session=True,
                        preexec_fn=die_with_parent if die_with_parent_process else None,
                    )  # fmt: skip
                self.wait_ready()
            except PortTaken:
                self.stop()
                if chosen or attempt == 4:
                    raise
                continue
            except BaseException:
                self.stop()
                raise
            return self
        raise AssertionError("unreachable")

    def wait_ready(self, timeout: float | None = None) -> None:
        """Until slapd says "slapd starting" (its listeners are open) and accepts connections;
        PortTaken or SlapdError if it ended first."""
        deadline = time.monotonic() + (self.start_timeout if timeout is None else timeout)
        while True:
            if self.process is None:
                raise SlapdError("slapd is not started")
            log = self._new_log()
            if self.process.poll() is not None:
                if "Address already in use" in log:
                    raise PortTaken(f"port {self.port} on {self.host} is taken")
                raise SlapdError(f"slapd exited with {self.process.returncode}:\n{_tail(log)}")
            if "slapd starting" in log:
                family = socket.AF_INET6 if ":" in self.host else socket.AF_INET
                with socket.socket(family) as probe:
                    probe.settimeout(0.5)
                    if probe.connect_ex((self.host, self.port)) == 0:
                        return
            if time.monotonic() > deadline:
                raise SlapdError(
                    f"slapd is not listening on {self.url} after {self.start_timeout:.0f} s:\n"
                    + _tail(log)
                )
            time.sleep(0.01)

    def _new_log(self) -> str:
        """What slapd wrote to its log since the last start()."""
        try:
            with self.log_file.open("rb") as log:
                log.seek(self._log_offset)
                return log.read().decode(errors="replace")
        except OSError:
            return ""

    def stop(self, timeout: float = 10.0) -> None:
        """SIGTERM and wait (slapd writes its database out); SIGKILL if it does not end."""
        process, self.process = self.process, None
        if process is None:
            return
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(process.pid, signal.SIGKILL)
                process.wait(5)


# ------------------------------------------------------------------------------ the demo
SUFFIX = "dc=fabrikam,dc=test"
DOMAIN = "fabrikam.test"
DEFAULT_PORT = 3890


@dataclass(frozen=True)
class DirectoryPerson:
    uid: str
    given_name: str
    surname: str
    password: str  # well known: this directory exists to be tried on a laptop
    mobile: str
    title: str = ""

    @property
    def upn(self) -> str:
        return f"{self.uid}@{DOMAIN}"

    @property
    def dn(self) -> str:
        return f"uid={self.uid},ou=people,{SUFFIX}"

    @property
    def display_name(self) -> str:
        return f"{self.given_name} {self.surname}"


PEOPLE = (
    DirectoryPerson("dana", "Dana", "Fischer", "Birch-Canyon-42", "+14255550201", "Accountant"),
    DirectoryPerson("eric", "Eric", "Santos", "Cobalt-River-57", "+14255550202", "Engineer"),
    DirectoryPerson("fiona", "Fiona", "Walsh", "Ember-Orchard-36", "+14255550203", "Designer"),
    DirectoryPerson("gus", "Gus", "Okafor", "Granite-Tide-83", "+14255550204", "Sales"),
)
GROUP = "Fabrikam Staff"


def people_entries(server: Slapd) -> list[Entry]:
    entries: list[Entry] = [
        (person.dn, {
            "objectClass": ["top", "person", "organizationalPerson", "inetOrgPerson"],
            "uid": [person.uid],
            "cn": [person.display_name],
            "sn": [person.surname],
            "givenName": [person.given_name],
            "displayName": [person.display_name],
            "mail": [person.upn],
            "mobile": [person.mobile],
            "title": [person.title],
            "userPassword": [server.hash_password(person.password)],
        })
        for person in PEOPLE
    ]  # fmt: skip
    entries.append((
        f"cn={GROUP},{server.groups_dn}",
        {"objectClass": ["top", "groupOfNames"], "cn": [GROUP],
         "member": [person.dn for person in PEOPLE]},
    ))  # fmt: skip
    return entries


def _secret(path: Path) -> str:
    """A random password kept in `path` (0600): made on the first call, read on later ones."""
    if path.exists():
        value = path.read_text().strip()
        if value:
            return value
    path.parent.mkdir(parents=True, exist_ok=True)
    path.parent.chmod(0o700)
    value = secrets.token_urlsafe(18)
    path.touch(mode=0o600)
    path.chmod(0o600)
    path.write_text(value + "\n")
    return value


def demo_slapd(
    root: str | os.PathLike[str], port: int = DEFAULT_PORT, install: SlapdInstall | None = None
) -> tuple[Slapd, bool]:
    """The demo's directory in `root`, configured for `port` but not started, and whether this
    call made it (first run: certificates, secrets, base entries and the people)."""
    root = Path(root).absolute()
    server = Slapd(
        root,
        suffix=SUFFIX,
        port=port,
        organisation="Fabrikam",
        admin_password=_secret(root / "secrets" / "admin.password"),
        service_password=_secret(root / "secrets" / "sspr-agent.password"),
        install=install,
    )
    created = not server.loaded
    server.write_config()
    if created:
        server.load_base_entries(people_entries(server))
    return server, created


def admin_password_file(server: Slapd) -> Path:
    return server.root / "secrets" / "admin.password"


def service_password_file(server: Slapd) -> Path:
    return server.root / "secrets" / "sspr-agent.password"


# ------------------------------------------------------------------------------ helpers
def to_ldif(dn: str, attributes: dict[str, list[str]]) -> str:
    lines = [f"dn: {dn}"]
    for name, values in attributes.items():
        for value in values:
            if value and (value[0] in " :<" or not value.isascii() or value.endswith(" ")
                          or "\n" in value):  # fmt: skip
                lines.append(f"{name}:: {base64.b64encode(value.encode()).decode()}")
            else:
                lines.append(f"{name}: {value}")
    return "\n".join(lines) + "\n"


def _tail(text: str, lines: int = 25) -> str:
    return "\n".join(text.splitlines()[-lines:])


__all__ = [
    "DEFAULT_POLICY", "DEFAULT_PORT", "DOMAIN", "GROUP", "INSTALL_HINT", "PEOPLE", "SUFFIX",
    "DirectoryPerson", "PortTaken", "Slapd", "SlapdError", "SlapdInstall", "demo_slapd",
    "die_with_parent", "find_slapd", "free_port", "people_entries", "to_ldif",
]  # fmt: skip
