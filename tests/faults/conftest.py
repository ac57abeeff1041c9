"""Fixtures for the fault tests: dependencies that a test can take away and give back."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from sspr.hybrid import signing
from sspr.throttling import counters
from tests.postgres_server import PostgresCluster
from tests.redis_server import RedisServer
from tests.secrets_scan import every_log_record as every_log_record


@pytest.fixture(scope="module")
def postgres() -> Iterator[PostgresCluster]:
    """A PostgreSQL cluster of the module's own, running; the test may stop and start it."""
    cluster = PostgresCluster()
    try:
        cluster.create()
        yield cluster
    finally:
        cluster.remove()


@pytest.fixture
def redis_server(tmp_path: Path) -> Iterator[RedisServer]:
    """A redis-server of the test's own, running; the test may stop and start it."""
    server = RedisServer(tmp_path)
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(autouse=True)
def no_outage_remembered() -> Iterator[None]:
    """Each test meets Redis as a fresh process would: an outage seen by an earlier test
    would otherwise keep this one's first warning quiet."""
    for outage in (counters._outage, signing._nonce_store):
        outage.down = False
    yield
    for outage in (counters._outage, signing._nonce_store):
        outage.down = False
