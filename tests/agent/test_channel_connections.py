"""The agent's connections to the service: kept alive between calls, and a connection the
service closed while it was idle is replaced without the call failing."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from nacl.signing import SigningKey

from sspr_agent import channel as channel_module
from sspr_agent.channel import Channel, ChannelError


class Service:
    """An HTTP/1.1 server that counts the TCP connections it accepted; `hang_up` makes it
    close each connection after its answer without saying so (as an idle timeout does)."""

    def __init__(self) -> None:
        self.connections = 0
        self.requests: list[str] = []
        self.hang_up = False
        self.drop_next = False  # read the next request, then close without an answer
        self.nonces: list[str] = []
        self.status = 200
        service = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def setup(self) -> None:
                super().setup()
                service.connections += 1

            def log_message(self, format: str, *args: Any) -> None:
                pass

            def _answer(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                self.rfile.read(length)
                service.requests.append(f"{self.command} {self.path}")
                service.nonces.append(self.headers.get("X-SSPR-Nonce", ""))
                if service.drop_next:
                    service.drop_next = False
                    self.close_connection = True
                    return
                raw = json.dumps(
                    {"code": "command_ended", "message": "ended"}
                    if service.status >= 400
                    else {"commands": []}
                ).encode()
                self.send_response(service.status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(raw)))
                self.end_headers()
                self.wfile.write(raw)
                self.wfile.flush()
                if service.hang_up:
                    self.close_connection = True

            do_GET = _answer
            do_POST = _answer

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/sspr"
        self.thread = threading.Thread(target=self.server.serve_forever, args=(0.02,), daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def service() -> Iterator[Service]:
    running = Service()
    yield running
    running.close()


@pytest.fixture
def channel(service: Service) -> Channel:
    return Channel(service.url, agent_id="a" * 32, signing_key=SigningKey.generate(), retries=0)


def test_calls_from_one_thread_share_one_connection(service: Service, channel: Channel) -> None:
    channel.start("c1")
    channel.poll_commands(wait=0)
    channel.start("c2")
    assert service.connections == 1
    # The whole path, the service URL's own prefix included, is what was asked for.
    assert service.requests == [
        "POST /sspr/api/v1/agent/commands/c1/start",
        "GET /sspr/api/v1/agent/commands?wait=0",
        "POST /sspr/api/v1/agent/commands/c2/start",
    ]


def test_each_thread_has_its_own_connection(service: Service, channel: Channel) -> None:
    channel.start("c1")
    worker = threading.Thread(target=channel.start, args=("c2",))
    worker.start()
    worker.join()
    channel.start("c3")
    assert service.connections == 2


def test_a_connection_closed_by_the_service_is_replaced(service: Service, channel: Channel) -> None:
    service.hang_up = True
    channel.start("c1")
    channel.start("c2")  # the kept connection is dead: sent again on a new one, once
    assert service.requests == [
        "POST /sspr/api/v1/agent/commands/c1/start",
        "POST /sspr/api/v1/agent/commands/c2/start",
    ]
    assert service.connections == 2


def test_a_request_sent_again_is_signed_again(service: Service, channel: Channel) -> None:
    """The service may have read the first one before its connection went: the same nonce
    would be refused as a replay."""
    channel.start("c1")
    service.drop_next = True
    channel.start("c2")
    assert service.requests[1:] == ["POST /sspr/api/v1/agent/commands/c2/start"] * 2
    assert service.nonces[1] != service.nonces[2]


def test_a_connection_idle_too_long_is_not_used(
    service: Service, channel: Channel, monkeypatch: pytest.MonkeyPatch
) -> None:
    channel.start("c1")
    monkeypatch.setattr(channel_module, "KEEP_IDLE_SECONDS", 0.0)
    channel.start("c2")
    assert service.connections == 2


def test_an_error_answer_keeps_its_code_and_the_connection(
    service: Service, channel: Channel
) -> None:
    service.status = 409
    with pytest.raises(ChannelError) as refused:
        channel.start("c1")
    assert refused.value.status == 409 and refused.value.code == "command_ended"
    assert "409 command_ended: ended" in str(refused.value)
    service.status = 200
    channel.start("c2")
    assert service.connections == 1


def test_no_service_is_a_network_error(channel: Channel, service: Service) -> None:
    service.close()
    with pytest.raises(ChannelError) as failed:
        channel.start("c1")
    assert failed.value.network and failed.value.status == 0
