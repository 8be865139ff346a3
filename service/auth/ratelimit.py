"""Rate limits shared by every worker process: a Redis counter per bucket and window.

Buckets: ``key:<id>`` (requests of one API key), ``anon:<address>`` (requests without a key
from one client address) and ``authfail:<address>`` (failed authentications from one
address). The client address is the connection's peer (the ASGI ``client``); forwarded
headers are not trusted, so behind a reverse proxy every client shares the proxy's address
and the proxy should limit per client itself.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from functools import lru_cache

import redis
from sqlalchemy.engine import make_url
from starlette.requests import HTTPConnection

from service.config import get_settings
from service.errors import TooManyRequests

log = logging.getLogger(__name__)


@lru_cache
def _client() -> redis.Redis:
    settings = get_settings()
    return redis.Redis.from_url(
        settings.redis_url, socket_timeout=0.25, socket_connect_timeout=0.25
    )


def namespace() -> str:
    """The Redis prefix of this deployment's counters (see ``rate_limit_namespace``)."""
    settings = get_settings()
    name = settings.rate_limit_namespace or make_url(settings.database_url).database or ""
    return f"ceasefire:rl:{name}"


def client_address(connection: HTTPConnection) -> str:
    """The peer address of the connection ("unknown" when the server gives none)."""
    return connection.client.host if connection.client else "unknown"


def _key(bucket: str, window: int) -> str:
    return f"{namespace()}:{bucket}:{window}"


def _refusal(limit: int, window_s: int, window: int, now: float, what: str) -> TooManyRequests:
    retry_after = max(1, int((window + 1) * window_s - now) + 1)
    return TooManyRequests(
        f"rate limit of {limit} {what} per {window_s} s exceeded; retry in {retry_after} s",
        headers={"Retry-After": str(retry_after)},
    )


def check(
    bucket: str,
    *,
    limit: int,
    window_s: int,
    now: float | None = None,
    what: str = "requests",
) -> None:
    """Count one request in ``bucket``'s current window; raise TooManyRequests past ``limit``.

    Fixed windows aligned to the clock, so every process agrees on the window. If Redis is
    unreachable the request goes through (reporting must not stop because the limiter did)
    and the failure is logged.
    """
    if limit <= 0:
        return
    now = time.time() if now is None else now
    window = int(now // window_s)
    key = _key(bucket, window)
    try:
        pipe = _client().pipeline()
        pipe.incr(key)
        pipe.expire(key, window_s + 1)
        count, _ = pipe.execute()
    except redis.RedisError as exc:
        log.warning("rate limiter unavailable: %s", type(exc).__name__)
        return
    if count > limit:
        raise _refusal(limit, window_s, window, now, what)


def refuse_if_spent(
    bucket: str,
    *,
    limit: int,
    window_s: int,
    now: float | None = None,
    what: str = "requests",
    also: str | None = None,
) -> bytes | None:
    """Raise TooManyRequests if ``bucket`` already reached ``limit`` this window, without
    counting anything (Redis down: let the request through, as ``check`` does).

    ``also`` names a shared counter (see ``counter``) read in the same round trip; its value
    is returned (None when unset, or when Redis is unreachable)."""
    now = time.time() if now is None else now
    window = int(now // window_s)
    names = ([_key(bucket, window)] if limit > 0 else []) + ([counter(also)] if also else [])
    if not names:
        return None
    try:
        values = _client().mget(names)
    except redis.RedisError as exc:
        log.warning("rate limiter unavailable: %s", type(exc).__name__)
        return None
    if limit > 0:
        raw, values = values[0], values[1:]
        if raw is not None and int(raw) >= limit:
            raise _refusal(limit, window_s, window, now, what)
    return values[0] if values else None


def counter(name: str) -> str:
    """The Redis key of a counter every worker shares (no window)."""
    return f"{namespace()}:{name}"


def bump(name: str) -> bool:
    """Add one to a shared counter; False (logged) when Redis is unreachable."""
    try:
        _client().incr(counter(name))
    except redis.RedisError as exc:
        log.warning("rate limiter unavailable: %s", type(exc).__name__)
        return False
    return True


def counter_keys(bucket: str) -> Iterator[str]:
    """The Redis keys of every window of ``bucket`` (for tests and operators to clear)."""
    for name in _client().scan_iter(match=f"{namespace()}:{bucket}:*"):
        yield name.decode() if isinstance(name, bytes) else name


def forget(bucket: str) -> None:
    """Clear every window of ``bucket``."""
    for name in list(counter_keys(bucket)):
        _client().delete(name)
