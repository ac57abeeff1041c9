"""ActiveDirectory against a real Samba AD DC over LDAPS (lockout threshold 3).

What both directories do alike is in test_directories.py, against this DC too.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from dataclasses import replace

import pytest
from ldap3 import MODIFY_REPLACE

from sspr_agent.directory import open_directory
from sspr_agent.directory.active_directory import (
    POLICY_HINTS_OID,
    ActiveDirectory,
    bind_data_code,
    filetime_to_unix,
    meets_ad_complexity,
    outcome_of,
)
from sspr_agent.directory.base import DirectoryConfig
from sspr_protocol.messages import Outcome
from tests.agent.servers import INITIAL, ActiveDirectoryServer, read
from tests.directories.samba import SambaDC, SambaUser

# What a Windows DC answers: the reason is not in the message.
WINDOWS_052D = "0000052D: SvcErr: DSID-031A1248, problem 5003 (WILL_NOT_PERFORM), data 0\n"


@pytest.fixture
def server(samba_dc: SambaDC) -> ActiveDirectoryServer:
    """The Samba DC only: `ou`, `directory` and `user` (conftest.py) are the DC's."""
    return ActiveDirectoryServer(samba_dc)


def config_for_url(url: str) -> DirectoryConfig:
    return DirectoryConfig(
        kind="ad", url=url, bind_dn="CN=svc", bind_password="unused", base_dn="DC=y"
    )


def modify(dc: SambaDC, dn: str, **changes: list[str]) -> None:
    conn = dc.admin_connection()
    try:
        conn.modify(dn, {name: [(MODIFY_REPLACE, v)] for name, v in changes.items()})
        assert conn.result["result"] == 0, conn.result
    finally:
        conn.unbind()


def add_group(dc: SambaDC, ou: str, name: str, members: list[str]) -> str:
    dn = f"CN={name},{ou}"
    conn = dc.admin_connection()
    try:
        ou_name = ou.split(",")[0].split("=")[1]
        attributes: dict[str, object] = {"sAMAccountName": f"{name}-{ou_name}"[:20]}
        if members:
            attributes["member"] = members
        conn.add(dn, ["top", "group"], attributes)
        assert conn.result["result"] == 0, conn.result
    finally:
        conn.unbind()
    return dn


# ------------------------------------------------------------------------------ sync
def test_full_read_maps_users_and_groups_page_by_page(
    samba_dc: SambaDC, directory: ActiveDirectory, ou: str, unique: Callable[[str], str]
) -> None:
    alice = samba_dc.add_user(
        unique("alice"), password=INITIAL, given_name="Alice", surname="Anderson",
        upn="alice.a@example.test", mail="alice@mail.test", mobile="+1 555 0100",
        telephoneNumber="+1 555 0199", container_dn=ou,
    )  # fmt: skip
    bob = samba_dc.add_user(unique("bob"), password=INITIAL, surname="Brown", container_dn=ou)
    carol = samba_dc.add_user(unique("carol"), password=INITIAL, container_dn=ou)
    disabled = samba_dc.add_user(unique("dis"), password=INITIAL, container_dn=ou, enabled=False)
    locked = samba_dc.add_user(unique("lck"), password=INITIAL, container_dn=ou)
    for _ in range(3):
        assert not samba_dc.can_bind(locked.dn, "Wrong#Pass1")
    modify(samba_dc, carol.dn, pwdLastSet=["0"])
    staff = add_group(samba_dc, ou, "staff", [alice.dn, bob.dn.upper(), samba_dc.admin_bind_dn])
    everyone = add_group(samba_dc, ou, "everyone", [staff, carol.dn])
    add_group(samba_dc, ou, "empty", [])

    pages = list(directory.read_all(page_size=2))

    assert len([p for p in pages if p.users]) == 3  # 5 users, 2 a page
    assert all(len(p.users) + len(p.groups) <= 2 and not p.deleted_anchors for p in pages)
    users = {u.dn: u for p in pages for u in p.users}
    assert set(users) == {alice.dn, bob.dn, carol.dn, disabled.dn, locked.dn}
    a = users[alice.dn]
    guid = read(samba_dc, alice.dn, "objectGUID")["objectGUID"][0]
    assert isinstance(guid, bytes)
    assert a.anchor == str(uuid.UUID(bytes_le=guid))
    assert (a.upn, a.mail, a.given_name, a.family_name, a.display_name) == (
        "alice.a@example.test", "alice@mail.test", "Alice", "Anderson", "Alice Anderson",
    )  # fmt: skip
    assert (a.mobile_phone, a.office_phone) == ("+1 555 0100", "+1 555 0199")
    assert a.enabled and not a.locked_out
    assert a.password_last_set is not None and abs(a.password_last_set - time.time()) < 120
    assert users[carol.dn].password_last_set is None  # pwdLastSet 0: must change
    assert not users[disabled.dn].enabled and not users[disabled.dn].locked_out
    assert users[locked.dn].locked_out and users[locked.dn].enabled

    groups = {g.name: g for p in pages for g in p.groups}
    assert set(groups) == {"staff", "everyone", "empty"}
    # the Administrator is outside the OU: left out; case does not matter
    assert sorted(groups["staff"].member_anchors) == sorted([a.anchor, users[bob.dn].anchor])
    assert sorted(groups["everyone"].member_anchors) == sorted(
        [groups["staff"].anchor, users[carol.dn].anchor]
    )
    assert groups["empty"].member_anchors == []
    assert groups["staff"].dn == staff and groups["everyone"].dn == everyone


