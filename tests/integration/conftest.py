"""Fixtures for the integration tests."""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

import pytest
from django.utils import translation

from tests.directories.samba import SambaDC
from tests.secrets_scan import every_log_record as every_log_record


@pytest.fixture(autouse=True)
def english_afterwards() -> Iterator[None]:
    """A request activates its language in this thread (a page asked for in German, say);
    later tests, here or in other folders, start in English again."""
    yield
    translation.deactivate()


@pytest.fixture(scope="session")
def samba_dc(tmp_path_factory: Any) -> Iterator[SambaDC]:
    """A real Samba AD DC on ldaps://127.0.0.1:636 for the whole run (about 5 s to provision).

    Shared: tests add their own users, and a test that changes the DC's configuration (say
    `set_check_password_script`) puts it back when done.
    """
    if os.geteuid() != 0:
        pytest.skip("a Samba AD DC runs as root")
    dc = SambaDC(tmp_path_factory.mktemp("samba-dc"))
    dc.start()
    try:
        yield dc
    finally:
        dc.stop()
