"""Which callback addresses the service may call (server-side request forgery).

A callback URL is checked twice: when the subscription is made (so a subscriber hears at
once), and at each delivery, where the host is resolved exactly once, every answer is
checked, and the connection goes to a checked address (see ``pinning``): a DNS answer that
changes between the check and the connection (rebinding) cannot lead anywhere unchecked.

An address is refused unless it is globally routable: loopback, private, link-local,
shared (100.64.0.0/10), documentation, benchmarking, multicast, reserved and unspecified
addresses are refused, and so is every IPv6 form that carries an IPv4 address (IPv4-mapped,
IPv4-compatible, 6to4, Teredo, NAT64, ISATAP) whose IPv4 address would be refused.
"""

from __future__ import annotations

import ipaddress
import re
import socket
from collections.abc import Callable, Iterable
from urllib.parse import urlsplit

from service.errors import Invalid

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
# (host, port) -> every address the name resolves to, as strings.
Resolve = Callable[[str, int], list[str]]
# An address -> why it is refused, or None when it may be called.
Refuse = Callable[[IPAddress], str | None]

_SHARED = ipaddress.ip_network("100.64.0.0/10")  # RFC 6598, carrier-grade NAT
_COMPATIBLE = ipaddress.ip_network("::/96")  # RFC 4291, deprecated IPv4-compatible
_NAT64 = ipaddress.ip_network("64:ff9b::/96")  # RFC 6052, the well-known NAT64 prefix
_NAT64_LOCAL = ipaddress.ip_network("64:ff9b:1::/48")  # RFC 8215, local-use NAT64
# IANA special-purpose blocks that are not globally reachable, named here as well so the
# answer does not depend on the Python version's ipaddress tables.
_SPECIAL_PURPOSE = [
    ipaddress.ip_network(n)
    for n in (
        "0.0.0.0/8",
        "192.0.0.0/24",  # IETF protocol assignments (but see _GLOBAL_EXCEPTIONS)
        "192.0.2.0/24",
        "192.88.99.0/24",  # deprecated 6to4 relay anycast
        "198.18.0.0/15",
        "198.51.100.0/24",
        "203.0.113.0/24",
        "240.0.0.0/4",
        "100::/64",
        "2001:db8::/32",
        "3fff::/20",  # documentation (RFC 9637)
        "5f00::/16",  # SRv6 SIDs
    )
]
_GLOBAL_EXCEPTIONS = {ipaddress.ip_address(a) for a in ("192.0.0.9", "192.0.0.10")}
_ISATAP_IDS = (0x0000_5EFE, 0x0200_5EFE)  # RFC 5214 interface identifiers ::[02]00:5efe:a.b.c.d
# What resolvers (inet_aton) accept as IPv4 beside dotted decimal: 2852039166, 0xa9.0xfe.0xa9.0xfe,
# 0251.0376.0251.0376, 169.254.43518... Refused rather than guessed at.
_NUMERIC_HOST = re.compile(r"(0x[0-9a-f]*|[0-9]+)(\.(0x[0-9a-f]*|[0-9]+)){0,3}\.?", re.IGNORECASE)


class RefusedAddress(Invalid):
    """The callback URL is not one the service may call."""


def refuse(message: str) -> RefusedAddress:
    return RefusedAddress(
        f"callback_url: {message}", errors=[{"field": "body.callback_url", "message": message}]
    )


def system_resolve(host: str, port: int) -> list[str]:
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return [str(info[4][0]) for info in infos]


def embedded_ipv4(address: ipaddress.IPv6Address) -> list[tuple[str, ipaddress.IPv4Address]]:
    """The IPv4 addresses an IPv6 address reaches through a transition mechanism, named."""
    found: list[tuple[str, ipaddress.IPv4Address]] = []
    low32 = ipaddress.IPv4Address(int(address) & 0xFFFF_FFFF)
    if address.ipv4_mapped is not None:
        found.append(("IPv4-mapped", address.ipv4_mapped))
    if address in _COMPATIBLE and int(address) > 1:  # not :: nor ::1
        found.append(("IPv4-compatible", low32))
    if address.sixtofour is not None:
        found.append(("6to4", address.sixtofour))
    if address.teredo is not None:
        server, client = address.teredo  # the client is de-obfuscated already
        found += [("Teredo", client), ("Teredo", server)]
    if address in _NAT64:
        found.append(("NAT64", low32))
    if (int(address) >> 32) & 0xFFFF_FFFF in _ISATAP_IDS:
        found.append(("ISATAP", low32))
    return found


