"""The hybrid tests every directory runs: the scenarios of scenarios.py, in this order.

A test module subclasses `WritebackSuite` and gives the conftest's `hybrid` its directory with a
module-scoped `side` fixture (onprem.py). The scenarios of a module share one service, tenant and
agent; each uses people of its own, so that one failing does not take the next ones with it. A
subclass's own tests run after these.
"""

from __future__ import annotations

from tests.hybrid import scenarios
from tests.hybrid.scenarios import Hybrid


class WritebackSuite:
    def test_users_and_groups_sync_and_the_agent_is_up(self, hybrid: Hybrid) -> None:
        scenarios.sync(hybrid)

    def test_pass_through_sign_in_with_the_directory_password(self, hybrid: Hybrid) -> None:
        scenarios.pass_through(hybrid)

    def test_self_service_reset_writes_the_new_password_to_the_directory(
        self, hybrid: Hybrid
    ) -> None:
        scenarios.self_service_reset(hybrid)

    def test_a_reset_to_a_password_in_the_history_is_refused_by_the_directory(
        self, hybrid: Hybrid
    ) -> None:
        scenarios.reset_to_a_password_in_history(hybrid)

    def test_a_reset_too_short_for_the_directory_is_refused_by_it(self, hybrid: Hybrid) -> None:
        scenarios.reset_to_a_password_too_short_for_the_directory(hybrid)

    def test_self_service_change_and_the_directory_refusals(self, hybrid: Hybrid) -> None:
        scenarios.self_service_change(hybrid)

    def test_a_user_added_later_arrives_with_a_delta(self, hybrid: Hybrid) -> None:
        scenarios.delta(hybrid)

    def test_admin_reset_sets_a_temporary_password_to_change(self, hybrid: Hybrid) -> None:
        scenarios.admin_reset(hybrid)

    def test_unlock_at_the_end_of_a_reset_flow(self, hybrid: Hybrid) -> None:
        scenarios.unlock(hybrid)

    def test_without_an_agent_nothing_changes(self, hybrid: Hybrid) -> None:
        scenarios.agent_down(hybrid)

    def test_two_agents_one_killed_midway(self, hybrid: Hybrid) -> None:
        scenarios.two_agents(hybrid)

    def test_no_password_at_rest_or_in_logs(self, hybrid: Hybrid) -> None:
        scenarios.no_secret_at_rest(hybrid)
