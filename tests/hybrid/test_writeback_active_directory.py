"""Hybrid end to end against Active Directory: `sspr serve`, `sspr-agent run` and a Samba DC.

The scenarios (scenarios.py) share one service, tenant and agent, in this order; each uses
people of its own. A self-service reset asks for the password history with the policy hints
control, which a Windows DC honours but Samba (the DC here) passes over: Samba applies the history
only to the user's own change, so history is tried there (the change scenario), not with a reset.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from tests.directories.samba import SambaDC
from tests.hybrid import scenarios
from tests.hybrid.onprem import ActiveDirectorySide
from tests.hybrid.scenarios import Hybrid


@pytest.fixture(scope="module")
def hybrid(samba_dc: SambaDC, tmp_path_factory: Any) -> Iterator[Hybrid]:
    side = ActiveDirectorySide(samba_dc, "ad")
    with scenarios.running(tmp_path_factory.mktemp("hybrid-ad"), side) as hy:
        yield hy


def test_users_and_groups_sync_and_the_agent_is_up(hybrid: Hybrid) -> None:
    scenarios.sync(hybrid)


def test_pass_through_sign_in_with_the_directory_password(hybrid: Hybrid) -> None:
    scenarios.pass_through(hybrid)


def test_self_service_reset_writes_the_new_password_to_the_directory(hybrid: Hybrid) -> None:
    scenarios.self_service_reset(hybrid)


def test_a_reset_too_short_for_the_directory_is_refused_by_it(hybrid: Hybrid) -> None:
    scenarios.reset_to_a_password_too_short_for_the_directory(hybrid)


def test_self_service_change_and_the_directory_refusals(hybrid: Hybrid) -> None:
    scenarios.self_service_change(hybrid)


def test_a_user_added_later_arrives_with_a_delta(hybrid: Hybrid) -> None:
    scenarios.delta(hybrid)


def test_admin_reset_sets_a_temporary_password_to_change(hybrid: Hybrid) -> None:
    scenarios.admin_reset(hybrid)


def test_unlock_at_the_end_of_a_reset_flow(hybrid: Hybrid) -> None:
    scenarios.unlock(hybrid)


def test_without_an_agent_nothing_changes(hybrid: Hybrid) -> None:
    scenarios.agent_down(hybrid)


def test_two_agents_one_killed_midway(hybrid: Hybrid) -> None:
    scenarios.two_agents(hybrid)


def test_no_password_at_rest_or_in_logs(hybrid: Hybrid) -> None:
    scenarios.no_secret_at_rest(hybrid)


def test_a_directory_outage_at_sign_in_is_not_a_wrong_password(
    hybrid: Hybrid, samba_dc: SambaDC
) -> None:
    # Last: while the DC is down the agent's sync fails, which the status line may report.
    scenarios.directory_down_at_sign_in(hybrid, samba_dc.stop, samba_dc.start)
