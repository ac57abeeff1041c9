"""The client's address: `X-Forwarded-For` counts only when a trusted proxy sent it.

The same walk as uvicorn's proxy headers middleware (which `sspr serve` turns on for the same
`SSPR_TRUSTED_PROXIES`): right to left through the header, skipping trusted proxies, the first
address that is not one is the client's; when every one is trusted, the leftmost. So applying
this to an address uvicorn already resolved gives that address back: the resolved client is
either untrusted (its header is then ignored) or the leftmost entry of an all-trusted header
(the walk finds it again).
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache

IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network
IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


def parse_address(text: str) -> IPAddress | None:
    """An IP address, with an IPv4-mapped IPv6 address read as the IPv4 it carries."""
    try:
        address = ipaddress.ip_address(text.strip())
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address


@dataclass(frozen=True)
class TrustedProxies:
    """Addresses and networks (and, like uvicorn, literal names such as a unix socket).

    Read exactly as uvicorn reads `forwarded_allow_ips`, so that the two never disagree: "*"
    alone trusts everyone, an address is not mapped between IPv4 and IPv6.
    """

    everyone: bool
    networks: tuple[IPNetwork, ...]
    literals: frozenset[str]

    def __contains__(self, host: str) -> bool:
        if self.everyone:
            return True
        if not host:
            return False
        try:
            address = ipaddress.ip_address(host)
        except ValueError:
            return host in self.literals
        return any(address in network for network in self.networks)


@lru_cache(maxsize=16)
def _parse(entries: tuple[str, ...]) -> TrustedProxies:
    networks: list[IPNetwork] = []
    literals: set[str] = set()
    for entry in entries:
        try:
            # Strict, as uvicorn reads it: "10.0.0.1/8" is a mistake that trusts nobody.
            networks.append(ipaddress.ip_network(entry))
        except ValueError:
            literals.add(entry)
    return TrustedProxies(entries == ("*",), tuple(networks), frozenset(literals))


def trusted_proxies(entries: Iterable[str]) -> TrustedProxies:
    return _parse(tuple(e.strip() for e in entries if e.strip()))


def _host(entry: str) -> str:
    """The host of one `X-Forwarded-For` entry: "[2001:db8::1]:443" and "192.0.2.1:80" lose
    their port; anything else stays as written (and so is trusted by nobody)."""
    if entry.startswith("["):
        end = entry.find("]")
        if end == -1:
            return entry
        rest = entry[end + 1 :]
        if rest and not rest.startswith(":"):
            return entry
        return entry[1:end]
    if entry.count(":") == 1:
        host, _, port = entry.partition(":")
        return host if port.isdigit() else entry
    return entry


def client_address(peer: str, forwarded_for: str, trusted: Iterable[str]) -> str:
    """The address of the client: `peer` (the socket's), unless `peer` is a trusted proxy,
    in which case the first address of `forwarded_for`, from the right, that is not one."""
    proxies = trusted_proxies(trusted)
    if not forwarded_for or peer not in proxies:
        return peer
    hosts = [_host(item.strip()) for item in forwarded_for.split(",")]
    if proxies.everyone:
        return hosts[0] or peer
    for host in reversed(hosts):
        if host not in proxies:
            return host or peer
    return hosts[0] or peer
