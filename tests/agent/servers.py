"""The two test directories as the agent's tests use them: one set of questions for both.

A `DirectoryServer` says how the agent reaches its directory (`config`), makes an OU and users for
a test, and reads what an entry says of failed binds and lockouts, so that a scenario the same for
both directories (test_directories.py) is written once. The conftest's `server` fixture is each of
them in turn; test_active_directory.py and test_openldap.py pin it to theirs.
"""

from __future__ import annotations

from typing import Any

from ldap3 import BASE

from sspr_agent.directory.active_directory import ActiveDirectory
from sspr_agent.directory.base import DirectoryConfig
from sspr_agent.directory.openldap import OpenLdapDirectory
from tests.directories.samba import SambaDC, SambaUser
from tests.directories.slapd import SlapdServer, SlapdUser, free_port

INITIAL = "Initial#Pass1"


class DirectoryServer:
    kind = ""  # DirectoryConfig.kind
    directory_class: type[Any] = object  # what open_directory() gives for it
    rdn_attribute = ""  # of the users a test adds
    transport = ""  # how the agent's connections are protected
    time_bound = 0.0  # seconds: the median reset and bind at most (loose)
    a_cursor = ""  # a well-formed cursor of this directory

    def config(self, base_dn: str | None = None) -> DirectoryConfig:
        raise NotImplementedError

    def unreachable_url(self) -> str:
        """Where nothing listens."""
        raise NotImplementedError

    def add_ou(self, name: str) -> str:
        raise NotImplementedError

    def add_user(self, name: str, **attributes: Any) -> SambaUser | SlapdUser:
        raise NotImplementedError

    def read(self, dn: str, *attributes: str) -> dict[str, list[Any]]:
        """The entry's attributes as an administrator sees them."""
        raise NotImplementedError

    def failed_binds(self, dn: str) -> int:
        """The failures the directory counts towards a lockout."""
        raise NotImplementedError

    def locked(self, dn: str) -> bool:
        """Whether the entry holds a lockout."""
        raise NotImplementedError

    def started(self) -> str:
        """How long the server took to start, in words."""
        raise NotImplementedError


class ActiveDirectoryServer(DirectoryServer):
    """A Samba AD DC (tests/directories/samba.py), the service account its Administrator."""

    kind = "ad"
    directory_class = ActiveDirectory
    rdn_attribute = "CN"
    transport = "LDAPS"
    time_bound = 2.0
    a_cursor = "1"  # a USN

    def __init__(self, dc: SambaDC) -> None:
        self.dc = dc

    def config(self, base_dn: str | None = None) -> DirectoryConfig:
        return DirectoryConfig(
            kind=self.kind,
            url=self.dc.ldaps_url,
            bind_dn=self.dc.admin_bind_dn,
            bind_password=self.dc.admin_password,
            base_dn=base_dn or self.dc.base_dn,
            ca_file=str(self.dc.ca_file),
        )

    def unreachable_url(self) -> str:
        return f"ldaps://127.0.0.1:{free_port()}"

    def add_ou(self, name: str) -> str:
        return self.dc.ensure_ou(name)

    def add_user(self, name: str, **attributes: Any) -> SambaUser:
        return self.dc.add_user(name, **attributes)

    def read(self, dn: str, *attributes: str) -> dict[str, list[Any]]:
        return read(self.dc, dn, *attributes)

    def failed_binds(self, dn: str) -> int:
        return int((self.read(dn, "badPwdCount").get("badPwdCount") or [0])[0])

    def locked(self, dn: str) -> bool:
        return int((self.read(dn, "lockoutTime").get("lockoutTime") or [0])[0]) > 0

    def started(self) -> str:
        timings = self.dc.timings
        return (
            f"samba: DC start {timings.get('start', 0) * 1000:.0f} ms "
            f"(provision {timings.get('provision', 0) * 1000:.0f} ms)"
        )


class OpenLdapServer(DirectoryServer):
    """A private slapd (tests/directories/slapd.py) with its agent service account."""

    kind = "openldap"
    directory_class = OpenLdapDirectory
    rdn_attribute = "uid"
    transport = "StartTLS"
    time_bound = 1.0
    a_cursor = "20240101000000.000000Z#000000#000#000000"  # a CSN

    def __init__(self, server: SlapdServer) -> None:
        self.server = server

    def config(self, base_dn: str | None = None) -> DirectoryConfig:
        return DirectoryConfig(
            kind=self.kind,
            url=self.server.url,
            bind_dn=self.server.service_dn,
            bind_password=self.server.service_password,
            base_dn=base_dn or self.server.base_dn,
            ca_file=str(self.server.ca_file),
        )

    def unreachable_url(self) -> str:
        return f"ldap://127.0.0.1:{free_port()}"

    def add_ou(self, name: str) -> str:
        dn = f"ou={name},{self.server.base_dn}"
        self.server.add(dn, ["organizationalUnit"], {"ou": name})
        return dn

    def add_user(self, name: str, **attributes: Any) -> SlapdUser:
        return self.server.add_user(name, **attributes)

    def read(self, dn: str, *attributes: str) -> dict[str, list[Any]]:
        return self.server.read(dn, *attributes)

    def failed_binds(self, dn: str) -> int:
        return len(self.read(dn, "pwdFailureTime").get("pwdFailureTime") or [])

    def locked(self, dn: str) -> bool:
        return bool(self.read(dn, "pwdAccountLockedTime").get("pwdAccountLockedTime"))

    def started(self) -> str:
        return f"slapd: fixture start {self.server.timings['start'] * 1000:.0f} ms"


def read(dc: SambaDC, dn: str, *attributes: str) -> dict[str, list[object]]:
    """The entry's attributes, read by the DC's Administrator."""
    conn = dc.admin_connection()
    try:
        assert conn.search(dn, "(objectClass=*)", BASE, attributes=list(attributes))
        return {k: list(v) for k, v in conn.response[0]["attributes"].items()}
    finally:
        conn.unbind()
