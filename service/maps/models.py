"""Tallies kept current by triggers on the incidents table, so maps read counts and versions
instead of scanning incidents.

- ``incident_daily_counts``: incidents per local day (the theatre's time zone), province,
  status, ceasefire status and set of responsible guarantors, with casualty sums. Its size
  grows with days x provinces x categories, not with the number of incidents.
- ``incident_cell_counts``: incidents per 0.1-degree grid cell (integer keys
  ``floor(lon / 0.1)``, ``floor(lat / 0.1)``), status and ceasefire status, for map tiles
  at low zooms, where one tile covers the whole theatre.
- ``incident_cell_days`` and ``incident_cell_months``: incidents per local day (and per
  local month) x 0.1-degree cell x every category a filter names (province, status,
  ceasefire status, violation type, guarantors, perpetrator, target), with killed, so
  low-zoom tiles with any filter read them (``service/tiles/rollup.py``; migration ``0080``).
- ``incident_totals``: incidents per status (an exact ``numberMatched`` for unfiltered lists).
- ``data_versions``: counters per dataset, bumped in the writing transaction, so an ETag
  changes exactly when the data it describes has changed. A dataset's version is the sum of
  its slots: each writing transaction bumps a slot no other transaction holds (migration
  ``0120``), so writers do not queue on one row, and every commit still adds to the sum.

Writers never touch the rollups: one statement-level trigger (migration ``0120``, with
transition tables, so a batch of 500 reports costs one aggregate per statement) appends what
a statement changed to ``incident_rollup_deltas``; ``compact_incident_rollups()`` (the job
``maps.compact_rollups``) folds them in. Readers read the views ``<rollup>_now`` (the rollup
plus the deltas not yet folded, ``ROLLUP_VIEWS`` below), exact whether or not the job ran.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import (
    BigInteger,
    Column,
    Date,
    DateTime,
    Identity,
    Integer,
    MetaData,
    SmallInteger,
    String,
    Table,
    func,
)
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.orm import Mapped, mapped_column

from service.db import Base


class DataVersion(Base):
    __tablename__ = "data_versions"

    name: Mapped[str] = mapped_column(String(32), primary_key=True)
    slot: Mapped[int] = mapped_column(SmallInteger, primary_key=True, server_default="0")
    version: Mapped[int] = mapped_column(BigInteger, server_default="0")
    changed_at: Mapped[dt.datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now()
    )


class IncidentDailyCount(Base):
    __tablename__ = "incident_daily_counts"

    day: Mapped[dt.date] = mapped_column(Date, primary_key=True)
    province_pcode: Mapped[str] = mapped_column(String(32), primary_key=True)
    status: Mapped[str] = mapped_column(String(16), primary_key=True)
    ceasefire_status: Mapped[str] = mapped_column(String(16), primary_key=True)
    guarantors: Mapped[list[str]] = mapped_column(ARRAY(String(3)), primary_key=True)
    confidence_band: Mapped[str] = mapped_column(String(8), primary_key=True, server_default="low")
    incidents: Mapped[int] = mapped_column(Integer, server_default="0")
    killed: Mapped[int] = mapped_column(BigInteger, server_default="0")
    injured: Mapped[int] = mapped_column(BigInteger, server_default="0")
    civilians_killed: Mapped[int] = mapped_column(BigInteger, server_default="0")


# The grid of ``incident_cell_counts``, fixed in the trigger that keeps it.
CELL_ROLLUP_DEG = 0.1


class IncidentCellCount(Base):
    __tablename__ = "incident_cell_counts"

    cell_i: Mapped[int] = mapped_column(Integer, primary_key=True)
    cell_j: Mapped[int] = mapped_column(Integer, primary_key=True)
    status: Mapped[str] = mapped_column(String(16), primary_key=True)
    ceasefire_status: Mapped[str] = mapped_column(String(16), primary_key=True)
    incidents: Mapped[int] = mapped_column(Integer, server_default="0")
    killed: Mapped[int] = mapped_column(BigInteger, server_default="0")


class _CellCategoryColumns:
    """The key, but its period, and the figures of the per-category cell rollups. Parties
    are ``''`` where the incident names none (the key is a primary key). The columns are
    named as the incidents' own, so one filter condition reads either."""

    cell_i: Mapped[int] = mapped_column(Integer, primary_key=True)
    cell_j: Mapped[int] = mapped_column(Integer, primary_key=True)
    province_pcode: Mapped[str] = mapped_column(String(32), primary_key=True)
    status: Mapped[str] = mapped_column(String(16), primary_key=True)
    ceasefire_status: Mapped[str] = mapped_column(String(16), primary_key=True)
    violation_type: Mapped[str] = mapped_column(String(16), primary_key=True)
    responsible_guarantors: Mapped[list[str]] = mapped_column(ARRAY(String(3)), primary_key=True)
    perpetrator_party_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    target_party_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    confidence_band: Mapped[str] = mapped_column(String(8), primary_key=True, server_default="low")
    incidents: Mapped[int] = mapped_column(Integer, server_default="0")
    killed: Mapped[int] = mapped_column(BigInteger, server_default="0")


