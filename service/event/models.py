"""The event's columns, written once: what a report states and an incident consolidates.

``EventColumns`` is the mixin both tables take (with ``event_checks``); every list of the
event's columns (``EVENT_COLUMNS``, the SQL that reads or copies them, the types a JSON
recordset gives them) is derived from it, so adding a field means adding it here.
"""

from __future__ import annotations

import datetime as dt
import enum

from geoalchemy2 import Geometry
from sqlalchemy import (
    CheckConstraint,
    Column,
    DateTime,
    Float,
    ForeignKey,
    Integer,
    String,
    Text,
    Uuid,
)
from sqlalchemy.dialects.postgresql import ARRAY, JSONB
from sqlalchemy.orm import Mapped, MappedColumn, mapped_column

from service.event.terms import CeasefireStatus, LocationMatch, TimePrecision, ViolationType


def known(column: str, values: type[enum.StrEnum]) -> str:
    """A CHECK condition: ``column`` holds one of the enum's values."""
    return f"{column} IN ({', '.join(repr(v.value) for v in values)})"


class EventColumns:
    """What a report states and an incident consolidates: when, where, what, who."""

    occurred_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    time_precision: Mapped[str] = mapped_column(String(8), server_default="exact")
    geom = mapped_column(Geometry("POINT", srid=4326, spatial_index=False))
    geo_precision: Mapped[str | None] = mapped_column(String(32))
    place_name: Mapped[str | None] = mapped_column(Text)
    province_pcode: Mapped[str] = mapped_column(ForeignKey("admin_areas.pcode"))
    district_pcode: Mapped[str | None] = mapped_column(ForeignKey("admin_areas.pcode"))
    location_match: Mapped[str] = mapped_column(String(16))
    location_distance_km: Mapped[float | None] = mapped_column(Float)
    violation_type: Mapped[str] = mapped_column(String(16))
    perpetrator_raw: Mapped[str | None] = mapped_column(Text)
    perpetrator_party_id: Mapped[str | None] = mapped_column(ForeignKey("parties.id"))
    target_raw: Mapped[str | None] = mapped_column(Text)
    target_party_id: Mapped[str | None] = mapped_column(ForeignKey("parties.id"))
    responsible_guarantors: Mapped[list[str]] = mapped_column(ARRAY(String(3)), server_default="{}")
    ceasefire_status: Mapped[str] = mapped_column(String(16))
    killed: Mapped[int] = mapped_column(Integer, server_default="0")
    injured: Mapped[int] = mapped_column(Integer, server_default="0")
    civilians_killed: Mapped[int] = mapped_column(Integer, server_default="0")


# The event's columns, in the mixin's order.
EVENT_COLUMNS: tuple[str, ...] = tuple(
    name for name, value in vars(EventColumns).items() if isinstance(value, MappedColumn)
)
# The figures: an incident publishes them by the casualty rule, not from one report.
CASUALTY_COLUMNS = ("killed", "injured", "civilians_killed")
# The rest, the event's facts: an incident takes them from its primary (earliest) report.
FACT_COLUMNS = tuple(c for c in EVENT_COLUMNS if c not in CASUALTY_COLUMNS)


def event_checks() -> tuple:
    return (
        CheckConstraint(known("time_precision", TimePrecision), name="time_precision_known"),
        CheckConstraint(known("location_match", LocationMatch), name="location_match_known"),
        CheckConstraint(known("violation_type", ViolationType), name="violation_type_known"),
        CheckConstraint(known("ceasefire_status", CeasefireStatus), name="ceasefire_status_known"),
        CheckConstraint(
            "killed >= 0 AND injured >= 0 AND civilians_killed >= 0", name="casualties_positive"
        ),
        CheckConstraint("location_match = 'province_only' OR geom IS NOT NULL", name="geom_given"),
    )


def recordset_type(column: Column) -> str:
    """The SQL type a column's value takes in a JSON recordset (``jsonb_to_recordset``):
    geometries travel as EWKT text, to be read with ``ST_GeomFromEWKT``."""
    kind = column.type
    if isinstance(kind, ARRAY):
        return f"{recordset_type(Column(kind.item_type))}[]"
    for sql_type, name in (
        (Geometry, "text"),
        (JSONB, "jsonb"),
        (Uuid, "uuid"),
        (DateTime, "timestamptz"),
        (Integer, "int"),
        (Float, "float8"),
        (String, "text"),
    ):
        if isinstance(kind, sql_type):
            if sql_type is DateTime and not kind.timezone:
                return "timestamp"
            return name
    raise TypeError(f"no recordset type for column {column.key} ({kind!r})")
