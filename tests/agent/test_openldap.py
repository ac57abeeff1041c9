"""OpenLdapDirectory against a real slapd (ppolicy, syncprov, StartTLS).

What both directories do alike is in test_directories.py, against this slapd too.
"""

from __future__ import annotations

import shutil
import subprocess
import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import pytest

from sspr_agent.directory import open_directory
from sspr_agent.directory.openldap import (
    OpenLdapDirectory,
    PasswordPolicy,
    decode_ppolicy,
    generalized_time,
    history_values,
    outcome_of,
    password_matches,
    policy_refusal,
)
from sspr_protocol.messages import Outcome
from tests.agent.servers import INITIAL, OpenLdapServer
from tests.directories.slapd import SlapdServer, SlapdUser, ssha


@pytest.fixture
def server(slapd_server: SlapdServer) -> OpenLdapServer:
    """slapd only: `ou`, `directory` and `user` (conftest.py) are slapd's."""
    return OpenLdapServer(slapd_server)


# ------------------------------------------------------------------------------ sync
def test_full_read_maps_users_and_groups_page_by_page(
    slapd_server: SlapdServer, directory: OpenLdapDirectory, ou: str
) -> None:
    alice = slapd_server.add_user(
        "alice", password=INITIAL, given_name="Alice", surname="Anderson", container_dn=ou,
        mobile="+1 555 0100", telephoneNumber="+1 555 0199",
    )  # fmt: skip
    bob = slapd_server.add_user("bob", password=INITIAL, surname="Brown", container_dn=ou)
    carol = slapd_server.add_user(
        "carol", password=INITIAL, upn="carol.upn@example.test", mail="carol@mail.test",
        container_dn=ou,
    )  # fmt: skip
    locked = slapd_server.add_user("dave", password=INITIAL, container_dn=ou)
    disabled = slapd_server.add_user("erin", password=INITIAL, container_dn=ou)
    outsider = slapd_server.add_user("outsider-" + ou.split(",")[0][3:], password=INITIAL)
    for _ in range(3):
        assert not slapd_server.can_bind(locked.dn, "Wrong#Pass1")
    slapd_server.disable(disabled.dn)
    assert directory.reset_password(alice.dn, "Alice#Reset22", must_change=False).ok
    staff = slapd_server.add_group(
        "staff", [alice.dn, bob.dn.upper(), outsider.dn], container_dn=ou
    )
    everyone = slapd_server.add_group(
        "everyone", [staff.dn, carol.dn], unique=True, container_dn=ou
    )

    pages = list(directory.read_all(page_size=2))

    user_pages = [p for p in pages if p.users]
    assert len(user_pages) == 3  # 5 users, 2 a page
    assert all(len(p.users) + len(p.groups) <= 2 and not p.deleted_anchors for p in pages)
    users = {u.dn: u for p in pages for u in p.users}
    assert set(users) == {alice.dn, bob.dn, carol.dn, locked.dn, disabled.dn}
    a = users[alice.dn]
    entry = slapd_server.read(alice.dn, "entryUUID")
    assert a.anchor == entry["entryUUID"][0].lower()
    assert (a.upn, a.mail, a.given_name, a.family_name, a.display_name) == (
        "alice@example.test", "alice@example.test", "Alice", "Anderson", "Alice Anderson",
    )  # fmt: skip
    assert (a.mobile_phone, a.office_phone) == ("+1 555 0100", "+1 555 0199")
    assert a.enabled and not a.locked_out
    assert a.password_last_set is not None and abs(a.password_last_set - time.time()) < 120
    assert users[carol.dn].upn == "carol@mail.test"  # the UPN is `mail` by default
    assert users[locked.dn].locked_out and users[locked.dn].enabled
    assert not users[disabled.dn].enabled and not users[disabled.dn].locked_out

    groups = {g.dn: g for p in pages for g in p.groups}
    assert set(groups) == {staff.dn, everyone.dn}
    # member DNs → anchors; the DN outside base_dn is left out; case does not matter
    assert groups[staff.dn].member_anchors == [a.anchor, users[bob.dn].anchor]
    assert groups[staff.dn].name == "staff"
    assert groups[everyone.dn].member_anchors == [groups[staff.dn].anchor, users[carol.dn].anchor]


