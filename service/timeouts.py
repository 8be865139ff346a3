"""Slow and greedy clients: bodies in bounded time, headers in bounded time, a bounded
number of requests in progress per client address.

- ``BodyTimeoutMiddleware``: the whole request body must arrive within ``body_timeout_s`` of
  the request's start, else 408 (problem+json) and the connection is closed.
- ``PerClientLimitMiddleware``: at most ``max_concurrent_per_client`` requests in progress
  per client address and server process, else 429 (problem+json); health, readiness and
  metrics are exempt (cheap, and probes share an address).
- ``HeaderTimeoutProtocol``: uvicorn's HTTP protocol with a deadline on a request's
  headers (uvicorn has none: its keep-alive timer is reset by every byte, so a client sending
  one header byte at a time held a connection for ever). ``ceasefire serve`` uses it.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import Counter

import anyio
import orjson
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from service.config import get_settings
from service.errors import PROBLEM_BASE, PROBLEM_MEDIA_TYPE, problem_response

log = logging.getLogger(__name__)

_CLOSE = {"Connection": "close"}


def _body_timeout_detail(limit_s: float) -> str:
    return f"the request body did not arrive within {limit_s:g} s"


class BodyTimeout(StarletteHTTPException):
    """Raised from ``receive`` when a body is late. An HTTPException, so FastAPI's body
    reader lets it through to the problem+json handler (408, connection closed)."""

    def __init__(self, limit_s: float) -> None:
        super().__init__(408, _body_timeout_detail(limit_s), headers=dict(_CLOSE))


def _has_body(scope: Scope) -> bool:
    for name, value in scope["headers"]:
        if name == b"transfer-encoding":
            return True
        if name == b"content-length":
            return value.strip() not in (b"0", b"")
    return False


class BodyTimeoutMiddleware:
    """Every ``receive`` of a request body must complete before the request's deadline."""

    def __init__(self, app: ASGIApp, *, timeout_s: float) -> None:
        self.app = app
        self.timeout_s = timeout_s

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not _has_body(scope):
            await self.app(scope, receive, send)
            return
        deadline = time.monotonic() + self.timeout_s
        complete = False
        started = False

        async def timed_receive() -> Message:
            nonlocal complete
            if complete:  # the body is in; later receives wait for a disconnect
                return await receive()
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise BodyTimeout(self.timeout_s)
            with anyio.move_on_after(remaining) as scope_:
                message = await receive()
            if scope_.cancelled_caught:
                log.info("request body timed out after %s s", self.timeout_s)
                raise BodyTimeout(self.timeout_s)
            if message["type"] != "http.request" or not message.get("more_body", False):
                complete = True
            return message

        async def tracking_send(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, timed_receive, tracking_send)
        except BodyTimeout:
            # Read outside FastAPI's body reader (which answers the problem itself).
            if started:
                raise
            response = problem_response(
                408,
                "Request timeout",
                _body_timeout_detail(self.timeout_s),
                slug="request-timeout",
                headers=dict(_CLOSE),
            )
            await response(scope, receive, send)


# Cheap, never touching the shared database pool, and what probes and scrapers call.
_EXEMPT = frozenset({"/healthz", "/readyz", "/metrics"})


class PerClientLimitMiddleware:
    """At most ``limit`` requests in progress per client address (in this process)."""

    def __init__(self, app: ASGIApp, *, limit: int) -> None:
        self.app = app
        self.limit = limit
        self.in_progress: Counter[str] = Counter()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or self.limit <= 0 or scope["path"] in _EXEMPT:
            await self.app(scope, receive, send)
            return
        client = scope.get("client")
        address = client[0] if client else "unknown"
        if self.in_progress[address] >= self.limit:
            response = problem_response(
                429,
                "Too many requests",
                f"this client already has {self.limit} requests in progress; wait for them"
                " to finish",
                slug="too-many-concurrent",
                headers={"Retry-After": "1", **_CLOSE},
            )
            await response(scope, receive, send)
            return
        self.in_progress[address] += 1
        try:
            await self.app(scope, receive, send)
        finally:
            self.in_progress[address] -= 1
            if self.in_progress[address] <= 0:
                del self.in_progress[address]


# ---- uvicorn: a deadline on request headers ----


def _header_timeout_response(limit_s: float) -> bytes:
    body = orjson.dumps(
        {
            "type": PROBLEM_BASE + "request-timeout",
            "title": "Request timeout",
            "status": 408,
            "detail": f"the request headers did not arrive within {limit_s:g} s",
        }
    )
    head = (
        "HTTP/1.1 408 Request Timeout\r\n"
        f"content-type: {PROBLEM_MEDIA_TYPE}\r\n"
        f"content-length: {len(body)}\r\n"
        "connection: close\r\n\r\n"
    )
    return head.encode("latin-1") + body


class HeaderTimeoutProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol with a deadline on each request's headers: from the
    connection's opening, then from the end of each response. Late: a 408 and the
    connection closed. (Bytes arriving do not postpone it, unlike uvicorn's keep-alive.)"""

    header_deadline: asyncio.TimerHandle | None = None

    def _arm_header_deadline(self) -> None:
        self._disarm_header_deadline()
        limit = get_settings().header_timeout_s
        self.header_deadline = self.loop.call_later(limit, self._headers_late, limit)

    def _disarm_header_deadline(self) -> None:
        if self.header_deadline is not None:
            self.header_deadline.cancel()
            self.header_deadline = None

    def _headers_late(self, limit: float) -> None:
        self.header_deadline = None
        if not self.transport.is_closing():
            log.info("request headers timed out after %s s", limit)
            self.transport.write(_header_timeout_response(limit))
            self.transport.close()

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._arm_header_deadline()

    def on_headers_complete(self) -> None:
        self._disarm_header_deadline()
        super().on_headers_complete()

    def on_response_complete(self) -> None:
        super().on_response_complete()
        # Unless closing, or a pipelined request (headers already in) has just started.
        idle = self.cycle is None or self.cycle.response_complete
        if idle and not self.transport.is_closing():
            self._arm_header_deadline()

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm_header_deadline()
        super().connection_lost(exc)
