"""Which database a map read goes to: the streaming replica (``replica_url``) for the
public's and monitors' map reads while it answers, else the primary.

A replica serves what the primary committed a moment ago (its lag). Reads that must see
the caller's own writes (reporters, verifiers, admins) stay on the primary. A map answer's
ETag and body come from one replica snapshot, so a 304 is never wrong about the data it
names; see docs/scaling.md for what lag means for ETags.
"""

from __future__ import annotations

import logging
import time
from collections.abc import AsyncIterator
from functools import lru_cache
from typing import Annotated

import anyio.to_thread
from fastapi import Depends
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session, sessionmaker

from service.auth.models import Role
from service.auth.service import Principal
from service.config import get_settings
from service.db import closes_without_io, make_engine

log = logging.getLogger("ceasefire.replica")

# Until this time (monotonic), map reads skip the replica: it refused a connection.
_skip_until = 0.0


@lru_cache
def get_replica_sessionmaker() -> sessionmaker[Session] | None:
    url = get_settings().replica_url
    if url is None:
        return None
    # A replica is reached directly (never through the primary's pooler): it keeps
    # psycopg's prepared statements.
    engine = make_engine(url, pooled=False, application_name="ceasefire-replica")
    return sessionmaker(bind=engine, expire_on_commit=False)


async def get_replica_session() -> AsyncIterator[Session | None]:
    """A session on the replica, or None without one. Opening it costs nothing: its
    connection is taken at its first statement."""
    maker = get_replica_sessionmaker()
    if maker is None:
        yield None
        return
    session = maker()
    try:
        yield session
    finally:
        if closes_without_io(session):
            _close(session)  # read without a transaction: nothing to send, no thread needed
        else:
            with anyio.CancelScope(shield=True):  # as service.db.get_session
                await anyio.to_thread.run_sync(_close, session)


def _close(session: Session) -> None:
    """Close after the answer is sent: a replica shut down meanwhile (its backends
    terminated) must not turn the rollback into an error of an answered request."""
    try:
        session.close()
    except DBAPIError:
        session.invalidate()


ReplicaSessionDep = Annotated[Session | None, Depends(get_replica_session)]


def reads_replica(principal: Principal | None) -> bool:
    """The public and monitors read maps from the replica (unless it refused a moment
    ago); everyone who writes reads back from the primary (a reporter's own reports, a
    verifier's verdicts)."""
    if time.monotonic() < _skip_until:
        return False
    return principal is None or principal.role is Role.monitor


def skip_replica() -> None:
    """The replica refused: read from the primary for ``replica_retry_s``."""
    global _skip_until
    _skip_until = time.monotonic() + get_settings().replica_retry_s
    log.warning("replica unavailable: map reads go to the primary for a while")
