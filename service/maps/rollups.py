"""Folding the rollup deltas into the rollups (migration 0120).

Incident writers append what each statement changed to ``incident_rollup_deltas`` and never
touch a rollup row, so they do not queue behind each other. ``compact`` moves every
committed delta it sees into the rollups in one transaction (``compact_incident_rollups()``
in SQL: one folder at a time, an advisory lock), so a reader of a ``_now`` view sees each
write exactly once before, during and after it. Folding only keeps the views' delta part
short: readers are exact whether or not it has run.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Engine, text
from sqlalchemy.orm import Session


@dataclass(frozen=True)
class Compacted:
    folded: int  # delta rows moved into the rollups
    left: int  # delta rows left (committed after the fold began, or still uncommitted)

    def describe(self) -> str:
        return f"{self.folded} rollup delta(s) folded, {self.left} left"


def compact(*, session: Session) -> Compacted:
    """Fold the committed deltas into the rollups (the caller commits)."""
    folded = session.execute(text("SELECT compact_incident_rollups()")).scalar_one()
    left = session.execute(text("SELECT count(*) FROM incident_rollup_deltas")).scalar_one()
    return Compacted(folded=int(folded), left=int(left))


def pending(*, session: Session) -> int:
    """How many delta rows wait to be folded."""
    return int(session.execute(text("SELECT count(*) FROM incident_rollup_deltas")).scalar_one())


def reclaim(*, engine: Engine) -> None:
    """VACUUM the deltas table after a fold: folded deltas are dead rows every reader of a
    ``_now`` view would scan until autovacuum reached them (measured: 122,256 deltas folded,
    a province count 31 ms before the VACUUM, 0.07 ms after)."""
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(text("VACUUM (ANALYZE) incident_rollup_deltas"))
