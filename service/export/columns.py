"""The columns of an export, written once: the CSV's header and HXL hashtags, the
GeoPackage's attribute names and types, and the SQL each value is read with.

Names follow ACLED's export where it has the concept (``event_id_cnty`` is ``event_id``,
``event_type`` is the violation type, ``actor1`` the perpetrator, ``actor2`` the target,
``fatalities`` the killed), so analysts' scripts need few changes; the rest are this
service's own terms. Every value is read as text (or NULL) by PostgreSQL: the CSV writer
writes it as it comes, and SQLite's column affinity stores it as the column's type in a
GeoPackage (``INTEGER`` and ``REAL`` columns get numbers, ``DATE`` and ``DATETIME`` ISO 8601
text, as the GeoPackage standard asks).

The public sees the columns not marked ``full_only``: its incidents at the centre of their
public cell (``latitude``/``longitude``), on their local day (``event_date``), without the
exact time, the place as reported, raw actor names, the numeric confidence or review
details, as the OGC items show it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Float, FromClause, Numeric, Text, cast, func, literal_column
from sqlalchemy.sql.elements import ColumnElement

from service.event.reads import DISTRICT, PERPETRATOR, PROVINCE, TARGET
from service.maps.view import IncidentView

Expression = Callable[[IncidentView, FromClause], ColumnElement[Any]]

# GeoPackage attribute types (GeoPackage 1.3, table 1).
INTEGER, REAL, TEXT, DATE, DATETIME = "INTEGER", "REAL", "TEXT", "DATE", "DATETIME"
# Coordinates as the OGC items write them: 6 decimals (about 0.1 m).
DECIMALS = 6


@dataclass(frozen=True)
class ExportColumn:
    name: str
    hxl: str  # the HXL hashtag with its attributes
    kind: str  # the GeoPackage type
    value: Expression
    full_only: bool = False


def _text(expression: ColumnElement[Any]) -> ColumnElement[str]:
    return cast(expression, Text)


def _column(name: str) -> Expression:
    return lambda view, i: _text(i.c[name])


def _utc(name: str) -> Expression:
    """A timestamp as RFC 3339 UTC text, to the second (as the OGC items write it)."""
    return lambda view, i: func.to_char(
        i.c[name].op("AT TIME ZONE")(literal_column("'UTC'")),
        literal_column("""'YYYY-MM-DD"T"HH24:MI:SS"Z"'"""),
    )


def rounded(value: ColumnElement[Any]) -> ColumnElement[float]:
    """A coordinate to ``DECIMALS`` places, as a float (written as its shortest text)."""
    return cast(func.round(cast(value, Numeric), literal_column(str(DECIMALS))), Float)


def _coordinate(axis: str) -> Expression:
    st = func.ST_X if axis == "x" else func.ST_Y
    return lambda view, i: _text(rounded(st(view.geom(i))))


def _local_day(view: IncidentView, i: FromClause) -> ColumnElement[str]:
    return func.to_char(view.local_day(i), literal_column("'YYYY-MM-DD'"))


def _name(table: FromClause, column: str) -> Expression:
    return lambda view, i: table.c[column]


COLUMNS: tuple[ExportColumn, ...] = (
    ExportColumn("event_id", "#event+id", TEXT, _column("id")),
    ExportColumn("event_date", "#date+occurred", DATE, _local_day),
    ExportColumn("occurred_at", "#date+occurred+utc", DATETIME, _utc("occurred_at"), True),
    ExportColumn("time_precision", "#date+precision", TEXT, _column("time_precision")),
    ExportColumn("event_type", "#event+type", TEXT, _column("violation_type")),
    ExportColumn("actor1", "#group+perpetrator+name", TEXT, _name(PERPETRATOR, "name")),
    ExportColumn("actor1_id", "#group+perpetrator+code", TEXT, _column("perpetrator_party_id")),
    ExportColumn(
        "actor1_reported", "#group+perpetrator+reported", TEXT, _column("perpetrator_raw"), True
    ),
    ExportColumn("actor2", "#group+target+name", TEXT, _name(TARGET, "name")),
    ExportColumn("actor2_id", "#group+target+code", TEXT, _column("target_party_id")),
    ExportColumn("actor2_reported", "#group+target+reported", TEXT, _column("target_raw"), True),
    ExportColumn("admin1", "#adm1+name", TEXT, _name(PROVINCE, "name_en")),
    ExportColumn("admin1_pcode", "#adm1+code", TEXT, _column("province_pcode")),
    ExportColumn("admin2", "#adm2+name", TEXT, _name(DISTRICT, "name_en")),
    ExportColumn("admin2_pcode", "#adm2+code", TEXT, _column("district_pcode")),
    ExportColumn("location", "#loc+name", TEXT, _column("place_name"), True),
    ExportColumn("latitude", "#geo+lat", REAL, _coordinate("y")),
    ExportColumn("longitude", "#geo+lon", REAL, _coordinate("x")),
    ExportColumn("geo_precision", "#geo+precision", TEXT, _column("geo_precision"), True),
    ExportColumn("location_match", "#geo+match", TEXT, _column("location_match"), True),
    ExportColumn("fatalities", "#affected+killed", INTEGER, _column("killed")),
    ExportColumn("injured", "#affected+injured", INTEGER, _column("injured")),
    ExportColumn(
        "civilians_killed", "#affected+killed+civilians", INTEGER, _column("civilians_killed")
    ),
    ExportColumn("status", "#status+review", TEXT, _column("status")),
    ExportColumn("ceasefire_status", "#status+ceasefire", TEXT, _column("ceasefire_status")),
    ExportColumn(
        "guarantors",
        "#org+guarantor+code",
        TEXT,
        lambda view, i: func.array_to_string(i.c.responsible_guarantors, literal_column("';'")),
    ),
    ExportColumn("confidence", "#meta+confidence+num", REAL, _column("confidence"), True),
    ExportColumn("confidence_band", "#meta+confidence+band", TEXT, _column("confidence_band")),
    ExportColumn("report_count", "#meta+reports+num", INTEGER, _column("report_count")),
    ExportColumn("merged_into", "#event+id+merged", TEXT, _column("merged_into_id"), True),
    ExportColumn("created_at", "#date+created", DATETIME, _utc("created_at"), True),
    ExportColumn("updated_at", "#date+updated", DATETIME, _utc("updated_at"), True),
)


def columns_for(view: IncidentView) -> tuple[ExportColumn, ...]:
    """The columns this view shows, in the export's order."""
    return tuple(c for c in COLUMNS if not (view.public and c.full_only))
