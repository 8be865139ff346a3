"""Callback addresses the service may and may not call: every embedded-IPv4 form, every
non-global range, numeric host spellings, ports and schemes. No network: literal addresses
need no DNS, and names get a fake resolver."""

import ipaddress

import pytest

from service.subscription.addresses import (
    RefusedAddress,
    check_callback_url,
    embedded_ipv4,
    refused_reason,
)


def no_dns(host: str, port: int) -> list[str]:
    raise AssertionError(f"{host} must be refused before any DNS lookup")


def answers(*addresses: str):
    def resolve(host: str, port: int) -> list[str]:
        return list(addresses)

    return resolve


def refused(url: str, **kwargs) -> str:
    with pytest.raises(RefusedAddress) as caught:
        check_callback_url(url, allow_private=kwargs.pop("allow_private", False), **kwargs)
    [error] = caught.value.errors
    assert error["field"] == "body.callback_url"
    return caught.value.detail


# Teredo clients are the bitwise complement of the last 32 bits (RFC 4380): 10.0.0.1.
TEREDO_PRIVATE_CLIENT = "2001:0:4136:e378:8000:63bf:f5ff:fffe"


@pytest.mark.parametrize(
    ("url", "words"),
    [
        ("http://[2002:a9fe:a9fe::]/", ["6to4", "link-local"]),  # 169.254.169.254
        ("http://[2002:7f00:1::1]/", ["6to4", "loopback"]),
        ("http://[2002:a00:1::]/", ["6to4", "private"]),
        (f"http://[{TEREDO_PRIVATE_CLIENT}]/", ["Teredo", "private"]),
        ("http://[64:ff9b::a9fe:a9fe]/", ["NAT64", "link-local"]),
        ("http://[64:ff9b::7f00:1]/", ["NAT64", "loopback"]),
        ("http://[64:ff9b:1::5db8:d822]/", ["local-use NAT64"]),
        ("http://[::ffff:a9fe:a9fe]/", ["link-local"]),
        ("http://[::ffff:127.0.0.1]/", ["loopback"]),
        ("http://[::10.0.0.1]/", ["IPv4-compatible", "private"]),
        ("http://[::93.184.216.34]/", ["IPv4-compatible"]),  # deprecated: refused outright
        ("http://[2606:4700::5efe:a9fe:a9fe]/", ["ISATAP", "link-local"]),
        ("http://[2606:4700::200:5efe:a00:1]/", ["ISATAP", "private"]),
    ],
)
def test_ipv6_forms_embedding_a_refused_ipv4_are_refused(url, words):
    detail = refused(url, resolve=no_dns)
    for word in words:
        assert word in detail


@pytest.mark.parametrize(
    "address",
    [
        "0.0.0.0",  # noqa: S104 - an address refused, not bound
        "127.0.0.1",
        "10.0.0.1",
        "172.16.0.1",
        "192.168.1.1",
        "169.254.169.254",
        "100.64.0.1",  # shared address space (RFC 6598)
        "100.127.255.254",
        "192.0.0.8",
        "192.0.2.1",  # documentation
        "198.51.100.7",
        "203.0.113.9",
        "198.18.0.1",  # benchmarking
        "224.0.0.251",  # multicast
        "239.1.2.3",
        "240.0.0.1",  # reserved
        "255.255.255.255",
        "::",
        "::1",
        "fe80::1",
        "fc00::1",
        "fd12:3456::1",
        "fec0::1",  # site-local
        "ff02::1",  # multicast
        "ff0e::1",
        "2001:db8::1",  # documentation
        "100::1",  # discard-only
        "2001::1",  # Teredo
        "2001:10::1",
        "3fff::1",
        "192.88.99.1",
    ],
)
def test_every_non_global_address_is_refused(address):
    assert refused_reason(ipaddress.ip_address(address)) is not None
    host = f"[{address}]" if ":" in address else address
    refused(f"http://{host}/hook", resolve=no_dns)


