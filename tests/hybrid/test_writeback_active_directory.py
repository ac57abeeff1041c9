"""Hybrid end to end against Active Directory: `sspr serve`, `sspr-agent run` and a Samba DC.

The scenarios are writeback_suite.py's. A self-service reset asks for the password history with
the policy hints control, which a Windows DC honours but Samba (the DC here) passes over: Samba
applies the history only to the user's own change, so history is tried there (the change
scenario), not with a reset.
"""

from __future__ import annotations

import pytest

from tests.directories.samba import SambaDC
from tests.hybrid import scenarios
from tests.hybrid.onprem import ActiveDirectorySide
from tests.hybrid.scenarios import Hybrid
from tests.hybrid.writeback_suite import WritebackSuite


@pytest.fixture(scope="module")
def side(samba_dc: SambaDC) -> ActiveDirectorySide:
    return ActiveDirectorySide(samba_dc, "ad")


class TestActiveDirectory(WritebackSuite):
    # Not a scenario here: Samba passes over the policy hints control (see the docstring).
    test_a_reset_to_a_password_in_the_history_is_refused_by_the_directory = None  # type: ignore[assignment]

    def test_a_directory_outage_at_sign_in_is_not_a_wrong_password(
        self, hybrid: Hybrid, samba_dc: SambaDC
    ) -> None:
        # Last: while the DC is down the agent's sync fails, which the status line may report.
        scenarios.directory_down_at_sign_in(hybrid, samba_dc.stop, samba_dc.start)
