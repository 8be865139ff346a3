"""Incidents consolidate their reports: facts from the first report, casualties as the
largest figure any report gives (several reports of one event must not add up), and the
number of reports.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Iterable
from dataclasses import dataclass, replace
from typing import Any

from sqlalchemy import text
from sqlalchemy.orm import Session

from service.errors import NotFound
from service.geography.service import AreaNames
from service.incident.models import IncidentStatus
from service.incident.query import Cursor, EventFilters, after_cursor, where
from service.party.service import PartyDirectory

# The columns an incident takes from its primary (earliest) report.
FACT_COLUMNS = (
    "occurred_at",
    "time_precision",
    "geom",
    "geo_precision",
    "place_name",
    "province_pcode",
    "district_pcode",
    "location_match",
    "location_distance_km",
    "violation_type",
    "perpetrator_raw",
    "perpetrator_party_id",
    "target_raw",
    "target_party_id",
    "responsible_guarantors",
    "ceasefire_status",
)
_FACTS = ", ".join(FACT_COLUMNS)
_R_FACTS = ", ".join(f"r.{c}" for c in FACT_COLUMNS)

_OPEN_FROM_REPORTS = text(
    f"""
    INSERT INTO incidents (id, {_FACTS}, killed, injured, civilians_killed, report_count,
                           created_at, updated_at)
    SELECT r.incident_id, {_R_FACTS}, r.killed, r.injured, r.civilians_killed, 1,
           r.created_at, r.created_at
    FROM reports r
    WHERE r.id = ANY(:report_ids)
    """
)

_REFRESH = text(
    f"""
    UPDATE incidents i
    SET ({_FACTS}) = (
            SELECT {_R_FACTS} FROM reports r
            WHERE r.incident_id = i.id ORDER BY r.created_at, r.id LIMIT 1),
        killed = agg.killed, injured = agg.injured, civilians_killed = agg.civilians_killed,
        report_count = agg.n,
        updated_at = now()
    FROM (
        SELECT incident_id, count(*) AS n, max(killed) AS killed, max(injured) AS injured,
               max(civilians_killed) AS civilians_killed
        FROM reports WHERE incident_id = ANY(:ids) GROUP BY incident_id
    ) agg
    WHERE i.id = agg.incident_id
    """
)


def open_for_reports(session: Session, report_ids: Iterable[uuid.UUID]) -> None:
    """Open one new incident per report, with the id the report already points to."""
    ids = list(report_ids)
    if ids:
        session.execute(_OPEN_FROM_REPORTS, {"report_ids": ids})


def refresh(session: Session, incident_ids: Iterable[uuid.UUID]) -> None:
    """Recompute incidents' consolidated facts from their reports."""
    ids = sorted(set(incident_ids))
    if ids:
        session.execute(_REFRESH, {"ids": ids})


def resolve_targets(
    session: Session, incident_ids: Iterable[uuid.UUID]
) -> dict[uuid.UUID, uuid.UUID]:
    """Existing incident ids mapped to the incident a new report should join (a merged
    incident's survivor). Unknown ids are absent from the result."""
    ids = list(set(incident_ids))
    if not ids:
        return {}
    rows = session.execute(
        text(
            """
            WITH RECURSIVE chain AS (
                SELECT id AS asked, id, merged_into_id, 0 AS depth FROM incidents WHERE id = ANY(:ids)
                UNION ALL
                SELECT c.asked, i.id, i.merged_into_id, c.depth + 1
                FROM chain c JOIN incidents i ON i.id = c.merged_into_id
                WHERE c.depth < 20
            )
            SELECT asked, id FROM chain WHERE merged_into_id IS NULL
            """
        ),
        {"ids": ids},
    )
    return {row.asked: row.id for row in rows}


# ---- names in filters ----


@dataclass(frozen=True)
class FilterNames:
    """Filter values as stored: P-codes, a party id, a guarantor id."""

    provinces: tuple[str, ...] | None
    party: str | None
    guarantor: str | None


@dataclass(frozen=True)
class UnknownName:
    field: str
    message: str