class IncidentCellDay(_CellCategoryColumns, Base):
    __tablename__ = "incident_cell_days"

    day: Mapped[dt.date] = mapped_column(Date, primary_key=True, sort_order=-1)


class IncidentCellMonth(_CellCategoryColumns, Base):
    """As ``IncidentCellDay``, summed over the local month starting on ``month``."""

    __tablename__ = "incident_cell_months"

    month: Mapped[dt.date] = mapped_column(Date, primary_key=True, sort_order=-1)


class IncidentTotal(Base):
    __tablename__ = "incident_totals"

    status: Mapped[str] = mapped_column(String(16), primary_key=True)
    incidents: Mapped[int] = mapped_column(BigInteger, server_default="0")


class IncidentRollupDelta(Base):
    """What one statement changed, per finest key of every rollup (its cell null without a
    position), with signed figures: appended by the trigger, folded in by the job."""

    __tablename__ = "incident_rollup_deltas"

    id: Mapped[int] = mapped_column(BigInteger, Identity(always=False), primary_key=True)
    day: Mapped[dt.date] = mapped_column(Date)
    cell_i: Mapped[int | None] = mapped_column(Integer)
    cell_j: Mapped[int | None] = mapped_column(Integer)
    province_pcode: Mapped[str] = mapped_column(String(32))
    status: Mapped[str] = mapped_column(String(16))
    ceasefire_status: Mapped[str] = mapped_column(String(16))
    violation_type: Mapped[str] = mapped_column(String(16))
    guarantors: Mapped[list[str]] = mapped_column(ARRAY(String(3)))
    perpetrator_party_id: Mapped[str] = mapped_column(String(64))
    target_party_id: Mapped[str] = mapped_column(String(64))
    confidence_band: Mapped[str] = mapped_column(String(8))
    incidents: Mapped[int] = mapped_column(Integer)
    killed: Mapped[int] = mapped_column(BigInteger)
    injured: Mapped[int] = mapped_column(BigInteger)
    civilians_killed: Mapped[int] = mapped_column(BigInteger)


# The views readers read: each rollup UNION ALL the deltas not yet folded (one row per delta,
# not grouped: readers sum, and their conditions reach both scans). Views, so kept out of
# Base's metadata (the migrations create them).
VIEWS = MetaData()


def _view(table: Table) -> Table:
    return Table(
        f"{table.name}_now",
        VIEWS,
        *(Column(c.name, c.type) for c in table.columns),
    )


ROLLUP_VIEWS: dict[str, Table] = {
    model.__tablename__: _view(model.__table__)  # type: ignore[arg-type]
    for model in (
        IncidentDailyCount,
        IncidentTotal,
        IncidentCellCount,
        IncidentCellDay,
        IncidentCellMonth,
    )
}
DAILY_NOW = ROLLUP_VIEWS["incident_daily_counts"]
TOTALS_NOW = ROLLUP_VIEWS["incident_totals"]
CELL_COUNTS_NOW = ROLLUP_VIEWS["incident_cell_counts"]
CELL_DAYS_NOW = ROLLUP_VIEWS["incident_cell_days"]
CELL_MONTHS_NOW = ROLLUP_VIEWS["incident_cell_months"]