def test_upn_attribute_can_be_overridden(server: OpenLdapServer, ou: str, user: SlapdUser) -> None:
    directory = OpenLdapDirectory(replace(server.config(ou), attributes={"upn": "uid"}))
    try:
        (page,) = list(directory.read_all())
    finally:
        directory.close()
    assert page.users[0].upn == user.uid


def test_user_filter_scopes_the_sync(
    slapd_server: SlapdServer, server: OpenLdapServer, ou: str
) -> None:
    slapd_server.add_user("in1", password=INITIAL, container_dn=ou, employeeType="staff")
    slapd_server.add_user("out1", password=INITIAL, container_dn=ou, employeeType="contractor")
    config = replace(server.config(ou), user_filter="(employeeType=staff)")
    directory = OpenLdapDirectory(config)
    try:
        names = [u.dn.split(",")[0] for p in directory.read_all() for u in p.users]
    finally:
        directory.close()
    assert names == ["uid=in1"]


def test_cursor_and_delta(slapd_server: SlapdServer, directory: OpenLdapDirectory, ou: str) -> None:
    first = slapd_server.add_user("first", password=INITIAL, container_dn=ou)
    second = slapd_server.add_user("second", password=INITIAL, container_dn=ou)
    group = slapd_server.add_group("team", [first.dn], container_dn=ou)
    cursor = directory.cursor()
    assert cursor == slapd_server.read(slapd_server.base_dn, "contextCSN")["contextCSN"][0]

    slapd_server.modify(second.dn, {"mail": ["second.new@example.test"]})
    changed = list(directory.read_changes(cursor))

    users = [u for p in changed for u in p.users]
    assert [(u.dn, u.mail) for u in users] == [(second.dn, "second.new@example.test")]
    assert not [g for p in changed for g in p.groups]
    assert directory.cursor() > cursor

    cursor = directory.cursor()
    slapd_server.modify(group.dn, {"member": [first.dn, second.dn]})
    changed = list(directory.read_changes(cursor))
    groups = [g for p in changed for g in p.groups]
    # the members were not changed: their anchors are looked up
    assert [(g.dn, len(g.member_anchors)) for g in groups] == [(group.dn, 2)]
    assert not [u for p in changed for u in p.users]


def test_delta_with_nothing_changed_is_empty(directory: OpenLdapDirectory, user: SlapdUser) -> None:
    assert list(directory.read_changes(directory.cursor())) == []


# ------------------------------------------------------------------------------ writeback
def test_reset_without_must_change(
    slapd_server: SlapdServer, directory: OpenLdapDirectory, user: SlapdUser
) -> None:
    assert directory.reset_password(user.dn, "Fresh#Reset22", must_change=False).ok
    assert slapd_server.read(user.dn, "pwdReset") == {"pwdReset": []}
    assert directory.verify_credentials(user.dn, "Fresh#Reset22").outcome == Outcome.OK
    assert directory.verify_credentials(user.dn, INITIAL).outcome == Outcome.WRONG_PASSWORD
    conn = slapd_server.connection(user.dn, "Fresh#Reset22")
    try:  # not restricted to changing the password
        assert conn.search(user.dn, "(objectClass=*)", "BASE")
    finally:
        conn.unbind()


def test_reset_with_must_change_then_the_user_changes(
    slapd_server: SlapdServer, directory: OpenLdapDirectory, user: SlapdUser
) -> None:
    assert directory.reset_password(user.dn, "Temp#Reset22", must_change=True).ok
    assert slapd_server.read(user.dn, "pwdReset") == {"pwdReset": ["TRUE"]}
    result = directory.verify_credentials(user.dn, "Temp#Reset22")
    assert result.outcome == Outcome.MUST_CHANGE
    assert "changeAfterReset" in result.message
    conn = slapd_server.connection(user.dn, "Temp#Reset22")
    try:  # slapd lets the user bind, then refuses everything but a password change
        assert conn.bound
        conn.search(user.dn, "(objectClass=*)", "BASE")
        assert conn.result["result"] == 50
    finally:
        conn.unbind()
    assert directory.change_password(user.dn, "Temp#Reset22", "Mine#Own4567").ok
    assert directory.verify_credentials(user.dn, "Mine#Own4567").outcome == Outcome.OK
    assert slapd_server.read(user.dn, "pwdReset") == {"pwdReset": []}


