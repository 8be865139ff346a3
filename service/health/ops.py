"""Database access for /readyz and /metrics that the rest of the service cannot starve.

Their own engine (two connections at most, a short statement timeout), their own worker
threads (not AnyIO's shared pool of 40, which slow requests can fill), and a deadline: past
``health_db_timeout_s`` the caller learns that the database could not tell in time.
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager
from functools import lru_cache
from typing import Annotated, TypeVar

import anyio
import anyio.lowlevel
import anyio.to_thread
from fastapi import Depends
from sqlalchemy import Engine, create_engine
from sqlalchemy.orm import Session

from service.config import get_settings

T = TypeVar("T")

_limiter: anyio.lowlevel.RunVar[anyio.CapacityLimiter] = anyio.lowlevel.RunVar("ops_limiter")


class OpsTimeout(Exception):
    """The database did not answer a health or metrics query in time."""


def _ops_limiter() -> anyio.CapacityLimiter:
    try:
        return _limiter.get()
    except LookupError:
        limiter = anyio.CapacityLimiter(4)
        _limiter.set(limiter)
        return limiter


@lru_cache
def ops_engine() -> Engine:
    settings = get_settings()
    timeout_ms = max(1, int(settings.health_db_timeout_s * 1000))
    args: dict[str, object] = {
        "connect_timeout": max(1, round(settings.health_db_timeout_s)),
        "application_name": "ceasefire-health",
    }
    if settings.db_pooled:
        # Through PgBouncer (transaction mode): no startup options, no prepared statements;
        # the query still gives up at the health deadline (``run_with_session``).
        args["prepare_threshold"] = None
    else:
        args["options"] = f"-c statement_timeout={timeout_ms} -c lock_timeout={timeout_ms}"
    return create_engine(
        settings.database_url,
        pool_size=2,
        max_overflow=0,
        pool_timeout=settings.health_db_timeout_s,
        pool_pre_ping=True,
        connect_args=args,
    )


SessionFactory = Callable[[], AbstractContextManager[Session]]


async def ops_sessions() -> SessionFactory:
    """Sessions on the health engine (a dependency, so tests can give their own)."""
    return lambda: Session(ops_engine())


OpsSessions = Annotated[SessionFactory, Depends(ops_sessions)]


async def run_with_session(sessions: SessionFactory, work: Callable[[Session], T]) -> T:
    """``work(session)`` in a health worker thread, within the deadline (else OpsTimeout;
    the thread finishes on its own, bounded by the statement timeout)."""
    limit = get_settings().health_db_timeout_s

    def run() -> T:
        with sessions() as session:
            return work(session)

    with anyio.move_on_after(limit) as scope:
        return await anyio.to_thread.run_sync(run, limiter=_ops_limiter(), abandon_on_cancel=True)
    assert scope.cancelled_caught
    raise OpsTimeout(f"the database did not answer within {limit:g} s")