def refused_reason(address: IPAddress) -> str | None:
    """Why the service must not call this address, or None when it may."""
    if isinstance(address, ipaddress.IPv6Address):
        if address.scope_id:
            return "scoped (zone) IPv6"
        if address.ipv4_mapped is not None:
            return refused_reason(address.ipv4_mapped)
        for form, ipv4 in embedded_ipv4(address):
            reason = refused_reason(ipv4)
            if reason:
                return f"{form} IPv6 address embedding a {reason} IPv4"
        if address in _NAT64:
            return None  # DNS64 answers for a public IPv4-only host (checked just above)
        if address in _NAT64_LOCAL:
            return "local-use NAT64"
        if address in _COMPATIBLE and int(address) > 1:
            return "deprecated IPv4-compatible IPv6"
        if address.is_site_local:
            return "site-local"
    elif address in _SHARED:
        return "shared (carrier-grade NAT)"
    special = address not in _GLOBAL_EXCEPTIONS and any(
        address in network for network in _SPECIAL_PURPOSE
    )
    for reason, flag in (
        ("loopback", address.is_loopback),
        ("unspecified", address.is_unspecified),
        ("link-local", address.is_link_local),
        ("multicast", address.is_multicast),
        ("private", address.is_private),
        ("reserved", address.is_reserved),
        ("special-purpose", special),
    ):
        if flag:
            return reason
    return None if address.is_global else "not globally routable"


def _literal(host: str) -> IPAddress | None:
    try:
        return ipaddress.ip_address(host)
    except ValueError:
        pass
    if _NUMERIC_HOST.fullmatch(host):
        raise refuse(f"{host!r} is not a dotted-decimal IPv4 address; write it as one")
    return None


def static_check(url: str, *, allowed_ports: Iterable[int], allow_private: bool) -> tuple[str, int]:
    """What can be checked without a DNS answer: scheme, credentials, port, and a literal
    address. The host and port to resolve."""
    try:
        parts = urlsplit(url)
    except ValueError as exc:
        raise refuse("the URL cannot be parsed") from exc
    if parts.scheme not in ("http", "https"):
        raise refuse("only http and https URLs are allowed")
    if parts.username or parts.password:
        raise refuse("credentials in the URL are not allowed; deliveries are signed instead")
    host = parts.hostname
    if not host:
        raise refuse("the URL has no host")
    if "%" in host:
        raise refuse("IPv6 zone identifiers are not allowed")
    try:
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError as exc:
        raise refuse("the port is not valid") from exc
    allowed = sorted(set(allowed_ports))
    if port not in allowed:
        raise refuse(f"port {port} is not allowed; only {', '.join(map(str, allowed))}")
    literal = _literal(host)
    if literal is not None and not allow_private:
        reason = refused_reason(literal)
        if reason:
            raise refuse(f"{host} is a {reason} address, which is not allowed")
    return host, port


def checked_addresses(
    host: str, port: int, *, resolve: Resolve, refuse_address: Refuse | None
) -> list[IPAddress]:
    """Resolve ``host`` once and check every answer: one refused answer refuses them all
    (an attacker's name may answer a public and a private address). ``refuse_address`` None
    allows every address (``webhook_allow_private``)."""
    try:
        answers = resolve(host, port)
    except (OSError, UnicodeError) as exc:
        raise refuse(f"the host {host!r} does not resolve") from exc
    addresses: list[IPAddress] = []
    for answer in answers:
        try:
            address = ipaddress.ip_address(answer)
        except ValueError as exc:
            raise refuse(f"{host} resolves to {answer!r}, which is not an IP address") from exc
        reason = refuse_address(address) if refuse_address else None
        if reason:
            raise refuse(f"{host} resolves to a {reason} address, which is not allowed")
        if address not in addresses:
            addresses.append(address)
    if not addresses:
        raise refuse(f"the host {host!r} does not resolve")
    return addresses


def check_callback_url(
    url: str,
    *,
    allow_private: bool,
    allowed_ports: Iterable[int] = (80, 443),
    resolve: Resolve = system_resolve,
) -> list[IPAddress]:
    """Refuse what the service must not call (see the module's docstring); the addresses
    the host resolves to now. A subscriber learns at once; deliveries check again."""
    host, port = static_check(url, allowed_ports=allowed_ports, allow_private=allow_private)
    return checked_addresses(
        host, port, resolve=resolve, refuse_address=None if allow_private else refused_reason
    )