def test_minimum_age(
    slapd_server: SlapdServer,
    directory: OpenLdapDirectory,
    ou: str,
    unique: Callable[[str], str],
) -> None:
    policy = slapd_server.add_policy(unique("minage"), pwdMinAge="3600")
    young = slapd_server.add_user(unique("y"), password=INITIAL, container_dn=ou, policy_dn=policy)
    # the password administrator's reset is not held back by the minimum age...
    assert directory.reset_password(young.dn, "Reset#Young1", must_change=False).ok
    # ...the user's own change is
    result = directory.change_password(young.dn, "Reset#Young1", "Changed#Young2")
    assert result.outcome == Outcome.PASSWORD_TOO_YOUNG
    assert directory.verify_credentials(young.dn, "Reset#Young1").ok


def test_too_short(directory: OpenLdapDirectory, user: SlapdUser) -> None:
    result = directory.change_password(user.dn, INITIAL, "Sh0rt#")
    assert result.outcome == Outcome.PASSWORD_TOO_SHORT
    assert "passwordTooShort" in result.message
    assert directory.verify_credentials(user.dn, INITIAL).ok


def test_empty_new_password_is_refused_not_generated(
    directory: OpenLdapDirectory, user: SlapdUser
) -> None:
    # Password Modify without a new password would have slapd generate one
    assert directory.reset_password(user.dn, "", must_change=False).outcome == (
        Outcome.PASSWORD_TOO_SHORT
    )
    assert directory.change_password(user.dn, INITIAL, "").outcome == Outcome.PASSWORD_TOO_SHORT
    assert directory.verify_credentials(user.dn, INITIAL).ok


def test_unlock_also_clears_failures_short_of_a_lockout(
    slapd_server: SlapdServer, directory: OpenLdapDirectory, user: SlapdUser
) -> None:
    for _ in range(2):
        assert not slapd_server.can_bind(user.dn, "Wrong#Pass1")
    assert directory.unlock(user.dn).ok
    assert slapd_server.read(user.dn, "pwdFailureTime") == {"pwdFailureTime": []}


def test_disabled_account(
    slapd_server: SlapdServer, directory: OpenLdapDirectory, user: SlapdUser
) -> None:
    slapd_server.disable(user.dn)
    assert directory.verify_credentials(user.dn, INITIAL).outcome == Outcome.ACCOUNT_DISABLED
    # neither an unlock nor a reset (ppolicy drops the lock on a new password) re-enables it
    assert directory.unlock(user.dn).outcome == Outcome.ACCOUNT_DISABLED
    assert directory.reset_password(user.dn, "Fresh#Reset22", False).outcome == (
        Outcome.ACCOUNT_DISABLED
    )
    assert slapd_server.read(user.dn, "pwdAccountLockedTime")["pwdAccountLockedTime"] == [
        "000001010000Z"
    ]
    assert [u.enabled for p in directory.read_all() for u in p.users] == [False]


# A self-service reset (enforce_policy) obeys the user's ppolicy; an administrator's does not.
def password_state(server: SlapdServer, dn: str) -> dict[str, list[object]]:
    """What any password write changes (userPassword is salted: a new hash every time)."""
    return server.read(dn, "userPassword", "pwdHistory", "pwdChangedTime", "pwdReset")


def test_a_self_service_reset_obeys_the_default_policy(
    slapd_server: SlapdServer, directory: OpenLdapDirectory, user: SlapdUser
) -> None:
    # The default policy (cn=default, found by the agent): quality 2, minimum 8, history 3.
    before = password_state(slapd_server, user.dn)
    short = directory.reset_password(user.dn, "Sh0rt#", False, enforce_policy=True)
    assert short.outcome == Outcome.PASSWORD_TOO_SHORT
    assert slapd_server.default_policy_dn in short.message
    unchanged = directory.reset_password(user.dn, INITIAL, False, enforce_policy=True)
    assert unchanged.outcome == Outcome.PASSWORD_UNCHANGED
    assert password_state(slapd_server, user.dn) == before  # nothing written
    assert directory.verify_credentials(user.dn, INITIAL).ok

    assert directory.reset_password(user.dn, "Second#Pass2", False, enforce_policy=True).ok
    assert directory.verify_credentials(user.dn, "Second#Pass2").ok  # no pwdReset left
    # ppolicy recorded the replaced password, as for any write
    assert len(slapd_server.read(user.dn, "pwdHistory")["pwdHistory"]) == 1
    assert directory.reset_password(user.dn, "Third#Pass3", False, enforce_policy=True).ok

    written = password_state(slapd_server, user.dn)
    for old in (INITIAL, "Second#Pass2"):
        reuse = directory.reset_password(user.dn, old, False, enforce_policy=True)
        assert reuse.outcome == Outcome.PASSWORD_IN_HISTORY, reuse
        assert "history" in reuse.message
    assert password_state(slapd_server, user.dn) == written  # nothing written
    assert directory.verify_credentials(user.dn, "Third#Pass3").ok


