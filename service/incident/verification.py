"""Verification: a verifier's review of an incident, merging duplicates, and finding them."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import Float, Uuid, any_, func, literal_column, select, text, true
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.orm import Session

from service.audit.service import Actor, record, record_many
from service.caching import IfMatch
from service.errors import Conflict, Invalid, NotFound, PreconditionFailed
from service.event.filters import bind
from service.event.terms import IncidentStatus
from service.incident import corroboration
from service.incident.models import Incident
from service.incident.service import (
    INCIDENTS,
    current_etag,
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
    return candidates_of(session=session, incident_ids=[incident_id], limit=limit)[incident_id]


def candidates_of(
    *, session: Session, incident_ids: list[uuid.UUID], limit: int
) -> dict[uuid.UUID, list[dict]]:
    """``candidates`` of several incidents in one query: for each id, at most ``limit``
    candidates, nearest first (then closest in time, then by id)."""
    if not incident_ids:
        return {}
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
        .where(source.c.id == any_(bind("ids", list(incident_ids), ARRAY(Uuid))))
        .cte("me")
    )
    km = literal_column("ST_Distance(i.geom::geography, me.geom::geography) / 1000", Float)
    distance = km.label("distance_km")
    hours_apart = literal_column("extract(epoch FROM i.occurred_at - me.occurred_at) / 3600").label(
        "hours_apart"
    )
    # For each incident, its nearest few (LATERAL: the time window is then a range of
    # ix_incidents_occurred_at_id per incident, whatever the number of incidents).
    nearest = (
        select_incidents(distance, hours_apart)
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
        .lateral("c")
    )
    query = (
        select(me.c.id.label("candidate_of"), nearest)
        .select_from(me.join(nearest, true()))
        .order_by(
            me.c.id,
            nearest.c.distance_km.nulls_last(),
            func.abs(nearest.c.hours_apart),
            nearest.c.id,
        )
    )
    # The window per incident is estimated at 1,000 rows (a range over an outer value), so a
    # page of 50 looks costly enough for JIT, whose compilation (~1 s) dwarfs the few ms of
    # work (as for the digests' windows).
    session.execute(text("SET LOCAL jit = off"))
    rows = session.execute(query).all()
    scores = _correlation_scores(session, incident_ids, [row.id for row in rows])
    found: dict[uuid.UUID, list[dict]] = {incident_id: [] for incident_id in incident_ids}
    for row in rows:
        scored = [
            scores[p]
            for p in ((row.candidate_of, row.id), (row.id, row.candidate_of))
            if p in scores
        ]
        found[row.candidate_of].append(
            {
                "incident": incident_from_row(row),
                "distance_km": row.distance_km,
                "hours_apart": float(row.hours_apart),
                "correlation_score": max(scored, default=None),
            }
        )
    return found


def _correlation_scores(
    session: Session, incident_ids: list[uuid.UUID], others: list[uuid.UUID]
) -> dict[tuple[uuid.UUID, uuid.UUID], float]:
    """The best score automatic correlation gave each pair (incident of a report, candidate
    scored for it) between ``incident_ids`` and ``others``, either way round, as stored with
    the reports (``correlation.candidates``) when they arrived. One query for a whole page."""
    if not others:
        return {}
    rows = session.execute(
        text(
            """
            SELECT r.incident_id AS scored, (c->>'incident_id')::uuid AS candidate,
                   max((c->>'score')::float8) AS score
            FROM reports r
            CROSS JOIN LATERAL jsonb_array_elements(r.correlation->'candidates') c
            WHERE r.correlation IS NOT NULL
              AND ((r.incident_id = ANY(:ids) AND (c->>'incident_id')::uuid = ANY(:others))
                   OR (r.incident_id = ANY(:others) AND (c->>'incident_id')::uuid = ANY(:ids)))
            GROUP BY 1, 2
            """
        ),
        {"ids": list(incident_ids), "others": others},
    )
    return {(row.scored, row.candidate): row.score for row in rows}


def review(
    *,
    session: Session,
    incident_id: uuid.UUID,
    status: str,
    note: str | None,
    actor: Actor,
    accept_reports: bool | None = None,
    if_match: IfMatch | None = None,
) -> dict[str, Any]:
    """A verifier's verdict on an incident. Does not commit.

    With ``if_match``, only if the incident is still the version the verifier read (checked
    under its row lock, so of two verdicts sent with one ETag one wins and the other gets
    ``PreconditionFailed``). A stale ETag is refused before the state it missed is: 412
    ("reload") rather than 409 ("merged") when the incident was merged since it was read;
    409 when the verifier read it merged.

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
    # A stale version is a 412 before any conflict its change caused (reload, then see it).
    check_precondition(session, incident_id, if_match)
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


def check_precondition(session: Session, incident_id: uuid.UUID, if_match: IfMatch | None) -> None:
    """Refuse (412) a conditional write to an incident that changed since the client read
    it. Call it holding the incident's row lock: the version is read by a statement of its
    own after the lock is taken, so it is the latest committed one, pending review included
    (reports joining lock the incident too)."""
    if if_match is None:
        return
    current = current_etag(session, incident_id)
    if current is not None and not if_match.any and not if_match.strong:
        raise PreconditionFailed(
            "If-Match names only weak entity tags (W/...), which never match a condition on a"
            " write (RFC 9110 13.1.1); send the incident's ETag as it was served. Nothing was"
            " changed."
        )
    if current is None or not if_match.holds(current):
        raise PreconditionFailed(
            f"incident {incident_id} has changed since you read it (If-Match does not name"
            " its current ETag): someone or something wrote to it meanwhile; this service"
            " does not say who or what. Nothing was changed: reload the incident, check it"
            " and send your decision again with the new ETag."
        )


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
                                   updated_at = clock_timestamp()
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
    if_match: IfMatch | None = None,
) -> dict[str, Any]:
    """Merge one incident into another (the survivor): its reports move, it becomes
    ``merged`` and points to the survivor, which is refreshed. With ``if_match``, only if
    the incident merged away is still the version the verifier read (checked under the
    locks, like ``review``). Does not commit."""
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
    check_precondition(session, incident_id, if_match)
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
        text(
            "UPDATE incidents SET merged_into_id = :into, updated_at = clock_timestamp()"
            " WHERE merged_into_id = :id"
        ),
        {"into": into_id, "id": incident_id},
    )
    session.execute(
        text(
            "UPDATE incidents SET status = 'merged', merged_into_id = :into, report_count = 0,"
            " updated_at = clock_timestamp() WHERE id = :id"
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
