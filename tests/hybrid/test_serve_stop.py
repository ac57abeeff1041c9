"""Stopping `sspr serve` while an agent's long poll waits: the poll is answered at once (with
nothing to do), in one process or several (`--workers`), instead of being cut off when the
server gives up waiting for it."""

from __future__ import annotations

import base64
import json
import threading
import time
from pathlib import Path

import pytest
from nacl.public import PrivateKey
from nacl.signing import SigningKey

from sspr_agent.channel import Channel, Polled
from tests.hybrid.harness import TENANT, Service


@pytest.mark.parametrize("workers", [1, 2])
def test_a_stop_answers_the_long_poll_that_waits(tmp_path: Path, workers: int) -> None:
    service = Service(tmp_path)
    service.sspr("tenant", "create", TENANT, "--name", "Contoso", "--plan", "p1")
    token = json.loads(service.sspr("agent-token", TENANT, "--json"))["token"]
    service.start(workers=workers)
    try:
        sign, box = SigningKey.generate(), PrivateKey.generate()
        enrolled = Channel(service.base_url).enroll(
            {
                "token": token,
                "name": "dc-host-1",
                "agent_version": "test",
                "directory_kind": "openldap",
                "sign_public_key": base64.b64encode(bytes(sign.verify_key)).decode(),
                "box_public_key": base64.b64encode(bytes(box.public_key)).decode(),
                "capabilities": ["writeback"],
            }
        )
        agent = Channel(
            service.base_url, agent_id=enrolled["agent_id"], signing_key=sign, retries=0
        )
        answers: list[Polled | Exception] = []
        connected = threading.Event()

        def poll() -> None:
            agent.poll_commands(wait=0)  # this thread's connection, open before the stop
            connected.set()
            try:
                answers.append(agent.poll_commands(wait=25))
            except Exception as error:  # noqa: BLE001 -- what the test reports
                answers.append(error)

        poller = threading.Thread(target=poll)
        poller.start()
        assert connected.wait(30)
        time.sleep(0.5)  # the long poll reaches its wait
        service.stop()
        poller.join(30)
    finally:
        service.stop()
    [answer] = answers
    assert isinstance(answer, Polled), answer
    assert answer.commands == []