def test_an_administrators_reset_is_exempt(
    slapd_server: SlapdServer, directory: OpenLdapDirectory, user: SlapdUser
) -> None:
    assert directory.change_password(user.dn, INITIAL, "Second#Pass2").ok
    # without enforce_policy: the password administrator's reset, as ppolicy allows it
    assert directory.reset_password(user.dn, INITIAL, must_change=True).ok  # in the history
    assert directory.reset_password(user.dn, "Sh0rt#", must_change=True).ok  # too short
    assert directory.reset_password(user.dn, "Sh0rt#", must_change=False).ok  # the same
    assert directory.verify_credentials(user.dn, "Sh0rt#").ok


def test_a_self_service_reset_obeys_the_users_own_policy(
    slapd_server: SlapdServer,
    directory: OpenLdapDirectory,
    ou: str,
    unique: Callable[[str], str],
) -> None:
    strict = slapd_server.add_policy(unique("strict"), pwdMinLength="14")
    lax = slapd_server.add_policy(unique("lax"), pwdInHistory="0", pwdCheckQuality="0")
    alice = slapd_server.add_user(unique("a"), password=INITIAL, container_dn=ou, policy_dn=strict)
    bob = slapd_server.add_user(unique("b"), password=INITIAL, container_dn=ou, policy_dn=lax)

    refused = directory.reset_password(alice.dn, "Thirteen#Ch13", False, enforce_policy=True)
    assert refused.outcome == Outcome.PASSWORD_TOO_SHORT  # the default's 8 would allow it
    assert strict in refused.message
    assert directory.verify_credentials(alice.dn, INITIAL).ok
    assert directory.reset_password(alice.dn, "Fourteen#Chars", False, enforce_policy=True).ok
    # no quality check and no history in bob's policy: as slapd would, the agent lets these by
    assert directory.reset_password(bob.dn, "Sh0rt#", False, enforce_policy=True).ok
    assert directory.reset_password(bob.dn, "Sh0rt#", False, enforce_policy=True).ok
    assert directory.verify_credentials(bob.dn, "Sh0rt#").ok


def test_a_policy_that_cannot_be_read_stops_a_self_service_reset(
    slapd_server: SlapdServer, directory: OpenLdapDirectory, ou: str, unique: Callable[[str], str]
) -> None:
    missing = f"cn={unique('missing')},{slapd_server.policies_dn}"
    user = slapd_server.add_user(unique("m"), password=INITIAL, container_dn=ou, policy_dn=missing)
    before = password_state(slapd_server, user.dn)
    result = directory.reset_password(user.dn, "Brand#New44", False, enforce_policy=True)
    assert result.outcome == Outcome.DIRECTORY_ERROR
    assert missing in result.message
    assert password_state(slapd_server, user.dn) == before
    assert directory.reset_password(user.dn, "Brand#New44", False).ok  # the admin's still works


def test_the_default_policy_when_it_cannot_be_recognised(tmp_path: Path) -> None:
    server = SlapdServer(tmp_path / "slapd").start()
    try:
        other = server.add_policy("other", pwdMinLength="16")
        server.delete(server.default_policy_dn)  # left: cn=service and cn=other
        user = server.add_user("nopolicy", password=INITIAL)
        config = OpenLdapServer(server).config()
        directory = OpenLdapDirectory(config)
        try:
            result = directory.reset_password(user.dn, "Brand#New44", False, enforce_policy=True)
            assert result.outcome == Outcome.DIRECTORY_ERROR
            assert "default_policy_dn" in result.message
            assert server.can_bind(user.dn, INITIAL)
        finally:
            directory.close()

        # told which one it is (the overlay's ppolicy_default)
        directory = OpenLdapDirectory(replace(config, default_policy_dn=other))
        try:
            result = directory.reset_password(
                user.dn, "Fifteen#Chars15", False, enforce_policy=True
            )
            assert result.outcome == Outcome.PASSWORD_TOO_SHORT
            assert other in result.message
        finally:
            directory.close()

        # no pwdPolicy at all: no policy applies, as in slapd
        server.delete(other)
        server.delete(f"cn=service,{server.policies_dn}")
        directory = OpenLdapDirectory(config)
        try:
            assert directory.reset_password(user.dn, "Sh0rt#", False, enforce_policy=True).ok
        finally:
            directory.close()
    finally:
        server.destroy()