def test_user_filter_scopes_the_sync(
    samba_dc: SambaDC, server: ActiveDirectoryServer, ou: str, unique: Callable[[str], str]
) -> None:
    inside = samba_dc.add_user(unique("in"), password=INITIAL, container_dn=ou, department="Sales")
    samba_dc.add_user(unique("out"), password=INITIAL, container_dn=ou, department="IT")
    directory = ActiveDirectory(replace(server.config(ou), user_filter="(department=Sales)"))
    try:
        dns = [u.dn for p in directory.read_all() for u in p.users]
    finally:
        directory.close()
    assert dns == [inside.dn]


def test_cursor_delta_and_deletions(
    samba_dc: SambaDC, directory: ActiveDirectory, ou: str, unique: Callable[[str], str]
) -> None:
    first = samba_dc.add_user(unique("first"), password=INITIAL, container_dn=ou)
    second = samba_dc.add_user(unique("second"), password=INITIAL, container_dn=ou)
    gone = samba_dc.add_user(unique("gone"), password=INITIAL, container_dn=ou)
    elsewhere = samba_dc.add_user(unique("else"), password=INITIAL)  # CN=Users: out of scope
    group = add_group(samba_dc, ou, "team", [first.dn])
    anchors = {u.dn: u.anchor for p in directory.read_all() for u in p.users}
    cursor = directory.cursor()
    assert cursor.isdigit()

    modify(samba_dc, second.dn, mail=["second.new@example.test"])
    samba_dc.delete(gone.dn)
    samba_dc.delete(elsewhere.dn)
    changed = list(directory.read_changes(cursor))

    assert [(u.dn, u.mail) for p in changed for u in p.users] == [
        (second.dn, "second.new@example.test")
    ]
    assert not [g for p in changed for g in p.groups]
    assert [a for p in changed for a in p.deleted_anchors] == [anchors[gone.dn]]
    assert int(directory.cursor()) > int(cursor)

    cursor = directory.cursor()
    modify(samba_dc, group, member=[first.dn, second.dn])
    changed = list(directory.read_changes(cursor))
    groups = [g for p in changed for g in p.groups]
    # the members did not change: their anchors are looked up
    assert [(g.dn, sorted(g.member_anchors)) for g in groups] == [
        (group, sorted([anchors[first.dn], anchors[second.dn]]))
    ]
    assert not [u for p in changed for u in p.users]
    assert list(directory.read_changes(directory.cursor())) == []


# ------------------------------------------------------------------------------ writeback
def test_reset_without_must_change(
    samba_dc: SambaDC, directory: ActiveDirectory, user: SambaUser
) -> None:
    assert directory.reset_password(user.dn, "Fresh#Reset22", must_change=False).ok
    assert read(samba_dc, user.dn, "pwdLastSet")["pwdLastSet"] != ["0"]
    assert directory.verify_credentials(user.dn, "Fresh#Reset22").outcome == Outcome.OK
    assert directory.verify_credentials(user.dn, INITIAL).outcome == Outcome.WRONG_PASSWORD
    assert samba_dc.can_bind(user.upn, "Fresh#Reset22")


