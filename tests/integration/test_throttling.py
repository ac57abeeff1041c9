"""Throttles: counted before the work, given back on success, atomic across processes."""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from typing import Any

import pytest
from django.db import connection
from hypothesis import given, settings
from hypothesis import strategies as st

from sspr.errors import DomainError
from sspr.flows import reset
from sspr.policy.sspr_policy import update_policy
from sspr.throttling.counters import Blocked, blocked_until, clear, release, take
from sspr.throttling.limits import Limit
from tests.reset_helpers import register_email

LIMIT = Limit("test", 3, timedelta(hours=1), timedelta(hours=24))


def exercise_limit() -> None:
    """The behaviour every backend must show."""
    for _ in range(3):
        take(LIMIT, 1, "alice")
    with pytest.raises(Blocked) as first:
        take(LIMIT, 1, "alice")
    assert (
        timedelta(hours=23)
        < first.value.until - first.value.until.now(first.value.until.tzinfo)
        <= timedelta(hours=24)
    )
    assert blocked_until(LIMIT, 1, "alice") is not None
    release(LIMIT, 1, "alice")  # giving back does not lift a block
    with pytest.raises(Blocked):
        take(LIMIT, 1, "alice")
    take(LIMIT, 2, "alice")  # another tenant
    take(LIMIT, 1, "bob")  # another key
    clear([LIMIT], 1, "alice")
    assert blocked_until(LIMIT, 1, "alice") is None
    take(LIMIT, 1, "alice")


@pytest.mark.django_db
class TestDatabaseCounters:
    def test_limit_block_release_clear(self) -> None:
        exercise_limit()

    def test_released_hits_do_not_count(self) -> None:
        for _ in range(10):
            take(LIMIT, 1, "carol")
            release(LIMIT, 1, "carol")
        take(LIMIT, 1, "carol")

    @settings(max_examples=30, deadline=None)
    @given(st.lists(st.booleans(), max_size=12))
    def test_never_more_failures_than_the_limit(self, outcomes: list[bool]) -> None:
        """Whatever mix of successes and failures, at most max_hits failures get through."""
        key = f"k{len(outcomes)}-{sum(outcomes)}-{time.monotonic_ns()}"
        failures_through = 0
        for succeeded in outcomes:
            try:
                take(LIMIT, 1, key)
            except Blocked:
                continue
            if succeeded:
                release(LIMIT, 1, key)
            else:
                failures_through += 1
        assert failures_through <= LIMIT.max_hits


@pytest.mark.django_db(transaction=True)
def test_fifty_concurrent_wrong_guesses_get_five_checks(tenant: Any, alice: Any) -> None:
    """Entra's 5 failed verifications: 50 guesses at once against one code, 5 are checked."""
    update_policy(tenant, {"enabled_for": "all", "captcha_enabled": False}, actor="test")
    register_email(alice)
    flow = reset.start(tenant, alice.upn, None)
    reset.challenge(flow.id, "email")

    def guess(i: int) -> str:
        try:
            reset.verify(flow.id, "email", {"code": f"{i:08d}"})
        except DomainError as refusal:
            return refusal.code
        finally:
            connection.close()
        return "verified"

    with ThreadPoolExecutor(max_workers=10) as pool:
        outcomes = list(pool.map(guess, range(1, 51)))
    assert outcomes.count("verification_failed") == 5
    assert outcomes.count("sspr_blocked") == 45


class TestRedisCounters:
    def test_same_behaviour_in_redis(self, redis_url: str, settings: Any) -> None:
        settings.REDIS_URL = redis_url
        exercise_limit()

    def test_concurrent_takes_never_exceed_the_limit(self, redis_url: str, settings: Any) -> None:
        settings.REDIS_URL = redis_url

        def attempt(_: int) -> bool:
            try:
                take(LIMIT, 7, "concurrent")
            except Blocked:
                return False
            return True

        with ThreadPoolExecutor(max_workers=10) as pool:
            allowed = list(pool.map(attempt, range(40)))
        assert allowed.count(True) == LIMIT.max_hits
