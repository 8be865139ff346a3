"""Reading the event part of a report or an incident: the SQL that selects it and the
function that turns the row into ``EventRead``'s fields. Both follow ``EVENT_COLUMNS``."""

from __future__ import annotations

from typing import Any

from service.event.models import CASUALTY_COLUMNS, EVENT_COLUMNS


def event_select(alias: str) -> str:
    """The event's columns of the table aliased ``alias``, as ``event_fields`` reads them:
    the point as ``lon``/``lat``, with the area and party names ``event_joins`` brings."""
    columns = [
        f"ST_X({alias}.geom) AS lon, ST_Y({alias}.geom) AS lat"
        if column == "geom"
        else f"{alias}.{column}"
        for column in EVENT_COLUMNS
    ]
    names = "pa.name_en AS province_name, da.name_en AS district_name, "
    names += "pp.name AS perpetrator_name, tp.name AS target_name"
    return ", ".join(columns) + ", " + names


def event_joins(alias: str) -> str:
    """The joins ``event_select`` reads the area and party names from."""
    return f"""
    JOIN admin_areas pa ON pa.pcode = {alias}.province_pcode
    LEFT JOIN admin_areas da ON da.pcode = {alias}.district_pcode
    LEFT JOIN parties pp ON pp.id = {alias}.perpetrator_party_id
    LEFT JOIN parties tp ON tp.id = {alias}.target_party_id
    """


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
        "province": {"pcode": row.province_pcode, "name_en": row.province_name},
        "district": (
            {"pcode": row.district_pcode, "name_en": row.district_name}
            if row.district_pcode
            else None
        ),
        "location_match": row.location_match,
        "location_distance_km": row.location_distance_km,
        "violation_type": row.violation_type,
        "perpetrator": {
            "raw": row.perpetrator_raw,
            "party_id": row.perpetrator_party_id,
            "party_name": row.perpetrator_name,
        },
        "target": {
            "raw": row.target_raw,
            "party_id": row.target_party_id,
            "party_name": row.target_name,
        },
        "responsible_guarantors": list(row.responsible_guarantors),
        "ceasefire_status": row.ceasefire_status,
        "casualties": {column: getattr(row, column) for column in CASUALTY_COLUMNS},
    }