@pytest.mark.parametrize(
    "address",
    [
        "93.184.216.34",
        "2606:2800:220:1:248:1893:25c8:1946",
        "2002:5db8:d822::1",  # 6to4 of a public IPv4
        "64:ff9b::5db8:d822",  # DNS64 for a public IPv4-only host
        "::ffff:93.184.216.34",
    ],
)
def test_global_addresses_pass(address):
    assert refused_reason(ipaddress.ip_address(address)) is None
    host = f"[{address}]" if ":" in address else address
    assert check_callback_url(f"https://{host}/hook", allow_private=False) == [
        ipaddress.ip_address(address)
    ]


def test_embedded_ipv4_names_each_form():
    assert embedded_ipv4(ipaddress.IPv6Address("2002:a9fe:a9fe::")) == [
        ("6to4", ipaddress.IPv4Address("169.254.169.254"))
    ]
    assert embedded_ipv4(ipaddress.IPv6Address(TEREDO_PRIVATE_CLIENT)) == [
        ("Teredo", ipaddress.IPv4Address("10.0.0.1")),  # the client
        ("Teredo", ipaddress.IPv4Address("65.54.227.120")),  # the server
    ]
    assert embedded_ipv4(ipaddress.IPv6Address("64:ff9b::a00:1")) == [
        ("NAT64", ipaddress.IPv4Address("10.0.0.1"))
    ]
    assert embedded_ipv4(ipaddress.IPv6Address("2606:2800:220:1:248:1893:25c8:1946")) == []


@pytest.mark.parametrize(
    "host",
    [
        "2852039166",  # 169.254.169.254 as one decimal number
        "0xa9fea9fe",
        "0xa9.0xfe.0xa9.0xfe",
        "0251.0376.0251.0376",  # octal
        "169.254.43518",  # a.b.c with a 16-bit last part
        "169.16689662",
        "0x7f000001",
        "127.1",
        "017700000001",
        "0x5d.0xb8.0xd8.0x22",  # even a public address: written in the one plain form
    ],
)
def test_numeric_host_spellings_are_refused_even_where_private_is_allowed(host):
    for allow_private in (False, True):
        detail = refused(f"http://{host}/", resolve=no_dns, allow_private=allow_private)
        assert "dotted-decimal" in detail


@pytest.mark.parametrize(
    ("url", "allowed_ports"),
    [
        ("http://93.184.216.34:8080/hook", [80, 443]),
        ("https://93.184.216.34:8443/hook", [80, 443]),
        ("http://93.184.216.34:22/", [80, 443]),
        ("http://93.184.216.34/", [443]),  # 80 by default for http
        ("https://93.184.216.34/", [80]),
        ("http://93.184.216.34:99999/", [80, 443]),
    ],
)
def test_only_allowed_ports(url, allowed_ports):
    detail = refused(url, allowed_ports=allowed_ports, resolve=no_dns)
    assert "port" in detail


def test_allowed_ports_are_configurable_and_checked_even_where_private_is_allowed():
    check_callback_url("https://93.184.216.34:8443/", allow_private=False, allowed_ports=[8443])
    check_callback_url("http://93.184.216.34:80/", allow_private=False, allowed_ports=[80, 443])
    assert "port 8420" in refused("http://127.0.0.1:8420/", allow_private=True, resolve=no_dns)


@pytest.mark.parametrize(
    "url",
    ["ftp://93.184.216.34/", "gopher://93.184.216.34/", "file:///etc/passwd", "ws://x.example/"],
)
def test_only_http_and_https(url):
    assert "http and https" in refused(url, resolve=no_dns)


def test_every_answer_of_a_name_is_checked():
    assert check_callback_url(
        "https://hooks.example/", allow_private=False, resolve=answers("93.184.216.34")
    ) == [ipaddress.ip_address("93.184.216.34")]
    for private in ("10.0.0.1", "::1", "2002:a9fe:a9fe::", "fe80::1%eth0"):
        detail = refused(
            "https://hooks.example/", resolve=answers("93.184.216.34", private, "1.1.1.1")
        )
        assert "hooks.example resolves to" in detail


def test_a_name_that_does_not_resolve_is_refused():
    def nxdomain(host: str, port: int) -> list[str]:
        raise OSError("Name or service not known")

    assert "does not resolve" in refused("https://nowhere.example/", resolve=nxdomain)
    assert "does not resolve" in refused("https://nowhere.example/", resolve=answers())