def test_reset_with_must_change_then_the_user_changes(
    samba_dc: SambaDC, directory: ActiveDirectory, user: SambaUser
) -> None:
    assert directory.reset_password(user.dn, "Temp#Reset22", must_change=True).ok
    assert read(samba_dc, user.dn, "pwdLastSet")["pwdLastSet"] == ["0"]
    result = directory.verify_credentials(user.dn, "Temp#Reset22")
    assert result.outcome == Outcome.MUST_CHANGE
    assert "data 773" in result.message
    # 773 comes only with the right password
    assert directory.verify_credentials(user.dn, "Wrong#Pass1").outcome == Outcome.WRONG_PASSWORD
    # the user cannot bind, yet can change with the old password (over the service connection)
    assert directory.change_password(user.dn, "Temp#Reset22", "Mine#Own4567").ok
    assert directory.verify_credentials(user.dn, "Mine#Own4567").outcome == Outcome.OK
    # ...and that was a change: history applies
    assert directory.reset_password(user.dn, "Temp#Reset33", must_change=True).ok
    assert directory.change_password(user.dn, "Temp#Reset33", "Mine#Own4567").outcome == (
        Outcome.PASSWORD_IN_HISTORY
    )


def test_admin_reset_checks_length_and_complexity_not_history(
    directory: ActiveDirectory, user: SambaUser
) -> None:
    assert directory.reset_password(user.dn, "Ab1!", False).outcome == Outcome.PASSWORD_TOO_SHORT
    assert directory.reset_password(user.dn, "alllowercase", False).outcome == (
        Outcome.PASSWORD_NOT_COMPLEX
    )
    assert directory.reset_password(user.dn, INITIAL, False).ok


def test_a_self_service_reset_asks_for_the_policy(
    samba_dc: SambaDC, directory: ActiveDirectory, user: SambaUser
) -> None:
    # Length and complexity apply to any reset...
    assert directory.reset_password(user.dn, "Ab1!", False, enforce_policy=True).outcome == (
        Outcome.PASSWORD_TOO_SHORT
    )
    assert directory.reset_password(user.dn, "alllowercase", False, True).outcome == (
        Outcome.PASSWORD_NOT_COMPLEX
    )
    assert samba_dc.can_bind(user.upn, INITIAL)
    # ...and the history too on a Windows DC, with the policy hints control. Samba 4.17 does not
    # know the control and passes over it (it is not critical): the reset goes through, and the
    # history applies only to the user's own change.
    assert directory.change_password(user.dn, INITIAL, "Second#Pass2").ok
    assert directory.reset_password(user.dn, INITIAL, False, enforce_policy=True).ok
    assert directory.verify_credentials(user.dn, INITIAL).ok


class RecordingConnection:
    """Stands in for the service connection: keeps what a modify asked for."""

    def __init__(self) -> None:
        self.controls: list[object] = []
        self.result: dict[str, object] = {}

    def modify(self, dn: str, changes: dict[str, object], controls: object = None) -> bool:
        self.controls.append(controls)
        self.result = {"result": 0, "description": "success", "message": ""}
        return True


def test_the_policy_hints_go_with_a_self_service_reset_only() -> None:
    directory = ActiveDirectory(config_for_url("ldaps://127.0.0.1:636"))
    conn = RecordingConnection()
    directory.link.with_service = lambda operation, **_: operation(conn)  # type: ignore[method-assign]
    assert directory.reset_password("CN=x,DC=y", "Fresh#Reset22", False, enforce_policy=True).ok
    assert directory.reset_password("CN=x,DC=y", "Fresh#Reset22", True).ok
    hints, admin = conn.controls
    # LDAP_SERVER_POLICY_HINTS, not critical, Flags 1 (BER SEQUENCE { INTEGER 1 })
    assert hints == [(POLICY_HINTS_OID, False, b"\x30\x03\x02\x01\x01")]
    assert POLICY_HINTS_OID == "1.2.840.113556.1.4.2239"
    assert admin is None