def test_verify_credentials(
    slapd_server: SlapdServer, directory: OpenLdapDirectory, user: SlapdUser
) -> None:
    assert directory.verify_credentials(user.dn, INITIAL).outcome == Outcome.OK
    assert directory.verify_credentials(user.dn, "Wrong#Pass1").outcome == Outcome.WRONG_PASSWORD
    assert len(slapd_server.read(user.dn, "pwdFailureTime")["pwdFailureTime"]) == 1
    empty = directory.verify_credentials(user.dn, "")
    assert empty.outcome == Outcome.WRONG_PASSWORD
    assert "before binding" in empty.message
    assert len(slapd_server.read(user.dn, "pwdFailureTime")["pwdFailureTime"]) == 1
    assert directory.verify_credentials(user.dn, INITIAL).outcome == Outcome.OK
    # a successful bind clears the failure count
    assert slapd_server.read(user.dn, "pwdFailureTime") == {"pwdFailureTime": []}


def test_a_string_that_is_not_a_dn_is_no_user(directory: OpenLdapDirectory) -> None:
    assert directory.verify_credentials("not a dn", INITIAL).outcome == Outcome.USER_NOT_FOUND


def test_a_bad_service_password_is_a_directory_error(
    server: OpenLdapServer, user: SlapdUser
) -> None:
    directory = OpenLdapDirectory(replace(server.config(), bind_password="wrong"))
    result = directory.reset_password(user.dn, "Brand#New44", False)
    assert result.outcome == Outcome.DIRECTORY_ERROR
    assert "service account" in result.message


def test_the_service_connection_comes_back_after_a_drop(
    directory: OpenLdapDirectory, user: SlapdUser
) -> None:
    assert directory.unlock(user.dn).ok
    service = directory.link._service
    assert service is not None
    service.socket.close()  # as if the server or a firewall had cut it
    assert directory.reset_password(user.dn, "After#Drop123", False).ok
    assert directory.verify_credentials(user.dn, "After#Drop123").ok


# ------------------------------------------------------------------------------ units
@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (b"0\x00", {}),
        (b"0\x03\x81\x01\x01", {"error": "accountLocked"}),
        (b"0\x03\x81\x01\x02", {"error": "changeAfterReset"}),
        (b"0\x05\xa0\x03\x81\x01\x02", {"graceAuthNsRemaining": 2}),
        (b"0\x06\xa0\x04\x80\x02\x0e\x10", {"timeBeforeExpiration": 3600}),
        (
            b"0\x09\xa0\x04\x80\x02\x0e\x10\x81\x01\x00",
            {"timeBeforeExpiration": 3600, "error": "passwordExpired"},
        ),
        (b"", {}),
        (None, {}),
    ],
)
def test_decode_ppolicy(value: bytes | None, expected: dict[str, object]) -> None:
    assert decode_ppolicy(value) == expected


