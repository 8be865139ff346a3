"""Splitting a wrongly linked report out of its incident, into an incident of its own."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import text
from sqlalchemy.orm import Session

from service.audit.service import Actor, record
from service.errors import Conflict, NotFound
from service.event.terms import IncidentStatus
from service.incident.service import get_incident, open_for_reports, refresh


def _figures(incident: dict[str, Any]) -> dict[str, Any]:
    return {
        "report_count": incident["report_count"],
        "casualties": incident["casualties"],
        "casualties_range": incident["casualties_range"],
        "confidence": incident["confidence"],
    }


def split(*, session: Session, report_id: uuid.UUID, note: str, actor: Actor) -> dict[str, Any]:
    """Move one report into a new incident of its own (a verifier's act). Both incidents
    are derived again by the casualty rule; audited on the report (``report.split``) and on
    the incident it left (``incident.split``), with before, after and the note. Refused
    (409) when the report is its incident's only report, when the incident is merged or
    rejected, or holds reports for review (decide those first). Does not commit."""
    row = session.execute(
        text(
            "SELECT r.incident_id, i.status, i.merged_into_id, i.report_count,"
            " p.incident_id IS NOT NULL AS pending"
            " FROM reports r JOIN incidents i ON i.id = r.incident_id"
            " LEFT JOIN incident_pending_reviews p ON p.incident_id = i.id"
            " WHERE r.id = :id FOR UPDATE OF r, i"
        ),
        {"id": report_id},
    ).first()
    if row is None:
        raise NotFound(f"no report {report_id}")
    old_id = row.incident_id
    if row.status == IncidentStatus.merged:
        raise Conflict(f"incident {old_id} was merged into {row.merged_into_id}")
    if row.status == IncidentStatus.rejected:
        raise Conflict(f"incident {old_id} was rejected: there is nothing to split it from")
    if row.pending:
        raise Conflict(
            f"incident {old_id} holds reports for review: accept or decline them first"
            " (POST /v1/incidents/{id}/review with accept_reports)"
        )
    if row.report_count <= 1:
        raise Conflict(
            f"report {report_id} is the only report of incident {old_id}: nothing to split"
        )
    before = get_incident(session=session, incident_id=old_id)
    new_id = uuid.uuid4()
    session.execute(
        text("UPDATE reports SET incident_id = :new WHERE id = :id"),
        {"new": new_id, "id": report_id},
    )
    open_for_reports(session, [report_id])
    refresh(session, [old_id, new_id], by_verifier=True)
    left = get_incident(session=session, incident_id=old_id)
    opened = get_incident(session=session, incident_id=new_id)
    record(
        session,
        actor=actor,
        action="report.split",
        entity_type="report",
        entity_id=str(report_id),
        before={"incident_id": str(old_id)},
        after={"incident_id": str(new_id)},
        reason=note,
    )
    record(
        session,
        actor=actor,
        action="incident.split",
        entity_type="incident",
        entity_id=str(old_id),
        before=_figures(before),
        after={**_figures(left), "report_id": str(report_id), "new_incident_id": str(new_id)},
        reason=note,
    )
    return {"report_id": report_id, "incident": opened, "from_incident": left}