def resolve_filter_names(
    *,
    session: Session,
    provinces: list[str] | None,
    party: str | None,
    guarantor: str | None,
) -> FilterNames | UnknownName:
    """Province names or P-codes, a party's id, name or alias, and a guarantor's id, resolved
    to what the tables hold. An unknown name is an error rather than an empty result."""
    pcodes = None
    if provinces:
        names = AreaNames.load(session)
        resolved = []
        for name in provinces:
            area = names.resolve(name)
            if area is None:
                return UnknownName("province", f"no province is known as {name!r}")
            resolved.append(area.pcode)
        pcodes = tuple(sorted(set(resolved)))
    party_id = None
    if party is not None:
        standing = PartyDirectory.load(session).resolve(party, dt.date.today())
        if standing is None:
            return UnknownName("party", f"no party is known as {party!r}")
        party_id = standing.id
    guarantor_id = None
    if guarantor is not None:
        guarantor_id = session.execute(
            text("SELECT id FROM guarantors WHERE id = upper(:id)"), {"id": guarantor}
        ).scalar()
        if guarantor_id is None:
            known = ", ".join(
                session.execute(text("SELECT id FROM guarantors ORDER BY id")).scalars()
            )
            return UnknownName("guarantor", f"no guarantor {guarantor!r}; one of {known}")
    return FilterNames(provinces=pcodes, party=party_id, guarantor=guarantor_id)


# ---- reading ----


def select_incidents(extra: str = "") -> str:
    return f"""
    SELECT i.id, i.status, i.merged_into_id, i.report_count, i.occurred_at, i.time_precision,
           ST_X(i.geom) AS lon, ST_Y(i.geom) AS lat, i.geo_precision, i.place_name,
           i.province_pcode, pa.name_en AS province_name,
           i.district_pcode, da.name_en AS district_name,
           i.location_match, i.location_distance_km, i.violation_type,
           i.perpetrator_raw, i.perpetrator_party_id, pp.name AS perpetrator_name,
           i.target_raw, i.target_party_id, tp.name AS target_name,
           i.responsible_guarantors, i.ceasefire_status,
           i.killed, i.injured, i.civilians_killed,
           i.review_note, i.reviewed_at, i.created_at, i.updated_at {extra}
    FROM incidents i
    JOIN admin_areas pa ON pa.pcode = i.province_pcode
    LEFT JOIN admin_areas da ON da.pcode = i.district_pcode
    LEFT JOIN parties pp ON pp.id = i.perpetrator_party_id
    LEFT JOIN parties tp ON tp.id = i.target_party_id
    """


def event_fields(row: Any) -> dict[str, Any]:
    """What reports and incidents both show: when, where, what, who, and the verdict, from a
    row carrying the event columns with ``lon``/``lat`` and the area and party names."""
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
        "casualties": {
            "killed": row.killed,
            "injured": row.injured,
            "civilians_killed": row.civilians_killed,
        },
    }


def incident_from_row(row: Any) -> dict[str, Any]:
    """The API's view of one incident row selected with ``select_incidents``."""
    incident = {
        "id": row.id,
        "status": row.status,
        "merged_into_id": row.merged_into_id,
        "report_count": row.report_count,
        **event_fields(row),
        "review_note": row.review_note,
        "reviewed_at": row.reviewed_at,
        "created_at": row.created_at,
        "updated_at": row.updated_at,
    }
    return incident


def list_incidents(
    *, session: Session, filters: EventFilters, cursor: Cursor | None, limit: int
) -> tuple[list[dict[str, Any]], Cursor | None]:
    """A page of incidents, latest occurrence first. Merged incidents are left out unless
    the status filter asks for them: their reports count in the survivor."""
    if filters.statuses is None:
        filters = replace(
            filters,
            statuses=tuple(s.value for s in IncidentStatus if s is not IncidentStatus.merged),
        )
    condition, params = where(filters, "i")
    after, after_params = after_cursor(cursor, "i", "occurred_at")
    rows = session.execute(
        text(
            select_incidents()
            + f" WHERE {condition} AND {after} ORDER BY i.occurred_at DESC, i.id DESC LIMIT :limit"
        ),
        {**params, **after_params, "limit": limit + 1},
    ).all()
    incidents = [incident_from_row(row) for row in rows[:limit]]
    following = None
    if len(rows) > limit:
        following = Cursor(incidents[-1]["occurred_at"], incidents[-1]["id"])
    return incidents, following


def get_incident(*, session: Session, incident_id: uuid.UUID) -> dict[str, Any]:
    """One incident with the ids of its reports, oldest first."""
    row = session.execute(
        text(
            select_incidents(
                ", ARRAY(SELECT r.id FROM reports r WHERE r.incident_id = i.id"
                " ORDER BY r.created_at, r.id) AS report_ids"
            )
            + " WHERE i.id = :id"
        ),
        {"id": incident_id},
    ).first()
    if row is None:
        raise NotFound(f"no incident {incident_id}")
    return {**incident_from_row(row), "report_ids": list(row.report_ids)}
