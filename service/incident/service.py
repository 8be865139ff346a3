"""Incidents consolidate their reports: facts from the first report, casualties as the
largest figure any report gives (several reports of one event must not add up), and the
number of reports.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable

from sqlalchemy import text
from sqlalchemy.orm import Session

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
