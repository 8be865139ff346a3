"""Verification: a verifier's review of an incident, merging duplicates, and finding them."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import Float, func, literal_column, select, text
from sqlalchemy.orm import Session

from service.audit.service import Actor, record, record_many
from service.errors import Conflict, Invalid, NotFound
from service.event.filters import bind
from service.event.terms import IncidentStatus
from service.incident import corroboration
from service.incident.models import Incident
from service.incident.service import (
    INCIDENTS,
    get_incident,
    incident_from_row,
    refresh,
    select_incidents,
)


def candidates(*, session: Session, incident_id: uuid.UUID, limit: int = 50) -> list[dict]:
    """Likely duplicates: unmerged incidents a report of this one could corroborate (the
    rule of ``corroboration``: same type family, within the configured distance and time,
    the same province when either has no point), nearest first."""
    get_incident(session=session, incident_id=incident_id)
    i = INCIDENTS
    source = Incident.__table__
    me = (
        select(
            source.c.id,
            source.c.geom,
            source.c.occurred_at,
            source.c.violation_type,
            source.c.province_pcode,
        )
        .where(source.c.id == bind("id", incident_id))
        .cte("me")
    )
    distance = literal_column(
        "ST_Distance(i.geom::geography, me.geom::geography) / 1000", Float
    ).label("distance_km")
    hours_apart = literal_column("extract(epoch FROM i.occurred_at - me.occurred_at) / 3600").label(
        "hours_apart"
    )
    query = (
        select_incidents(distance, hours_apart)
        .add_cte(me)
        .select_from(me)
        .where(
            i.c.id != me.c.id,
            i.c.status != IncidentStatus.merged.value,
            text(corroboration.plausible_sql("i", "me")).bindparams(**corroboration.bounds()),
        )
        .order_by(
            distance.nulls_last(),
            func.abs(literal_column("extract(epoch FROM i.occurred_at - me.occurred_at)")),
            i.c.id,
        )
        .limit(bind("limit", limit))
    )
    rows = session.execute(query).all()
    scores = _correlation_scores(session, incident_id, [row.id for row in rows])
    return [
        {
            "incident": incident_from_row(row),
            "distance_km": row.distance_km,
            "hours_apart": float(row.hours_apart),
            "correlation_score": scores.get(row.id),
        }
        for row in rows
    ]


def _correlation_scores(
    session: Session, incident_id: uuid.UUID, others: list[uuid.UUID]
) -> dict[uuid.UUID, float]:
    """The best score automatic correlation gave each pair (this incident, another), when a
    report of either arrived (stored with the report: ``correlation.candidates``)."""
    if not others:
        return {}
    rows = session.execute(
        text(
            """
            SELECT CASE WHEN r.incident_id = :id THEN (c->>'incident_id')::uuid
                        ELSE r.incident_id END AS other,
                   max((c->>'score')::float8) AS score
            FROM reports r
            CROSS JOIN LATERAL jsonb_array_elements(r.correlation->'candidates') c
            WHERE r.correlation IS NOT NULL
              AND ((r.incident_id = :id AND (c->>'incident_id')::uuid = ANY(:others))
                   OR (r.incident_id = ANY(:others) AND (c->>'incident_id')::uuid = :id))
            GROUP BY 1
            """
        ),
        {"id": incident_id, "others": others},
    )
    return {row.other: row.score for row in rows}


def review(
    *,
    session: Session,
    incident_id: uuid.UUID,
    status: str,
    note: str | None,
    actor: Actor,
    accept_reports: bool | None = None,
) -> dict[str, Any]:
    """A verifier's verdict on an incident. Does not commit.

    ``accept_reports`` true derives the incident again from all its reports (facts, and
    figures by the casualty rule) and publishes that, clearing a pending review; false
    declines the pending corroborations (the published figures stay; the reports stay linked
    and count if figures are ever accepted later); None leaves figures and any pending review
    as they are. Either decision is audited with the figures before and after."""
    row = session.execute(
        text("SELECT status, merged_into_id FROM incidents WHERE id = :id FOR UPDATE"),
        {"id": incident_id},
    ).first()
    if row is None:
        raise NotFound(f"no incident {incident_id}")
    if row.status == IncidentStatus.merged:
        raise Conflict(
            f"incident {incident_id} was merged into {row.merged_into_id}: review that one"
        )
    record_verdicts(session, incident_ids=[incident_id], status=status, note=note, actor=actor)
    if accept_reports is not None:
        _decide_reports(
            session, incident_id=incident_id, accept=accept_reports, actor=actor, note=note
        )
    return get_incident(session=session, incident_id=incident_id)


def record_verdicts(
    session: Session,
    *,
    incident_ids: list[uuid.UUID],
    status: str,
    note: str | None,
    actor: Actor,
    only_unverified: bool = False,
) -> list[uuid.UUID]:
    """The one way a verdict is written: the incidents' status and review note set, and an
    ``incident.reviewed`` audit event for each (before and after), in two statements
    whatever the number of incidents. Merged incidents are left alone; with
    ``only_unverified``, so is every incident someone has already reviewed (an import
    vouching for its events never overrides a verifier). Returns the incidents changed, in
    id order. Does not commit."""
    if not incident_ids:
        return []
    rows = session.execute(
        text(
            """
            WITH target AS (
                SELECT id, status, review_note FROM incidents
                WHERE id = ANY(:ids) AND status <> 'merged'
                  AND (NOT :only_unverified OR status = 'unverified')
                ORDER BY id FOR UPDATE
            )
            UPDATE incidents i SET status = :status, review_note = :note, reviewed_at = now(),
                                   updated_at = now()
            FROM target t WHERE i.id = t.id
            RETURNING i.id, t.status AS before_status, t.review_note AS before_note
            """
        ),
        {
            "ids": list(dict.fromkeys(incident_ids)),
            "only_unverified": only_unverified,
            "status": status,
            "note": note,
        },
    ).all()
    rows.sort(key=lambda r: r.id)
    record_many(
        session,
        actor=actor,
        action="incident.reviewed",
        entity_type="incident",
        events=[
            (
                str(r.id),
                {"status": r.before_status, "review_note": r.before_note},
                {"status": status, "review_note": note},
            )
            for r in rows
        ],
        reason=note,
    )
    return [r.id for r in rows]


def _figures(incident: dict[str, Any]) -> dict[str, Any]:
    return {
        "report_count": incident["report_count"],
        "casualties": incident["casualties"],
        "casualties_range": incident["casualties_range"],
    }


def _decide_reports(
    session: Session, *, incident_id: uuid.UUID, accept: bool, actor: Actor, note: str | None
) -> None:
    before = get_incident(session=session, incident_id=incident_id)
    if accept:
        refresh(session, [incident_id], by_verifier=True)
        after = get_incident(session=session, incident_id=incident_id)
        action, published_after = "incident.corroboration_accepted", _figures(after)
    else:
        session.execute(
            text("DELETE FROM incident_pending_reviews WHERE incident_id = :id"),
            {"id": incident_id},
        )
        action, published_after = "incident.corroboration_declined", _figures(before)
    record(
        session,
        actor=actor,
        action=action,
        entity_type="incident",
        entity_id=str(incident_id),
        before={**_figures(before), "proposed": before["proposed"]},
        after=published_after,
        reason=note,
    )


def merge(
    *,
    session: Session,
    incident_id: uuid.UUID,
    into_id: uuid.UUID,
    note: str | None,
    actor: Actor,
) -> dict[str, Any]:
    """Merge one incident into another (the survivor): its reports move, it becomes
    ``merged`` and points to the survivor, which is refreshed. Does not commit."""
    if incident_id == into_id:
        raise Invalid(
            "an incident cannot be merged into itself",
            errors=[{"field": "body.into", "message": "the same incident"}],
        )
    # Both rows locked in id order, so two merges of the same pair cannot deadlock.
    locked = {
        row.id: row
        for row in session.execute(
            text(
                "SELECT id, status, merged_into_id, report_count, killed, injured,"
                " civilians_killed FROM incidents WHERE id = ANY(:ids) ORDER BY id FOR UPDATE"
            ),
            {"ids": [incident_id, into_id]},
        )
    }
    victim, survivor = locked.get(incident_id), locked.get(into_id)
    if victim is None:
        raise NotFound(f"no incident {incident_id}")
    if survivor is None:
        raise Invalid(
            f"into: no incident {into_id}",
            errors=[{"field": "body.into", "message": f"no incident {into_id}"}],
        )
    if victim.status == IncidentStatus.merged:
        raise Conflict(f"incident {incident_id} was already merged into {victim.merged_into_id}")
    if survivor.status == IncidentStatus.merged:
        raise Conflict(
            f"incident {into_id} was itself merged into {survivor.merged_into_id}: merge into"
            " that one"
        )
    moved = list(
        session.execute(
            text("UPDATE reports SET incident_id = :into WHERE incident_id = :id RETURNING id"),
            {"into": into_id, "id": incident_id},
        ).scalars()
    )
    # Incidents merged earlier into this one now point straight at the survivor: no chains,
    # and no cycle can form because the survivor is never a merged incident.
    session.execute(
        text("UPDATE incidents SET merged_into_id = :into WHERE merged_into_id = :id"),
        {"into": into_id, "id": incident_id},
    )
    session.execute(
        text(
            "UPDATE incidents SET status = 'merged', merged_into_id = :into, report_count = 0,"
            " updated_at = now() WHERE id = :id"
        ),
        {"into": into_id, "id": incident_id},
    )
    # A merge is a verifier's act: the survivor is published again by the casualty rule
    # (clearing any pending review), and the victim's pending review goes with it.
    session.execute(
        text("DELETE FROM incident_pending_reviews WHERE incident_id = :id"), {"id": incident_id}
    )
    refresh(session, [into_id], by_verifier=True)
    merged = get_incident(session=session, incident_id=into_id)
    record(
        session,
        actor=actor,
        action="incident.merged",
        entity_type="incident",
        entity_id=str(incident_id),
        before={"status": victim.status, "merged_into_id": None},
        after={
            "status": IncidentStatus.merged.value,
            "merged_into_id": str(into_id),
            "moved_report_ids": [str(r) for r in moved],
        },
        reason=note,
    )
    record(
        session,
        actor=actor,
        action="incident.absorbed",
        entity_type="incident",
        entity_id=str(into_id),
        before={
            "report_count": survivor.report_count,
            "casualties": _casualties(survivor),
        },
        after={
            "report_count": merged["report_count"],
            "casualties": merged["casualties"],
            "absorbed": str(incident_id),
        },
        reason=note,
    )
    return merged


def _casualties(row: Any) -> dict[str, int]:
    return {"killed": row.killed, "injured": row.injured, "civilians_killed": row.civilians_killed}
