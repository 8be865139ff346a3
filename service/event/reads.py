"""Reading the event part of a report or an incident: the SQL that selects it and the
function that turns the row into ``EventRead``'s fields. Both follow ``EVENT_COLUMNS``; the
SQL is Core, over the reports or incidents ``Table`` (or an alias of it)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Float, FromClause, func
from sqlalchemy.sql.elements import ColumnElement

from service.event.models import CASUALTY_COLUMNS, EVENT_COLUMNS
from service.geography.models import AdminArea
from service.party.models import Party

# The names an event is read with: its areas' and its parties'.
PROVINCE = AdminArea.__table__.alias("pa")
DISTRICT = AdminArea.__table__.alias("da")
PERPETRATOR = Party.__table__.alias("pp")
TARGET = Party.__table__.alias("tp")


def event_select(table: FromClause) -> list[ColumnElement[Any]]:
    """The event's columns of ``table`` (reports or incidents, or an alias), as
    ``event_fields`` reads them: the point as ``lon``/``lat``, with the area and party names
    ``event_joins`` brings."""
    columns: list[ColumnElement[Any]] = []
    for name in EVENT_COLUMNS:
        if name == "geom":
            columns += [
                func.ST_X(table.c.geom, type_=Float).label("lon"),
                func.ST_Y(table.c.geom, type_=Float).label("lat"),
            ]
        else:
            columns.append(table.c[name])
    return columns + [
        PROVINCE.c.name_en.label("province_name"),
        DISTRICT.c.name_en.label("district_name"),
        PERPETRATOR.c.name.label("perpetrator_name"),
        TARGET.c.name.label("target_name"),
    ]


def event_row(
    table: FromClause, before: tuple[str, ...], after: tuple[str, ...]
) -> list[ColumnElement[Any]]:
    """The columns ``before`` of ``table`` (its identity), the event's (``event_select``),
    then the columns ``after``: a report's or an incident's row."""
    return [
        *(table.c[name] for name in before),
        *event_select(table),
        *(table.c[name] for name in after),
    ]


def event_joins(table: FromClause, onto: FromClause | None = None) -> FromClause:
    """``onto`` (``table`` itself by default) joined to the names ``event_select`` reads."""
    return (
        (table if onto is None else onto)
        .join(PROVINCE, PROVINCE.c.pcode == table.c.province_pcode)
        .outerjoin(DISTRICT, DISTRICT.c.pcode == table.c.district_pcode)
        .outerjoin(PERPETRATOR, PERPETRATOR.c.id == table.c.perpetrator_party_id)
        .outerjoin(TARGET, TARGET.c.id == table.c.target_party_id)
    )


def event_fields(row: Any) -> dict[str, Any]:
    """What reports and incidents both show: when, where, what, who, and the verdict, from a
    row selected with ``event_select`` and ``event_joins``."""
    return {
        "occurred_at": row.occurred_at,
        "time_precision": row.time_precision,
        "location": (
            {"type": "Point", "coordinates": [row.lon, row.lat]} if row.lon is not None else None
        ),
        "geo_precision": row.geo_precision,
        "place_name": row.place_name,
        "province": _area(row.province_pcode, row.province_name),
        "district": _area(row.district_pcode, row.district_name) if row.district_pcode else None,
        "location_match": row.location_match,
        "location_distance_km": row.location_distance_km,
        "violation_type": row.violation_type,
        "perpetrator": _party(row.perpetrator_raw, row.perpetrator_party_id, row.perpetrator_name),
        "target": _party(row.target_raw, row.target_party_id, row.target_name),
        "responsible_guarantors": list(row.responsible_guarantors),
        "ceasefire_status": row.ceasefire_status,
        "casualties": {column: getattr(row, column) for column in CASUALTY_COLUMNS},
    }


def _area(pcode: str, name: str | None) -> dict[str, Any]:
    return {"pcode": pcode, "name_en": name}


def _party(raw: str | None, party_id: str | None, name: str | None) -> dict[str, Any]:
    """Who the report names (``raw``), and the party it was matched to."""
    return {"raw": raw, "party_id": party_id, "party_name": name}
