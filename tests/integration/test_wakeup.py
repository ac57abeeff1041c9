"""Waiters on the command queue are woken by announcements, within a process and across
processes through Redis, instead of polling the table."""

from __future__ import annotations

import threading
from typing import Any

import pytest
import redis

from sspr.hybrid import wakeup

# Announcements wait for the commit of the transaction they are made in.
pytestmark = pytest.mark.django_db(transaction=True)

# Long enough never to pass on a busy machine when the announcement works; a broken wakeup
# shows as `wait` returning False after it.
PATIENCE = 20.0


def announce_from_thread(topic: str, delay: float = 0.2) -> threading.Thread:
    thread = threading.Thread(
        target=lambda: (threading.Event().wait(delay), wakeup.announce(topic))
    )
    thread.start()
    return thread


def test_an_announcement_wakes_the_waiter() -> None:
    with wakeup.listening("command:a") as waiter:
        thread = announce_from_thread("command:a")
        assert waiter.wait(PATIENCE) is True
        thread.join()


def test_an_announcement_between_look_and_wait_is_not_missed() -> None:
    with wakeup.listening("command:b") as waiter:
        wakeup.announce("command:b")  # after the waiter looked at the database, before it waits
        assert waiter.wait(0) is True
        assert waiter.wait(0) is False  # and it is consumed


def test_another_topic_does_not_wake_the_waiter() -> None:
    with wakeup.listening("command:c") as waiter:
        wakeup.announce("command:other")
        assert waiter.wait(0.05) is False


def test_nothing_is_remembered_for_topics_nobody_waits_on() -> None:
    wakeup.announce("command:d")
    with wakeup.listening("command:d") as waiter:
        assert waiter.wait(0) is False
    assert "command:d" not in wakeup._board._generation


def test_an_announcement_inside_a_transaction_waits_for_the_commit() -> None:
    from django.db import transaction

    with wakeup.listening("command:e") as waiter:
        with transaction.atomic():
            wakeup.announce("command:e")
            assert waiter.wait(0) is False  # the change is not visible yet
        assert waiter.wait(0) is True


def test_closing_releases_every_waiter() -> None:
    board = wakeup._Board()
    seen = board.enter("agents:1")
    released = threading.Event()

    def waiting() -> None:
        board.wait("agents:1", seen, PATIENCE)
        released.set()

    thread = threading.Thread(target=waiting)
    thread.start()
    board.close()
    thread.join(PATIENCE)
    assert released.is_set() and board.closing


def test_after_closing_a_waiter_that_goes_on_waits_its_timeout(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    board = wakeup._Board()
    monkeypatch.setattr(wakeup, "_board", board)
    slept: list[float] = []
    monkeypatch.setattr(wakeup, "_sleep", slept.append)
    waiter = wakeup.Waiter("command:f", board.enter("command:f"))
    board.close()
    assert waiter.wait(0.5) is False and waiter.wait(0.5) is False
    assert slept == [0.5, 0.5]  # not returning at once, again and again


def test_an_announcement_published_by_another_process_wakes_this_one(
    redis_url: str, settings: Any
) -> None:
    settings.REDIS_URL = redis_url
    other_process = redis.Redis.from_url(redis_url)
    with wakeup.listening("agents:42") as waiter:
        # The relay subscribes in the background; publish until it hears.
        for _ in range(100):
            other_process.publish(wakeup.CHANNEL, "agents:42")
            if waiter.wait(0.1):
                break
        else:
            pytest.fail("the Redis relay never woke the waiter")
    with wakeup.listening("agents:43") as waiter:
        other_process.publish(wakeup.CHANNEL, "agents:43")
        assert waiter.wait(PATIENCE) is True
    other_process.close()


def test_an_announcement_here_is_published_for_the_other_processes(
    redis_url: str, settings: Any
) -> None:
    settings.REDIS_URL = redis_url
    listener = redis.Redis.from_url(redis_url).pubsub(ignore_subscribe_messages=True)
    listener.subscribe(wakeup.CHANNEL)
    assert listener.get_message(timeout=PATIENCE) is None  # the subscription itself
    wakeup.announce("command:f")
    message = listener.get_message(timeout=PATIENCE)
    assert message is not None and message["data"] == b"command:f"
    listener.close()
