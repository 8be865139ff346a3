"""An HTTP client that connects only to the addresses it has just checked.

httpx resolves a host when it connects, which would be a second DNS lookup after the
callback check (a rebinding attacker answers a public address to the check and a private
one to the connection). Here the resolution happens inside the connection: an httpcore
network backend resolves the URL's host once, checks every answer, and opens the TCP
connection to a checked address. TLS still runs over that connection with the URL's host
name as SNI and for certificate verification (httpcore passes the origin's host to
``start_tls``), and the request keeps its ``Host`` header, because nothing in the URL changes.
"""

from __future__ import annotations

import ssl
import typing

import httpcore
import httpx

from service.subscription.addresses import (
    Refuse,
    RefusedAddress,
    Resolve,
    checked_addresses,
    refused_reason,
    system_resolve,
)


class RefusedConnection(httpcore.ConnectError):
    """The host resolved to an address the service must not call; nothing was connected.
    httpx re-raises it as ``httpx.ConnectError`` caused by this exception."""

    def __init__(self, refused: RefusedAddress) -> None:
        super().__init__(refused.detail)
        self.refused = refused


class PinnedBackend(httpcore.NetworkBackend):
    def __init__(self, *, resolve: Resolve, refuse_address: Refuse | None) -> None:
        self._resolve = resolve
        self._refuse_address = refuse_address
        self._inner = httpcore.SyncBackend()

    def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: typing.Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.NetworkStream:
        try:
            addresses = checked_addresses(
                host, port, resolve=self._resolve, refuse_address=self._refuse_address
            )
        except RefusedAddress as exc:
            raise RefusedConnection(exc) from exc
        failure: Exception | None = None
        for address in addresses:  # in the resolver's order, like socket.create_connection
            try:
                return self._inner.connect_tcp(
                    str(address), port, timeout, local_address, socket_options
                )
            except (httpcore.ConnectError, httpcore.ConnectTimeout) as exc:
                failure = exc
        assert failure is not None  # checked_addresses never returns an empty list
        raise failure

    def connect_unix_socket(
        self,
        path: str,
        timeout: float | None = None,
        socket_options: typing.Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.NetworkStream:
        raise httpcore.ConnectError("webhooks are never sent over a Unix socket")

    def sleep(self, seconds: float) -> None:
        self._inner.sleep(seconds)


class PinnedTransport(httpx.HTTPTransport):
    """``httpx.HTTPTransport`` whose connection pool uses :class:`PinnedBackend`.

    httpx 0.28 has no public way to pass a network backend, so the pool it built is
    replaced by the same pool with the backend (``_pool`` is what ``handle_request`` uses;
    httpx and httpcore are pinned in constraints.txt, and the delivery tests cover it).
    """

    def __init__(
        self,
        *,
        allow_private: bool,
        resolve: Resolve = system_resolve,
        refuse_address: Refuse | None = refused_reason,
        limits: httpx.Limits = httpx.Limits(max_connections=10, max_keepalive_connections=5),
        ssl_context: ssl.SSLContext | None = None,
    ) -> None:
        super().__init__(trust_env=False, limits=limits)
        self._pool = httpcore.ConnectionPool(
            ssl_context=ssl_context or httpx.create_ssl_context(trust_env=False),
            max_connections=limits.max_connections,
            max_keepalive_connections=limits.max_keepalive_connections,
            keepalive_expiry=limits.keepalive_expiry,
            network_backend=PinnedBackend(
                resolve=resolve, refuse_address=None if allow_private else refuse_address
            ),
        )
