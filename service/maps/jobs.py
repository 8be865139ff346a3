"""Scheduled work of the maps domain (registered in service/scheduler/registry.py)."""

from __future__ import annotations

from service.db import get_engine, get_sessionmaker
from service.maps.rollups import compact, reclaim


def compact_rollups() -> str:
    """Fold the rollup deltas incident writers appended into the rollups."""
    with get_sessionmaker()() as session:
        result = compact(session=session)
        session.commit()
    reclaim(engine=get_engine())
    return result.describe()
