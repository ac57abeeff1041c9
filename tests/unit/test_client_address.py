"""The client's address: a forwarded header counts only from a trusted proxy, and the walk
agrees with uvicorn's (which `sspr serve` runs with the same trusted proxies)."""

from __future__ import annotations

import ipaddress

from hypothesis import given
from hypothesis import strategies as st
from uvicorn.middleware.proxy_headers import _TrustedHosts

from sspr.access.client_address import client_address, parse_address

PROXIES = ["10.0.0.0/8", "192.0.2.1", "2001:db8::/32"]

v4 = st.ip_addresses(v=4).map(str)
v6 = st.ip_addresses(v=6).map(str)
trusted_v4 = st.integers(0, 2**24 - 1).map(lambda n: str(ipaddress.IPv4Address(0x0A000000 + n)))
trusted_v6 = st.integers(0, 2**96 - 1).map(
    lambda n: str(ipaddress.IPv6Address((0x20010DB8 << 96) + n))
)
entry = st.one_of(
    v4, v6, trusted_v4, trusted_v6, st.just("192.0.2.1"), st.just("unknown"), st.just(""),
    v4.map(lambda a: f"{a}:8080"), v6.map(lambda a: f"[{a}]:443"),
)
header = st.lists(entry, max_size=6).map(", ".join)
peer = st.one_of(v4, v6, trusted_v4, trusted_v6, st.just("192.0.2.1"))


def uvicorns(peer_: str, forwarded: str, trusted: list[str]) -> str:
    """What uvicorn's ProxyHeadersMiddleware puts in the scope's client."""
    hosts = _TrustedHosts(trusted)
    if peer_ not in hosts or not forwarded:
        return peer_
    host, _ = hosts.get_trusted_client_address(forwarded)
    return host or peer_


class TestClientAddress:
    def test_an_untrusted_peer_cannot_spoof_its_address(self) -> None:
        assert client_address("203.0.113.9", "198.51.100.1", PROXIES) == "203.0.113.9"

    def test_a_trusted_proxy_is_believed(self) -> None:
        assert client_address("10.1.2.3", "198.51.100.1", PROXIES) == "198.51.100.1"

    def test_the_walk_skips_trusted_proxies_from_the_right(self) -> None:
        chain = "6.6.6.6, 198.51.100.1, 10.9.9.9"
        # 6.6.6.6 was written by the client itself: only the proxies' entries count.
        assert client_address("10.1.2.3", chain, PROXIES) == "198.51.100.1"

    def test_ports_are_dropped(self) -> None:
        assert client_address("192.0.2.1", "198.51.100.1:5555", PROXIES) == "198.51.100.1"
        assert client_address("192.0.2.1", "[2001:db9::1]:443", PROXIES) == "2001:db9::1"

    def test_no_trusted_proxies_means_the_socket(self) -> None:
        assert client_address("10.1.2.3", "198.51.100.1", []) == "10.1.2.3"

    @given(peer, header)
    def test_agrees_with_uvicorn(self, peer_: str, forwarded: str) -> None:
        assert client_address(peer_, forwarded, PROXIES) == uvicorns(peer_, forwarded, PROXIES)

    @given(peer, header)
    def test_applying_it_to_what_uvicorn_resolved_changes_nothing(
        self, peer_: str, forwarded: str
    ) -> None:
        resolved = uvicorns(peer_, forwarded, PROXIES)
        assert client_address(resolved, forwarded, PROXIES) == resolved

    @given(peer, header)
    def test_an_untrusted_peer_always_gets_its_own_address(
        self, peer_: str, forwarded: str
    ) -> None:
        assert client_address(peer_, forwarded, ["198.18.0.0/15"]) in (
            peer_,
            *[h.strip() for h in forwarded.split(",")],
        )
        if not peer_.startswith("198.18.") and not peer_.startswith("198.19."):
            assert client_address(peer_, forwarded, ["198.18.0.0/15"]) == peer_


class TestParseAddress:
    def test_ipv4_mapped_ipv6_is_read_as_ipv4(self) -> None:
        assert parse_address("::ffff:192.0.2.7") == ipaddress.IPv4Address("192.0.2.7")

    def test_not_an_address(self) -> None:
        assert parse_address("unknown") is None
