"""A private Samba Active Directory domain controller that a test run provisions, starts and stops.

    dc = SambaDC(tmp_path / "dc", check_password_script=None)
    dc.start()                      # provisions on first start (about 4 s), then ready in < 1 s
    conn = dc.admin_connection()    # ldap3, LDAPS with the certificate verified against dc.ca_file
    alice = dc.add_user("alice", password="Initial#Pass1", given_name="Alice", surname="Test")
    dc.stop()                       # SIGTERM, waits; no process is left behind

Facts this relies on (Debian 12, Samba 4.17; shared/notes/directories.md has the measurements):
- The DC is provisioned from an empty configuration, so nothing comes from /etc/samba/smb.conf.
- Its ports are fixed (LDAP 389, LDAPS 636, GC 3268/3269, Kerberos 88, ...): one DC per loopback
  address. Simple binds on plain LDAP are refused, so everything here goes over LDAPS.
- The TLS certificate is made here (a CA and a server certificate naming the IP address), so that
  clients verify it for real and Samba does not spend seconds generating its own RSA-4096 key.
- Minimum password age is 0 (the default of one day would refuse a change right after a reset),
  and `old password allowed period` is 0 (by default the previous password still binds for 60
  minutes after a change or a reset).
- `check password script` replaces Samba's own complexity check; a refusal reaches the client as
  result 19 `0000052D: Constraint violation ... complexity criteria`, never the script's output.
  Samba reads it only at start: changing it means a restart (about 1.7 s).
- Samba runs with a clean environment: neither the test run's virtualenv nor its Django settings
  leak into the DC or into the check password script it runs.
"""

from __future__ import annotations

import atexit
import contextlib
import ipaddress
import os
import re
import shutil
import signal
import socket
import ssl
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ldap3 import BASE, MODIFY_REPLACE, NONE, Connection, Server, Tls
from ldap3.core.exceptions import LDAPException

from sspr import local_tls

DEFAULT_ADMIN_PASSWORD = "Adm1nPass!2024"
# Without "-winbindd" Samba dies at start unless the winbind package is installed.
DEFAULT_SERVICES = "-winbindd -s3fs -dns -nbt -wrepl -ntp_signd -dnsupdate"
SAMBA = "/usr/sbin/samba"
SAMBA_TOOL = "/usr/bin/samba-tool"
LDAPS_PORT = 636
# userAccountControl
UF_NORMAL_ACCOUNT = 0x200
UF_ACCOUNTDISABLE = 0x2
# Intervals in Active Directory are negative counts of 100 ns.
_MINUTE = 60 * 10_000_000


class SambaError(RuntimeError):
    pass


@dataclass(frozen=True)
class SambaUser:
    dn: str
    sam_account_name: str
    upn: str
    password: str | None


def command_line(*argv: str | os.PathLike[str]) -> str:
    """A `check password script` value: Samba splits it on white space and runs no shell."""
    parts = [os.fspath(a) for a in argv]
    for part in parts:
        if not part or re.search(r"[\s\"'\\]", part):
            raise ValueError(f"cannot pass {part!r} to Samba's check password script")
    return " ".join(parts)