@pytest.mark.parametrize(
    ("code", "error", "message", "outcome"),
    [
        (19, 6, "Password fails quality checking policy", Outcome.PASSWORD_TOO_SHORT),
        (19, 5, "Password fails quality checking policy", Outcome.PASSWORD_NOT_COMPLEX),
        (19, 8, "Password is in history of old passwords", Outcome.PASSWORD_IN_HISTORY),
        (19, 8, "Password is not being changed from existing value", Outcome.PASSWORD_UNCHANGED),
        (19, 7, "Password is too young to change", Outcome.PASSWORD_TOO_YOUNG),
        (19, 9, "Password fails quality checking policy", Outcome.DIRECTORY_ERROR),
        (50, 2, "Operations are restricted to bind/unbind/abandon/StartTLS/modify password",
         Outcome.MUST_CHANGE),
        (50, 3, "user may not change password", Outcome.DIRECTORY_ERROR),
        (53, None, "unwilling to verify old password", Outcome.WRONG_PASSWORD),
        (19, None, "Password is in history of old passwords", Outcome.PASSWORD_IN_HISTORY),
        (32, None, "", Outcome.USER_NOT_FOUND),
        (51, None, "", Outcome.DIRECTORY_UNAVAILABLE),
        (52, None, "", Outcome.DIRECTORY_UNAVAILABLE),
        (50, None, "no write access", Outcome.DIRECTORY_ERROR),
    ],
)  # fmt: skip
def test_outcome_of_slapd_answers(
    code: int, error: int | None, message: str, outcome: Outcome
) -> None:
    result: dict[str, object] = {"result": code, "description": "x", "message": message}
    if error is not None:
        value = b"0\x03\x81\x01" + bytes([error])
        result["controls"] = {"1.3.6.1.4.1.42.2.27.8.5.1": {"value": value}}
    assert outcome_of(result).outcome == outcome


SECRET = "Secret#Pass1"


@pytest.mark.parametrize(
    "stored",
    [
        SECRET,
        "{CLEARTEXT}" + SECRET,
        ssha(SECRET),
        "{SHA}AR8AeNuA8iJ9eieXJpdJZklOUFc=",
        "{SMD5}NsBURZEoX2BVxe1fRGVpT9XRFxw=",
        "{MD5}oNzbYpCL+UAC6zF/f1Jmcg==",
        "{SSHA256}5LeDBcXX1ICoULffhOht+L8b9vvjFV2I6xGb0Eyunptlsctk0rmOYA==",
        "{SHA256}5Q9LtGiWDKZn4Jhniz55gL0RSqTlJtMuIG5tI1Jwi8s=",
        "{SSHA384}Pa4ts8MpBFVplG5S1uir8VmacAXxPW7HLeA/CyIsfbCJLfQ9eJPhmju4IP2eMnxRwYh2wePukdg=",
        "{SHA512}8hjOZffnzQthx5eSeEbzXVl8DmlQzBz88SzIHrQ38YHKSt489OZPg9aO4C/EISlzjw/qMCNbuVfmEvHCD"
        "rydXg==",
        "{ARGON2}$argon2i$v=19$m=4096,t=3,p=1$hAs22lUZj0butQhTMbZX3A$ih2vyUBWZkzot7F4mNwdC394Cn+do"
        "2UypdHHWErHuxw",
        "{CRYPT}$6$LDsbPh9m$miZqyHXCm0K7yrPas9LHkajPQfgFdvqaGPvgh545dhYBVUlYuXoS00BGGSb9q5kB18GayA"
        "fVlUslJzuA0ETGH/",
        "{CRYPT}$1$abcdefgh$CDQUEG9SJe0F3RzUQPDy5.",
        # laid out as pw-pbkdf2 does (rounds$salt$digest, adapted base64), made with hashlib
        "{PBKDF2-SHA256}1000$c2FsdHNhbHRzYWx0$M5rG2kh4Q/AvImqCvAUOAImnYuAzEUwaA/iW.zZx4Ng",
    ],
)  # slapd's own hashes (slappasswd, with pw-sha2 and argon2 for those schemes)
def test_password_matches_the_schemes_slapd_stores(stored: str) -> None:
    assert password_matches(stored, SECRET) is True
    assert password_matches(stored.encode(), SECRET) is True
    assert password_matches(stored, "Secret#Pass2") is False


@pytest.mark.parametrize(
    "stored",
    [
        "{UNKNOWN}abc",
        "{SSHA}not base64!",
        "{SHA}c2hvcnQ=",  # not a SHA-1 digest's length
        "{ARGON2}not-an-argon2-hash",
        "{PBKDF2-SHA512}garbage",
    ],
)
def test_password_matches_cannot_tell(stored: str) -> None:
    assert password_matches(stored, SECRET) is None


def test_a_scheme_the_agent_does_not_know_is_also_compared_whole() -> None:
    # as slapd does with a scheme it does not know: the value as cleartext
    assert password_matches("{UNKNOWN}abc", "{UNKNOWN}abc") is True
    assert password_matches("{UNKNOWN}abc", "abc") is None


MODULES = Path("/usr/lib/ldap")