def test_too_short_and_not_complex(directory: ActiveDirectory, user: SambaUser) -> None:
    assert directory.change_password(user.dn, INITIAL, "Ab1!").outcome == (
        Outcome.PASSWORD_TOO_SHORT
    )
    assert directory.change_password(user.dn, INITIAL, "alllowercase").outcome == (
        Outcome.PASSWORD_NOT_COMPLEX
    )
    assert directory.verify_credentials(user.dn, INITIAL).ok


def test_minimum_age(samba_dc: SambaDC, directory: ActiveDirectory, user: SambaUser) -> None:
    one_day = str(-24 * 3600 * 10_000_000)
    modify(samba_dc, samba_dc.base_dn, minPwdAge=[one_day])
    try:
        # the administrator's reset is not held back...
        assert directory.reset_password(user.dn, "Reset#Young1", must_change=False).ok
        # ...the user's own change is
        result = directory.change_password(user.dn, "Reset#Young1", "Changed#Young2")
        assert result.outcome == Outcome.PASSWORD_TOO_YOUNG
        # and a Windows DC, which gives no reason, is understood from the policy
        assert guess(directory, user.dn, "Changed#Young2") == Outcome.PASSWORD_TOO_YOUNG
    finally:
        modify(samba_dc, samba_dc.base_dn, minPwdAge=["0"])
    assert directory.change_password(user.dn, "Reset#Young1", "Changed#Young2").ok


def guess(
    directory: ActiveDirectory,
    dn: str,
    password: str,
    change: bool = True,
    history: bool | None = None,
) -> Outcome:
    answer = {"result": 19, "description": "constraintViolation", "message": WINDOWS_052D}
    return directory.link.with_service(
        lambda conn: directory._outcome(conn, answer, dn, password, change=change, history=history)
    ).outcome


def test_windows_style_refusals_are_explained_from_the_policy(
    directory: ActiveDirectory, user: SambaUser
) -> None:
    assert guess(directory, user.dn, "Ab1!") == Outcome.PASSWORD_TOO_SHORT
    assert guess(directory, user.dn, "alllowercase") == Outcome.PASSWORD_NOT_COMPLEX
    # the account name in the password breaks complexity too
    assert guess(directory, user.dn, f"X1#{user.sam_account_name}") == Outcome.PASSWORD_NOT_COMPLEX
    assert guess(directory, user.dn, "Good#Enough42") == Outcome.PASSWORD_IN_HISTORY
    assert guess(directory, user.dn, "Good#Enough42", change=False) == Outcome.PASSWORD_NOT_COMPLEX
    # a self-service reset (policy hints): the history was checked too
    assert guess(directory, user.dn, "Good#Enough42", change=False, history=True) == (
        Outcome.PASSWORD_IN_HISTORY
    )


def test_wrong_old_password_of_a_user_who_must_change(
    samba_dc: SambaDC, directory: ActiveDirectory, user: SambaUser
) -> None:
    modify(samba_dc, user.dn, pwdLastSet=["0"])
    # 773 needs the right password: a wrong one is plain 52e
    assert directory.change_password(user.dn, "Not#TheOld1", "Brand#New44").outcome == (
        Outcome.WRONG_PASSWORD
    )


def test_change_refused_while_locked_over_the_service_connection(
    samba_dc: SambaDC, directory: ActiveDirectory, user: SambaUser
) -> None:
    modify(samba_dc, user.dn, pwdLastSet=["0"])
    for _ in range(3):
        assert not samba_dc.can_bind(user.dn, "Wrong#Pass1")
    # the bind says 775 before any change is tried
    assert directory.change_password(user.dn, INITIAL, "Brand#New44").outcome == (
        Outcome.ACCOUNT_LOCKED
    )


def test_disabled_account(samba_dc: SambaDC, directory: ActiveDirectory, user: SambaUser) -> None:
    modify(samba_dc, user.dn, userAccountControl=["514"])
    result = directory.verify_credentials(user.dn, INITIAL)
    assert result.outcome == Outcome.ACCOUNT_DISABLED
    assert "data 533" in result.message
    assert directory.change_password(user.dn, INITIAL, "Brand#New44").outcome == (
        Outcome.ACCOUNT_DISABLED
    )
    assert [u.enabled for p in directory.read_all() for u in p.users] == [False]


