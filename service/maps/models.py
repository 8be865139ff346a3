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
- ``data_versions``: a counter per dataset, bumped in the writing transaction, so an ETag
  changes exactly when the data it describes has changed.

The triggers are written in the migration (``0020``): statement-level, with transition
tables, so a batch of 500 reports or a bulk import costs one aggregate per statement.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import BigInteger, Date, DateTime, Integer, String, func
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.orm import Mapped, mapped_column

from service.db import Base


class DataVersion(Base):
    __tablename__ = "data_versions"

    name: Mapped[str] = mapped_column(String(32), primary_key=True)
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