@pytest.mark.skipif(not shutil.which("slappasswd"), reason="slappasswd is not installed")
@pytest.mark.parametrize(
    ("scheme", "module"),
    [("{SSHA}", ""), ("{SHA}", ""), ("{SMD5}", ""), ("{MD5}", ""), ("{CRYPT}", ""),
     ("{SSHA256}", "pw-sha2"), ("{SSHA512}", "pw-sha2"), ("{SHA384}", "pw-sha2"),
     ("{ARGON2}", "argon2")],
)  # fmt: skip
def test_password_matches_what_slappasswd_makes(scheme: str, module: str) -> None:
    command = ["slappasswd", "-h", scheme, "-s", SECRET]
    if scheme == "{CRYPT}":
        command += ["-c", "$6$%.8s"]  # sha512-crypt
    if module:
        if not (MODULES / f"{module}.so").exists():
            pytest.skip(f"slapd's {module} module is not installed")
        command += ["-o", f"module-path={MODULES}", "-o", f"module-load={module}"]
    made = subprocess.run(command, capture_output=True, text=True, check=True).stdout.strip()
    assert made.startswith(scheme)
    assert password_matches(made, SECRET) is True
    assert password_matches(made, SECRET + "x") is False


def test_history_values_oldest_first() -> None:
    oid = "1.3.6.1.4.1.1466.115.121.1.40"
    found = [
        f"20240301000000Z#{oid}#9#{{SHA}}new".encode(),
        f"20240101000000Z#{oid}#9#{{SHA}}old",
        b"garbage",
        f"20240201000000Z#{oid}#5#mid#dle".encode(),  # '#' in a value: the length says where
    ]
    assert history_values(found) == [b"{SHA}old", b"mid#d", b"{SHA}new"]


def test_policy_refusal_as_ppolicy_decides() -> None:
    current = [ssha("Current#1").encode()]
    history = [ssha(f"Old#Pass{i}").encode() for i in range(4)]  # oldest first

    def refused(rules: PasswordPolicy, password: str) -> Outcome | None:
        answer = policy_refusal(rules, password, current, history)
        return None if answer is None else answer.outcome

    strict = PasswordPolicy("cn=p", min_length=10, check_quality=1, in_history=3)
    assert refused(strict, "Short#1") == Outcome.PASSWORD_TOO_SHORT
    assert refused(strict, "Current#1") == Outcome.PASSWORD_TOO_SHORT  # quality comes first
    assert refused(strict, "Ünïcødé#1") is None  # 9 characters, 13 octets: slapd counts octets
    rules = PasswordPolicy("cn=p", min_length=8, check_quality=1, in_history=3)
    assert refused(rules, "Current#1") == Outcome.PASSWORD_UNCHANGED
    assert refused(rules, "Old#Pass3") == Outcome.PASSWORD_IN_HISTORY  # the newest
    assert refused(rules, "Old#Pass1") == Outcome.PASSWORD_IN_HISTORY
    assert refused(rules, "Old#Pass0") is None  # older than the last pwdInHistory 3
    assert refused(rules, "Brand#New1") is None
    # pwdCheckQuality 0: no length check; pwdInHistory 0: neither history nor "unchanged"
    assert refused(PasswordPolicy("cn=p", min_length=10), "Short#1") is None
    assert refused(PasswordPolicy("cn=p", check_quality=2), "Current#1") is None
    too_long = PasswordPolicy("cn=p", max_length=12, check_quality=1)
    assert refused(too_long, "Much#Too#Long#1") == Outcome.DIRECTORY_ERROR


def test_generalized_time() -> None:
    assert generalized_time("19700101000000Z") == 0
    assert generalized_time("20240131120000Z") == 1706702400
    assert generalized_time("20240131120000.5Z") == 1706702400.5
    assert generalized_time("20240131140000+0200") == 1706702400
    assert generalized_time("garbage") is None
    assert generalized_time(None) is None


def test_open_directory_by_kind(server: OpenLdapServer) -> None:
    config = server.config()
    assert isinstance(open_directory(config), OpenLdapDirectory)
    with pytest.raises(ValueError, match="unknown directory kind"):
        open_directory(replace(config, kind="novell"))
    with pytest.raises(ValueError, match="unsupported directory URL"):
        open_directory(replace(config, url="http://example.test"))
