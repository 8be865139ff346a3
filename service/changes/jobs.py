"""The change log's housekeeping (registered in ``service/scheduler/registry.py``)."""

from __future__ import annotations

from service.changes.service import compact
from service.db import get_sessionmaker

_BATCH = 10_000


def compact_log() -> str:
    """Delete the log rows later rows of the same incident supersede, a batch per commit
    (short transactions: the feed's horizon waits for none of them long)."""
    deleted = 0
    while True:
        with get_sessionmaker()() as session:
            n = compact(session=session, batch=_BATCH)
            session.commit()
        deleted += n
        if n < _BATCH:
            return f"{deleted} superseded change row(s) deleted"
