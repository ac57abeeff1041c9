"""Hybrid end to end against OpenLDAP: `sspr serve`, `sspr-agent run` and a real slapd.

The scenarios are writeback_suite.py's.
"""

from __future__ import annotations

import pytest

from tests.directories.slapd import SlapdServer
from tests.hybrid.onprem import OpenLdapSide
from tests.hybrid.writeback_suite import WritebackSuite


@pytest.fixture(scope="module")
def side(slapd_server: SlapdServer) -> OpenLdapSide:
    return OpenLdapSide(slapd_server, "ol")


class TestOpenLdap(WritebackSuite):
    pass
