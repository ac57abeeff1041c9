"""What both directories do alike, against each real server in turn (the `server` fixture).

What only one of them does, or does its own way, is in test_active_directory.py and
test_openldap.py.
"""

from __future__ import annotations

import statistics
import time
from dataclasses import replace

import pytest

from sspr_agent.directory import DirectoryError
from sspr_agent.directory.base import Directory
from sspr_protocol.messages import Outcome
from tests.agent.servers import INITIAL, DirectoryServer
from tests.directories.samba import SambaUser
from tests.directories.slapd import SlapdUser

User = SambaUser | SlapdUser


def test_a_cursor_that_is_not_one_is_refused(directory: Directory) -> None:
    with pytest.raises(DirectoryError) as caught:
        list(directory.read_changes("0)(objectClass=*"))
    assert caught.value.outcome == Outcome.DIRECTORY_ERROR


def test_reset_clears_a_previous_must_change(directory: Directory, user: User) -> None:
    assert directory.reset_password(user.dn, "Temp#Reset22", must_change=True).ok
    assert directory.reset_password(user.dn, "Temp#Reset33", must_change=False).ok
    assert directory.verify_credentials(user.dn, "Temp#Reset33").outcome == Outcome.OK


def test_the_users_own_change_obeys_history(directory: Directory, user: User) -> None:
    assert directory.change_password(user.dn, INITIAL, "Second#Pass2").ok
    assert directory.change_password(user.dn, "Second#Pass2", "Third#Pass3").ok
    reuse = directory.change_password(user.dn, "Third#Pass3", INITIAL)
    assert reuse.outcome == Outcome.PASSWORD_IN_HISTORY
    assert "history" in reuse.message
    same = directory.change_password(user.dn, "Third#Pass3", "Third#Pass3")
    assert same.outcome == Outcome.PASSWORD_UNCHANGED
    assert directory.verify_credentials(user.dn, "Third#Pass3").ok


def test_wrong_old_password_counts_as_a_bad_attempt(
    server: DirectoryServer, directory: Directory, user: User
) -> None:
    result = directory.change_password(user.dn, "Not#TheOld1", "Brand#New44")
    assert result.outcome == Outcome.WRONG_PASSWORD
    assert server.failed_binds(user.dn) == 1
    assert directory.verify_credentials(user.dn, INITIAL).ok


def test_lockout_then_unlock(server: DirectoryServer, directory: Directory, user: User) -> None:
    for _ in range(3):
        assert directory.verify_credentials(user.dn, "Wrong#Pass1").outcome == (
            Outcome.WRONG_PASSWORD
        )
    assert directory.verify_credentials(user.dn, INITIAL).outcome == Outcome.ACCOUNT_LOCKED
    assert directory.change_password(user.dn, INITIAL, "Brand#New44").outcome == (
        Outcome.ACCOUNT_LOCKED
    )
    assert [u.locked_out for p in directory.read_all() for u in p.users] == [True]

    assert directory.unlock(user.dn).ok
    assert (server.locked(user.dn), server.failed_binds(user.dn)) == (False, 0)
    assert directory.verify_credentials(user.dn, INITIAL).ok
    assert [u.locked_out for p in directory.read_all() for u in p.users] == [False]
    assert directory.unlock(user.dn).ok  # nothing to unlock: fine


def test_unknown_dn(server: DirectoryServer, directory: Directory, ou: str) -> None:
    ghost = f"{server.rdn_attribute}=ghost,{ou}"
    assert directory.verify_credentials(ghost, INITIAL).outcome == Outcome.USER_NOT_FOUND
    assert directory.change_password(ghost, INITIAL, "Brand#New44").outcome == (
        Outcome.USER_NOT_FOUND
    )
    assert directory.reset_password(ghost, "Brand#New44", True).outcome == Outcome.USER_NOT_FOUND
    assert directory.unlock(ghost).outcome == Outcome.USER_NOT_FOUND


def test_directory_unreachable(server: DirectoryServer, user: User) -> None:
    config = replace(server.config(), url=server.unreachable_url(), timeout=2)
    directory = server.directory_class(config)
    unavailable = Outcome.DIRECTORY_UNAVAILABLE
    assert directory.verify_credentials(user.dn, INITIAL).outcome == unavailable
    assert directory.change_password(user.dn, INITIAL, "Brand#New44").outcome == unavailable
    assert directory.reset_password(user.dn, "Brand#New44", False).outcome == unavailable
    assert directory.unlock(user.dn).outcome == unavailable
    with pytest.raises(DirectoryError) as caught:
        directory.cursor()
    assert caught.value.outcome == unavailable
    with pytest.raises(DirectoryError) as caught:
        list(directory.read_all())
    assert caught.value.outcome == unavailable
    with pytest.raises(DirectoryError) as caught:
        list(directory.read_changes(server.a_cursor))
    assert caught.value.outcome == unavailable


def test_an_untrusted_certificate_stops_before_any_password(
    server: DirectoryServer, user: User
) -> None:
    directory = server.directory_class(replace(server.config(), ca_file=""))  # the system's CAs
    result = directory.verify_credentials(user.dn, INITIAL)
    assert result.outcome == Outcome.DIRECTORY_UNAVAILABLE
    assert "certificate" in result.message.lower() or "ssl" in result.message.lower()
    insecure = server.directory_class(replace(server.config(), ca_file="", insecure_tls=True))
    assert insecure.verify_credentials(user.dn, INITIAL).ok


def test_timings(server: DirectoryServer, directory: Directory, user: User) -> None:
    """Per-operation times (printed with -s; loose bounds only)."""
    resets, binds = [], []
    for i in range(10):
        started = time.perf_counter()
        assert directory.reset_password(user.dn, f"Timing#Pass{i:02d}", False).ok
        resets.append(time.perf_counter() - started)
        started = time.perf_counter()
        assert directory.verify_credentials(user.dn, f"Timing#Pass{i:02d}").ok
        binds.append(time.perf_counter() - started)
    print(
        f"\n{server.started()}; reset median {statistics.median(resets) * 1000:.1f} ms; "
        f"bind (verify, new {server.transport} connection) median "
        f"{statistics.median(binds) * 1000:.1f} ms"
    )
    bound = server.time_bound
    assert statistics.median(resets) < bound and statistics.median(binds) < bound
