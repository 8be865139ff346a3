"""Per-key rate limit shared by every worker process (a Redis counter per key and window)."""

from __future__ import annotations

import logging
import time
from functools import lru_cache

import redis

from service.config import get_settings
from service.errors import TooManyRequests

log = logging.getLogger(__name__)


@lru_cache
def _client() -> redis.Redis:
    settings = get_settings()
    return redis.Redis.from_url(
        settings.redis_url, socket_timeout=0.25, socket_connect_timeout=0.25
    )


def check(bucket: str, *, limit: int, window_s: int, now: float | None = None) -> None:
    """Count one request in ``bucket``'s current window; raise TooManyRequests past ``limit``.

    Fixed windows aligned to the clock, so every process agrees on the window. If Redis is
    unreachable the request goes through (reporting must not stop because the limiter did)
    and the failure is logged.
    """
    if limit <= 0:
        return
    now = time.time() if now is None else now
    window = int(now // window_s)
    key = f"ceasefire:rl:{bucket}:{window}"
    try:
        pipe = _client().pipeline()
        pipe.incr(key)
        pipe.expire(key, window_s + 1)
        count, _ = pipe.execute()
    except redis.RedisError as exc:
        log.warning("rate limiter unavailable: %s", type(exc).__name__)
        return
    if count > limit:
        retry_after = max(1, int((window + 1) * window_s - now) + 1)
        raise TooManyRequests(
            f"rate limit of {limit} requests per {window_s} s exceeded; retry in {retry_after} s",
            headers={"Retry-After": str(retry_after)},
        )