class SambaDC:
    """One private domain controller in `root` (created if missing; must be empty)."""

    def __init__(
        self,
        root: str | os.PathLike[str] | None = None,
        *,
        ip: str = "127.0.0.1",
        realm: str = "EXAMPLE.TEST",
        domain: str = "EXAMPLE",
        admin_password: str = DEFAULT_ADMIN_PASSWORD,
        check_password_script: str | None = None,
        lockout_threshold: int = 0,
        old_password_allowed_minutes: int = 0,
        services: str = DEFAULT_SERVICES,
        start_timeout: float = 30.0,
    ) -> None:
        self._own_root = root is None
        self.root = Path(root or tempfile.mkdtemp(prefix="sspr-samba-")).resolve()
        self.ip = str(ipaddress.IPv4Address(ip))
        self.realm = realm.upper()
        self.domain = domain.upper()
        self.admin_password = admin_password
        self.check_password_script = check_password_script
        self.lockout_threshold = lockout_threshold
        self.old_password_allowed_minutes = old_password_allowed_minutes
        self.services = services
        self.start_timeout = start_timeout
        self.process: subprocess.Popen[bytes] | None = None
        self.timings: dict[str, float] = {}

    # ---------------------------------------------------------------- what clients need
    @property
    def host(self) -> str:
        return f"dc1.{self.realm.lower()}"

    @property
    def ldaps_url(self) -> str:
        return f"ldaps://{self.ip}:{LDAPS_PORT}"

    @property
    def base_dn(self) -> str:
        return ",".join(f"DC={part}" for part in self.realm.lower().split("."))

    @property
    def users_dn(self) -> str:
        return f"CN=Users,{self.base_dn}"

    @property
    def admin_bind_dn(self) -> str:
        return f"CN=Administrator,{self.users_dn}"

    @property
    def admin_upn(self) -> str:
        return f"Administrator@{self.realm.lower()}"

    @property
    def tls_dir(self) -> Path:
        return self.root / "private" / "tls"

    @property
    def ca_file(self) -> Path:
        return self.tls_dir / "ca.pem"

    @property
    def smb_conf(self) -> Path:
        return self.root / "etc" / "smb.conf"

    @property
    def log_file(self) -> Path:
        return self.root / "samba.out"

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    # ---------------------------------------------------------------- life cycle
    def start(self) -> SambaDC:
        if self.running:
            return self
        if not self.smb_conf.exists():
            self.provision()
        self._refuse_taken_port()
        started = time.monotonic()
        with self.log_file.open("ab") as log:
            self.process = subprocess.Popen(
                [SAMBA, "-s", str(self.smb_conf), "-F", "--debug-stdout", "-d1"],
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                env=self._environment(),
                cwd=self.root,
                start_new_session=True,  # its own process group: stop() can end every child
            )
        atexit.register(self.stop)
        try:
            self._wait_until_ready()
        except BaseException:
            self.stop()
            raise
        self.timings["start"] = time.monotonic() - started
        if not (self.root / ".policy-set").exists():
            self._set_domain_password_policy()
            (self.root / ".policy-set").touch()
        return self

    def stop(self, timeout: float = 15.0) -> None:
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
                self._kill_group(process.pid)
                process.wait(5)
        # Children (prefork workers, a check password script) must not outlive the DC.
        deadline = time.monotonic() + 5
        while self._group_alive(process.pid):
            if time.monotonic() > deadline:
                self._kill_group(process.pid)
                break
            time.sleep(0.05)
        self.timings["stop"] = time.monotonic() - started

    def restart(self) -> None:
        self.stop()
        self.start()

    def destroy(self) -> None:
        """Stop and remove the DC's directory."""
        self.stop()
        shutil.rmtree(self.root, ignore_errors=True)

    def __enter__(self) -> SambaDC:
        try:
            return self.start()
        except BaseException:
            self.__exit__()
            raise

    def __exit__(self, *exc: object) -> None:
        if self._own_root:
            self.destroy()
        else:
            self.stop()

    def set_check_password_script(self, command: str | None) -> None:
        """Configure (or with None remove) the check password script; restarts a running DC."""
        self.check_password_script = command
        if self.smb_conf.exists():
            self._set_global("check password script", command)
            if self.running:
                self.restart()

    # ---------------------------------------------------------------- provisioning
    def provision(self) -> None:
        started = time.monotonic()
        if self.root.exists() and any(self.root.iterdir()):
            raise SambaError(f"{self.root} is not empty; a DC is provisioned into a new directory")
        run = self.root / "run"
        run.mkdir(parents=True, exist_ok=True)
        empty = self.root / "empty.conf"
        empty.write_text("")
        options = {
            "interfaces": self.ip,
            "bind interfaces only": "yes",
            "server services": self.services,
            "log file": f"{self.root}/log.%m",
            "pid directory": str(run),
            "ncalrpc dir": f"{run}/ncalrpc",
            "winbindd socket directory": f"{run}/winbindd",
            "ntp signd socket directory": f"{run}/ntp_signd",
        }
        argv = [
            SAMBA_TOOL, "domain", "provision", "-s", str(empty), f"--targetdir={self.root}",
            f"--realm={self.realm}", f"--domain={self.domain}", "--server-role=dc",
            "--dns-backend=SAMBA_INTERNAL", "--host-name=dc1",
            f"--adminpass={self.admin_password}", "--backend-store=tdb",
            *(f"--option={name}={value}" for name, value in options.items()),
        ]  # fmt: skip
        result = subprocess.run(
            argv, capture_output=True, text=True, env=self._environment(), check=False
        )
        (self.root / "provision.log").write_text(result.stdout + result.stderr)
        if result.returncode != 0:
            raise SambaError("samba-tool domain provision failed:\n" + _tail(result.stderr))
        self._make_certificates()
        self._set_global("tls enabled", "yes")
        self._set_global("tls keyfile", str(self.tls_dir / "key.pem"))
        self._set_global("tls certfile", str(self.tls_dir / "cert.pem"))
        self._set_global("tls cafile", str(self.ca_file))
        # Samba's default (60) lets the previous password still sign in for an hour after a
        # change or a reset; tests want a replaced password to stop working at once.
        self._set_global("old password allowed period", str(self.old_password_allowed_minutes))
        # Added after provisioning, so that it is not run for the administrator's password.
        self._set_global("check password script", self.check_password_script)
        self.timings["provision"] = time.monotonic() - started

    def _set_global(self, name: str, value: str | None) -> None:
        text = self.smb_conf.read_text()
        key = re.escape(name).replace(r"\ ", r"\s+")
        text = re.sub(rf"(?im)^[ \t]*{key}[ \t]*=.*\n", "", text)
        if value is not None:
            if "\n" in value:
                raise ValueError("a setting is one line")
            text = re.sub(
                r"(?m)^\[global\][ \t]*$", lambda m: f"{m[0]}\n\t{name} = {value}", text, count=1
            )
        self.smb_conf.write_text(text)

    def _make_certificates(self) -> None:
        local_tls.issue(
            self.tls_dir, f"{self.realm} test CA", self.host, [self.ip, self.host, "localhost"]
        )

    def _set_domain_password_policy(self) -> None:
        """minPwdAge 0 (change right after a reset) and the lockout settings, once per DC."""
        duration = str(-30 * _MINUTE)
        conn = self.admin_connection()
        try:
            conn.modify(self.base_dn, {
                "minPwdAge": [(MODIFY_REPLACE, ["0"])],
                "lockoutThreshold": [(MODIFY_REPLACE, [str(self.lockout_threshold)])],
                "lockoutDuration": [(MODIFY_REPLACE, [duration])],
                "lockOutObservationWindow": [(MODIFY_REPLACE, [duration])],
            })  # fmt: skip
            _check(conn, "set the domain password policy")
        finally:
            conn.unbind()

    # ---------------------------------------------------------------- processes
    def _environment(self) -> dict[str, str]:
        return {
            "PATH": "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
            "LANG": "C.UTF-8",
            "HOME": str(self.root),
            "TMPDIR": os.environ.get("TMPDIR", "/tmp"),  # noqa: S108 - the default, not a file
        }

    def _refuse_taken_port(self) -> None:
        with socket.socket() as probe:
            probe.settimeout(0.5)
            if probe.connect_ex((self.ip, LDAPS_PORT)) == 0:
                raise SambaError(
                    f"{self.ip}:{LDAPS_PORT} is already taken (another DC, a system slapd or"
                    " samba?): one DC per loopback address"
                )

    def _wait_until_ready(self) -> None:
        deadline = time.monotonic() + self.start_timeout
        last: object = "nothing listens"
        while True:
            assert self.process is not None
            if self.process.poll() is not None:
                raise SambaError(
                    f"samba exited with {self.process.returncode}:\n"
                    + _tail(self.log_file.read_text(errors="replace"))
                )
            with socket.socket() as probe:
                probe.settimeout(1)
                listening = probe.connect_ex((self.ip, LDAPS_PORT)) == 0
            if listening:
                conn = Connection(self.server(connect_timeout=1), self.admin_upn,
                                  self.admin_password, raise_exceptions=False)  # fmt: skip
                try:
                    if conn.bind():
                        conn.unbind()
                        return
                    last = conn.result
                except LDAPException as exc:
                    last = exc
            if time.monotonic() > deadline:
                raise SambaError(
                    f"no LDAPS bind within {self.start_timeout} s (last: {last!r}):\n"
                    + _tail(self.log_file.read_text(errors="replace"))
                )
            time.sleep(0.05)

    @staticmethod
    def _group_alive(pgid: int) -> bool:
        try:
            os.killpg(pgid, 0)
        except ProcessLookupError:
            return False
        except PermissionError:
            return True
        return True

    @staticmethod
    def _kill_group(pgid: int) -> None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(pgid, signal.SIGKILL)

    # ---------------------------------------------------------------- LDAP helpers (ldap3)
    def server(self, connect_timeout: float = 5) -> Server:
        tls = Tls(validate=ssl.CERT_REQUIRED, ca_certs_file=str(self.ca_file))
        return Server(
            self.ip,
            port=LDAPS_PORT,
            use_ssl=True,
            tls=tls,
            get_info=NONE,
            connect_timeout=connect_timeout,
        )

    def connection(self, user: str, password: str) -> Connection:
        """A connection with bind() already tried: look at `.bound` and `.result`."""
        conn = Connection(self.server(), user, password, raise_exceptions=False)
        conn.bind()
        return conn

    def admin_connection(self) -> Connection:
        conn = self.connection(self.admin_upn, self.admin_password)
        _check(conn, "bind as the administrator")
        return conn

    def can_bind(self, user: str, password: str) -> bool:
        conn = self.connection(user, password)
        try:
            return bool(conn.bound)
        finally:
            conn.unbind()

    def ensure_ou(self, name: str) -> str:
        dn = f"OU={name},{self.base_dn}"
        conn = self.admin_connection()
        try:
            if not conn.search(dn, "(objectClass=*)", BASE, attributes=[]):
                conn.add(dn, ["top", "organizationalUnit"])
                _check(conn, f"add {dn}")
        finally:
            conn.unbind()
        return dn

    def add_user(
        self,
        sam_account_name: str,
        *,
        password: str | None = None,
        given_name: str = "",
        surname: str = "",
        display_name: str | None = None,
        upn: str | None = None,
        container_dn: str | None = None,
        enabled: bool = True,
        **attributes: Any,
    ) -> SambaUser:
        """Add a user; with a password, set it (an administrator's reset) and enable the account.

        Raises SambaError when the DC refuses anything, the password included.
        """
        upn = upn or f"{sam_account_name}@{self.realm.lower()}"
        display_name = display_name or " ".join(p for p in (given_name, surname) if p)
        cn = display_name or sam_account_name
        dn = f"CN={_escape_rdn(cn)},{container_dn or self.users_dn}"
        attrs: dict[str, Any] = {
            "sAMAccountName": sam_account_name,
            "userPrincipalName": upn,
            **attributes,
        }
        for name, value in (
            ("givenName", given_name),
            ("sn", surname),
            ("displayName", display_name),
        ):
            if value:
                attrs[name] = value
        conn = self.admin_connection()
        try:
            conn.add(dn, ["top", "person", "organizationalPerson", "user"], attrs)
            _check(conn, f"add {dn}")
            if password is not None:
                conn.extend.microsoft.modify_password(dn, password)
                _check(conn, f"set the password of {dn}")
                if enabled:
                    uac = [(MODIFY_REPLACE, [str(UF_NORMAL_ACCOUNT)])]
                    conn.modify(dn, {"userAccountControl": uac})
                    _check(conn, f"enable {dn}")
        finally:
            conn.unbind()
        return SambaUser(dn, sam_account_name, upn, password)

    def reset_password(self, dn: str, new_password: str) -> dict[str, Any]:
        """An administrator's reset (unicodePwd replace); returns the LDAP result (0 = done)."""
        conn = self.admin_connection()
        try:
            conn.extend.microsoft.modify_password(dn, new_password)
            return dict(conn.result)
        finally:
            conn.unbind()

    def change_password(
        self, user: str, dn: str, old_password: str, new_password: str
    ) -> dict[str, Any]:
        """The user's own change (old + new) on the user's own connection; history applies."""
        conn = self.connection(user, old_password)
        try:
            if not conn.bound:
                return dict(conn.result)
            conn.extend.microsoft.modify_password(dn, new_password, old_password)
            return dict(conn.result)
        finally:
            conn.unbind()

    def delete(self, dn: str) -> None:
        conn = self.admin_connection()
        try:
            conn.delete(dn)
        finally:
            conn.unbind()


def _check(conn: Connection, what: str) -> None:
    if conn.result and conn.result.get("result") not in (0, None):
        raise SambaError(
            f"could not {what}: {conn.result['result']} "
            f"{conn.result.get('description')} {conn.result.get('message')!r}"
        )
    if not conn.bound:
        raise SambaError(f"could not {what}: not bound ({conn.result})")


def _escape_rdn(value: str) -> str:
    escaped = re.sub(r'([,+"\\<>;=])', r"\\\1", value)
    if escaped.startswith((" ", "#")):
        escaped = "\\" + escaped
    if escaped.endswith(" "):
        escaped = escaped[:-1] + "\\ "
    return escaped


def _tail(text: str, lines: int = 25) -> str:
    return "\n".join(text.splitlines()[-lines:])