def test_verify_credentials(directory: ActiveDirectory, user: SambaUser) -> None:
    assert directory.verify_credentials(user.dn, INITIAL).outcome == Outcome.OK
    wrong = directory.verify_credentials(user.dn, "Wrong#Pass1")
    assert wrong.outcome == Outcome.WRONG_PASSWORD
    assert "data 52e" in wrong.message
    empty = directory.verify_credentials(user.dn, "")
    assert empty.outcome == Outcome.WRONG_PASSWORD
    assert "before binding" in empty.message


def test_starttls_on_plain_ldap(
    samba_dc: SambaDC, server: ActiveDirectoryServer, user: SambaUser
) -> None:
    directory = ActiveDirectory(replace(server.config(), url=f"ldap://{samba_dc.ip}"))
    assert directory.verify_credentials(user.dn, INITIAL).ok
    assert directory.unlock(user.dn).ok


# ------------------------------------------------------------------------------ units
def test_filetime_to_unix() -> None:
    assert filetime_to_unix("116444736000000000") == 0
    assert filetime_to_unix(133_500_000_000_000_000) == pytest.approx(1_705_526_400)
    assert filetime_to_unix("0") is None
    assert filetime_to_unix(str(0x7FFFFFFFFFFFFFFF)) is None
    assert filetime_to_unix(None) is None


def test_bind_data_code() -> None:
    message = (
        "80090308: LdapErr: DSID-0C0903A9, comment: AcceptSecurityContext error, data 775, v1db1"
    )
    assert bind_data_code(message) == "775"
    assert bind_data_code("") is None


def test_meets_ad_complexity() -> None:
    assert meets_ad_complexity("Initial#Pass1")
    assert meets_ad_complexity("lower1#")  # lower, digit, other
    assert not meets_ad_complexity("alllowercase")
    assert not meets_ad_complexity("ALLUPPER123")
    assert meets_ad_complexity("ALLUPPER123!")
    assert not meets_ad_complexity("Xx1#jsmith", sam_account_name="jsmith")
    assert meets_ad_complexity("Xx1#js", sam_account_name="js")  # shorter than 3: ignored
    assert not meets_ad_complexity("Anderson#2024", display_name="Alice Anderson")


@pytest.mark.parametrize(
    ("code", "message", "outcome"),
    [
        (19, "0000052D: Constraint violation - check_password_restrictions: the password is "
             "too short. It should be equal or longer than 7 characters!",
         Outcome.PASSWORD_TOO_SHORT),
        (19, "0000052D: ... the password does not meet the complexity criteria!",
         Outcome.PASSWORD_NOT_COMPLEX),
        (19, "0000052D: ... the password was already used (in history)!",
         Outcome.PASSWORD_IN_HISTORY),
        (19, "0000052D: ... the password was already used (previous password)!",
         Outcome.PASSWORD_UNCHANGED),
        (19, "0000052D: ... the password is too young to change!", Outcome.PASSWORD_TOO_YOUNG),
        (53, WINDOWS_052D, Outcome.DIRECTORY_ERROR),  # the caller explains it from the policy
        (19, "00000056: Constraint violation - check_password_restrictions: The old password "
             "specified doesn't match!", Outcome.WRONG_PASSWORD),
        (19, "00000775: Password change not permitted, account locked out!",
         Outcome.ACCOUNT_LOCKED),
        (49, "80090308: LdapErr: ... data 533, v1db1", Outcome.ACCOUNT_DISABLED),
        (49, "80090308: LdapErr: ... data 773, v1db1", Outcome.MUST_CHANGE),
        (32, "0000208D: NameErr: DSID-03100241, problem 2001 (NO_OBJECT)", Outcome.USER_NOT_FOUND),
        (50, "00000005: SecErr: DSID-03152857, problem 4003 (INSUFF_ACCESS_RIGHTS)",
         Outcome.DIRECTORY_ERROR),
        (53, "0000001F: SvcErr: DSID-031A12D2, problem 5003 (WILL_NOT_PERFORM), data 0",
         Outcome.DIRECTORY_ERROR),
        (51, "", Outcome.DIRECTORY_UNAVAILABLE),
    ],
)  # fmt: skip
def test_outcome_of_dc_answers(code: int, message: str, outcome: Outcome) -> None:
    assert outcome_of({"result": code, "description": "x", "message": message}).outcome == outcome


def test_open_directory_picks_active_directory(server: ActiveDirectoryServer) -> None:
    assert isinstance(open_directory(server.config()), ActiveDirectory)
