"""Where an engine may be: the ports and networks an instance's base URL may point at.

The console sends an engine health probes, sleep and wake calls, and the gateway's
traffic with the engine's API key. A base URL that points at another local service
(Redis on 6379, PostgreSQL on 5432, the console itself) would receive all of that, so
admins may only register URLs inside ``CONSOLE_ENGINE_PORTS`` and
``CONSOLE_ENGINE_NETWORKS`` (parsed here, read in ``console.settings``).

Hosts are judged by the address a client will really connect to: ``[::ffff:127.0.0.1]``
is 127.0.0.1, and the legacy numeric spellings that ``inet_aton`` (and so every HTTP
client through ``getaddrinfo``) accepts, ``0x7f000001``, ``2130706433``, ``127.1``,
``0177.0.0.1``, are refused: write the address as a dotted quad.
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Iterable
from dataclasses import dataclass

from console.env import ConfigError

IpAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IpNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network

# Ports below 1024 are system services; above, these are the well-known services a console
# host is likely to run (Docker 2375-2377 and etcd 2379-2380 in one range, MySQL,
# PostgreSQL, AMQP, Redis, the Kubernetes API, Elasticsearch, the kubelet, memcached,
# RabbitMQ's management page, MongoDB). vLLM's default port, 8000, stays allowed.
DEFAULT_ENGINE_PORTS = (
    "1024-65535,!2375-2380,!3306,!5432,!5672,!6379,!6443,!9200,!9300,!10250,!11211,!15672,!27017"
)
ANY_NETWORK = "any"


@dataclass(frozen=True)
class PortPolicy:
    """Port ranges allowed, minus those excluded (``!``); ``text`` is the setting's value."""

    allowed: tuple[tuple[int, int], ...]
    excluded: tuple[tuple[int, int], ...]
    text: str

    def __contains__(self, port: int) -> bool:
        return _within(port, self.allowed) and not _within(port, self.excluded)


def _within(port: int, ranges: Iterable[tuple[int, int]]) -> bool:
    return any(low <= port <= high for low, high in ranges)


def parse_ports(name: str, text: str) -> PortPolicy:
    """``"8000-8999,9100,!8500"`` → a PortPolicy; ConfigError naming ``name`` when malformed."""
    allowed: list[tuple[int, int]] = []
    excluded: list[tuple[int, int]] = []
    for item in (part.strip() for part in text.split(",")):
        if not item:
            continue
        target = excluded if item.startswith("!") else allowed
        target.append(_port_range(name, item.removeprefix("!")))
    if not allowed:
        raise ConfigError(f"{name}={text!r} allows no port (e.g. 1024-65535,!6379)")
    return PortPolicy(tuple(allowed), tuple(excluded), text)


def _port_range(name: str, item: str) -> tuple[int, int]:
    low_text, dash, high_text = item.partition("-")
    try:
        low, high = int(low_text), int(high_text if dash else low_text)
    except ValueError:
        raise ConfigError(f"{name}: {item!r} is not a port or a range such as 8000-8999") from None
    if not 1 <= low <= high <= 65535:
        raise ConfigError(f"{name}: {item!r} is not within 1-65535, low to high")
    return low, high


def parse_networks(name: str, text: str) -> tuple[IpNetwork, ...] | None:
    """``"10.0.0.0/8,127.0.0.1"`` → networks; ``any`` (the default) → None: every address."""
    if text.strip().lower() == ANY_NETWORK:
        return None
    networks: list[IpNetwork] = []
    for item in (part.strip() for part in text.split(",")):
        if not item:
            continue
        try:
            networks.append(ipaddress.ip_network(item, strict=False))
        except ValueError:
            raise ConfigError(f"{name}: {item!r} is not a network such as 10.0.0.0/8") from None
    if not networks:
        raise ConfigError(f"{name}={text!r} names no network (use 'any' or e.g. 10.0.0.0/8)")
    return tuple(networks)


def host_address(host: str) -> IpAddress | None:
    """The IP address ``host`` names, canonical; None for a name; ValueError when ambiguous."""
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        _refuse_legacy_ipv4(host)
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address


def _refuse_legacy_ipv4(host: str) -> None:
    try:
        socket.inet_aton(host.rstrip("."))
    except (OSError, ValueError):  # ValueError: a NUL character
        return
    raise ValueError(
        f"{host} is an IPv4 address in a legacy spelling (hexadecimal, octal, decimal or "
        "shortened); write it as four decimal numbers, e.g. 10.0.0.5"
    )


def is_local(host: str) -> bool:
    """Whether ``host`` names this machine's loopback (or every address, 0.0.0.0 / ::)."""
    if host.lower() == "localhost" or host.lower().endswith(".localhost"):
        return True
    try:
        address = host_address(host)
    except ValueError:
        return True
    return address is not None and (address.is_loopback or address.is_unspecified)


def resolved_addresses(host: str) -> list[IpAddress]:
    """Every address ``host`` resolves to now; [] when it does not resolve."""
    address = host_address(host)
    if address is not None:
        return [address]
    try:
        infos = socket.getaddrinfo(host, None, proto=socket.IPPROTO_TCP)
    except (OSError, UnicodeError):
        return []
    found = {host_address(str(info[4][0]).split("%", 1)[0]) for info in infos}
    return sorted((a for a in found if a is not None), key=str)
