"""Incidents consolidate their reports: facts from the first report, and casualties by one rule.

**The casualty rule** (``CASUALTY_RULE``, the only place it is written; refresh, merge and a
verifier's acceptance all use it). Several reports of one event must neither add up nor let
one reporter set the figure:

1. each reporter key counts once, with its latest report (by ``created_at``; reports of one
   key stored together, in one batch, tie: the lowest figures among them count): a key that
   files ten reports of 1,000,000 killed is one voice, not ten;
2. the published figure (*best*) of killed, injured and civilians killed is, for each, the
   **lower median** across keys (``percentile_disc(0.5)``: with two keys, the smaller figure);
3. the full view also shows the spread, ``casualties_range``: ``[low, high]`` per figure,
   the smallest and largest any key gives.

Since each key's civilians killed never exceed its killed, the medians keep that order too.

**Who changes published figures.** An *unverified* incident is refreshed whenever a report
joins it or is revised. An incident a verifier has reviewed (``verified`` or ``disputed``:
figures a verifier has put their name to, counted by the public statistics) is never changed
by a report: a new corroboration holds it for review (``incident_pending_reviews``: the
proposal the rule would publish, since when) and its published row stays as it was, untouched.
Only a verifier's acceptance (``review`` with ``accept_reports``) or a merge publishes again.

**Versions.** Every write to an incident sets its ``updated_at`` to the time of the write
(``clock_timestamp()``, not the transaction's start: two writes in one transaction differ
too), and a held corroboration sets its pending review's ``updated_at`` (the published row
stays untouched). The incident's strong ETag (``incident_etag``) is built from the id and
both, so it moves on every write a verifier could have missed: a review, a merge (both
incidents), a report joining or revised, an acceptance or a decline, an import's verdict.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from dataclasses import replace
from typing import Any

from sqlalchemy import Integer, Select, column, func, literal_column, select, table, text
from sqlalchemy.dialects.postgresql import JSONB, aggregate_order_by
from sqlalchemy.orm import Session
from sqlalchemy.sql.elements import ColumnElement

from service import caching
from service.errors import NotFound
from service.event.filters import EventFilters, bind, conditions
from service.event.models import FACT_COLUMNS
from service.event.paging import Keyset, Kind, Position
from service.event.reads import event_fields, event_joins, event_row
from service.event.statements import cached, shape, values
from service.event.terms import IncidentStatus
from service.incident.confidence import CONFIDENCE_RULE, SINGLE_REPORT, band_sql
from service.incident.models import Incident, IncidentPendingReview

_FACTS = ", ".join(FACT_COLUMNS)
_R_FACTS = ", ".join(f"r.{c}" for c in FACT_COLUMNS)

_OPEN_FROM_REPORTS = text(
    f"""
    INSERT INTO incidents (id, {_FACTS}, killed, injured, civilians_killed, report_count,
                           confidence, confidence_band, created_at, updated_at)
    SELECT r.incident_id, {_R_FACTS}, r.killed, r.injured, r.civilians_killed, 1,
           c.confidence, {band_sql("c.confidence")}, r.created_at, r.created_at
    FROM reports r CROSS JOIN LATERAL (SELECT {SINGLE_REPORT} AS confidence) c
    WHERE r.id = ANY(:report_ids)
    """
)

# The casualty rule (see the module docstring): CTEs ``wanted`` (the incidents bound as
# ``:ids``), ``their`` (their reports, looked up incident by incident through the index:
# ``OFFSET 0`` keeps the lookup a nested loop whatever the table's statistics say; with
# ``= ANY(:ids)`` a table not analysed since a bulk load was read whole per batch),
# ``latest`` (each key's latest report) and ``derived`` (per incident: report_count, best
# figures, casualties_range).
CASUALTY_RULE = """
    wanted AS (SELECT DISTINCT id FROM unnest(CAST(:ids AS uuid[])) AS u(id)),
    their AS MATERIALIZED (
        SELECT r.* FROM wanted w CROSS JOIN LATERAL (
            SELECT r.incident_id, r.reporter_key_id, r.created_at, r.id,
                   r.killed, r.injured, r.civilians_killed
            FROM reports r WHERE r.incident_id = w.id OFFSET 0
        ) r
    ),
    latest AS (
        SELECT DISTINCT ON (r.incident_id, r.reporter_key_id)
               r.incident_id, r.killed, r.injured, r.civilians_killed
        FROM their r
        ORDER BY r.incident_id, r.reporter_key_id, r.created_at DESC,
                 r.killed, r.injured, r.civilians_killed, r.id
    ),
    counted AS (
        SELECT incident_id, count(*) AS report_count FROM their GROUP BY incident_id
    ),
    derived AS (
        SELECT l.incident_id, c.report_count,
               percentile_disc(0.5) WITHIN GROUP (ORDER BY l.killed) AS killed,
               percentile_disc(0.5) WITHIN GROUP (ORDER BY l.injured) AS injured,
               percentile_disc(0.5) WITHIN GROUP (ORDER BY l.civilians_killed)
                   AS civilians_killed,
               jsonb_build_object(
                   'killed', jsonb_build_array(min(l.killed), max(l.killed)),
                   'injured', jsonb_build_array(min(l.injured), max(l.injured)),
                   'civilians_killed',
                   jsonb_build_array(min(l.civilians_killed), max(l.civilians_killed))
               ) AS casualties_range
        FROM latest l JOIN counted c USING (incident_id)
        GROUP BY l.incident_id, c.report_count
    )
"""

# Publish: facts from the first report, figures by the rule. ``:all`` false limits it to
# unverified incidents (a report's doing); true is a verifier's (acceptance, merge).
_PUBLISH = text(
    f"""
    WITH {CASUALTY_RULE}, {CONFIDENCE_RULE},
    published AS (
        UPDATE incidents i
        SET ({_FACTS}) = (
                SELECT {_R_FACTS} FROM reports r
                WHERE r.incident_id = i.id ORDER BY r.created_at, r.id LIMIT 1),
            killed = d.killed, injured = d.injured, civilians_killed = d.civilians_killed,
            casualties_range = d.casualties_range,
            report_count = d.report_count,
            confidence = cf.confidence, confidence_band = {band_sql("cf.confidence")},
            updated_at = clock_timestamp()
        FROM derived d JOIN confidence cf ON cf.incident_id = d.incident_id
        WHERE i.id = d.incident_id AND (CAST(:all AS boolean) OR i.status = 'unverified')
        RETURNING i.id
    )
    DELETE FROM incident_pending_reviews p USING published WHERE p.incident_id = published.id
    """
)

# Before publishing: the incidents' rows locked in one order (their ids), so two writers
# refreshing overlapping incidents queue instead of deadlocking (no global row serialises
# incident writers since migration 0120). NO KEY UPDATE: reports' foreign-key checks
# (KEY SHARE) on the same rows go on.
_LOCK_IN_ORDER = text(
    "SELECT id, status FROM incidents WHERE id = ANY(:ids) ORDER BY id FOR NO KEY UPDATE"
)

# Hold for review: reviewed incidents keep their published row; what the rule would publish
# waits for a verifier. Returns what is published and what is proposed.
_HOLD = text(
    f"""
    WITH {CASUALTY_RULE},
    held AS (
        INSERT INTO incident_pending_reviews AS p (incident_id, since, updated_at, proposed)
        SELECT d.incident_id, now(), clock_timestamp(),
               jsonb_build_object(
                   'report_count', d.report_count,
                   'casualties', jsonb_build_object(
                       'killed', d.killed, 'injured', d.injured,
                       'civilians_killed', d.civilians_killed),
                   'casualties_range', d.casualties_range)
        FROM derived d JOIN incidents i ON i.id = d.incident_id
        WHERE i.status IN ('verified', 'disputed')
        ORDER BY d.incident_id
        ON CONFLICT (incident_id) DO UPDATE
            SET proposed = excluded.proposed, updated_at = excluded.updated_at
        RETURNING p.incident_id, p.proposed
    )
    SELECT h.incident_id, h.proposed, i.report_count, i.killed, i.injured, i.civilians_killed
    FROM held h JOIN incidents i ON i.id = h.incident_id
    """
)

REVIEWED_STATUSES = (IncidentStatus.verified.value, IncidentStatus.disputed.value)


def open_for_reports(session: Session, report_ids: Iterable[uuid.UUID]) -> None:
    """Open one new incident per report, with the id the report already points to."""
    ids = list(report_ids)
    if ids:
        session.execute(_OPEN_FROM_REPORTS, {"report_ids": ids})


def refresh(
    session: Session, incident_ids: Iterable[uuid.UUID], *, by_verifier: bool = False
) -> dict[uuid.UUID, dict[str, Any]]:
    """Derive incidents' facts and figures again from their reports.

    Unverified incidents are published at once. Reviewed ones (verified, disputed) are
    published only ``by_verifier``; otherwise they are held for review, and the result maps
    each held incident to ``{"published": ..., "proposed": ...}`` for the audit trail."""
    ids = sorted(set(incident_ids))
    if not ids:
        return {}
    # Locked, their statuses cannot change before commit: each incident goes to the one
    # statement that concerns it, and a statement with none to concern is not sent.
    locked = session.execute(_LOCK_IN_ORDER, {"ids": ids}).all()
    if by_verifier:
        session.execute(_PUBLISH, {"ids": ids, "all": True})
        return {}
    unverified = [i for i, status in locked if status == IncidentStatus.unverified]
    reviewed = [i for i, status in locked if status in REVIEWED_STATUSES]
    if unverified:
        session.execute(_PUBLISH, {"ids": unverified, "all": False})
    if not reviewed:
        return {}
    return {
        row.incident_id: {
            "published": {
                "report_count": row.report_count,
                "casualties": {
                    "killed": row.killed,
                    "injured": row.injured,
                    "civilians_killed": row.civilians_killed,
                },
            },
            "proposed": row.proposed,
        }
        for row in session.execute(_HOLD, {"ids": reviewed})
    }


# ---- reading ----


INCIDENTS = Incident.__table__.alias("i")
PENDING = IncidentPendingReview.__table__.alias("pr")
# What incidents read of their reports (this package does not import the report package).
REPORTS = table(
    "reports",
    column("id"),
    column("incident_id"),
    column("created_at"),
    column("correlation", JSONB),
).alias("r")


# An incident's own columns around its event's (``event_row``).
_IDENTITY = ("id", "status", "merged_into_id", "report_count")
_REVIEW = (
    "review_note",
    "reviewed_at",
    "created_at",
    "updated_at",
    "casualties_range",
    "confidence",
    "confidence_band",
)


def select_incidents(*extra: ColumnElement[Any]) -> Select:
    """Incidents (``INCIDENTS``, aliased ``i``) as ``incident_from_row`` reads them, with
    any ``extra`` columns."""
    i, pr = INCIDENTS, PENDING
    return select(
        *event_row(i, _IDENTITY, _REVIEW),
        pr.c.incident_id.is_not(None).label("pending_review"),
        pr.c.since.label("pending_since"),
        pr.c.proposed,
        pr.c.updated_at.label("pending_updated_at"),
        *extra,
    ).select_from(event_joins(i, i.outerjoin(pr, pr.c.incident_id == i.c.id)))


def incident_from_row(row: Any) -> dict[str, Any]:
    """The full view of one incident row selected with ``select_incidents`` (monitors,
    verifiers and admins: the public view never shows the range or a pending review)."""
    incident = {
        "id": row.id,
        "status": row.status,
        "merged_into_id": row.merged_into_id,
        "report_count": row.report_count,
        **event_fields(row),
        "casualties_range": row.casualties_range,
        "confidence": row.confidence,
        "confidence_band": row.confidence_band,
        "pending_review": row.pending_review,
        "pending_since": row.pending_since,
        "proposed": row.proposed,
        "review_note": row.review_note,
        "reviewed_at": row.reviewed_at,
        "created_at": row.created_at,
        "updated_at": row.updated_at,
    }
    return incident


def etag_of(incident_id: Any, updated_at: Any, pending_updated_at: Any) -> str:
    """An incident's strong ETag: its id, its last write and its pending review's."""
    return caching.strong_etag("incident", incident_id, updated_at, pending_updated_at)


def incident_etag(row: Any) -> str:
    """The ETag of an incident row selected with ``select_incidents``."""
    return etag_of(row.id, row.updated_at, row.pending_updated_at)


_VERSION = text(
    """
    SELECT i.id, i.updated_at, pr.updated_at AS pending_updated_at
    FROM incidents i LEFT JOIN incident_pending_reviews pr ON pr.incident_id = i.id
    WHERE i.id = :id
    """
)


def current_etag(session: Session, incident_id: uuid.UUID) -> str | None:
    """The incident's ETag as this statement sees it (None: no such incident). Read under
    the incident's row lock, it is the version a conditional write is checked against."""
    row = session.execute(_VERSION, {"id": incident_id}).first()
    return None if row is None else incident_etag(row)


# Latest occurrence first, by (occurred_at, id).
INCIDENT_ORDER = Keyset(("occurred_at", "id"), (Kind.time, Kind.uuid))


def list_incidents(
    *,
    session: Session,
    filters: EventFilters,
    cursor: Position | None,
    limit: int,
    pending_review: bool | None = None,
) -> tuple[list[dict[str, Any]], str | None]:
    """A page of incidents, latest occurrence first. Merged incidents are left out unless
    the status filter asks for them: their reports count in the survivor. ``pending_review``
    true is the verifiers' queue: incidents holding corroborations for review."""
    if filters.statuses is None:
        filters = replace(
            filters,
            statuses=tuple(s.value for s in IncidentStatus if s is not IncidentStatus.merged),
        )
    condition = conditions(filters, INCIDENTS)
    after = INCIDENT_ORDER.after(cursor, INCIDENTS)

    def build() -> Select:
        query = select_incidents().where(condition, after)
        if pending_review is not None:
            pending = PENDING.c.incident_id
            query = query.where(pending.is_not(None) if pending_review else pending.is_(None))
        order = INCIDENT_ORDER.order_by(INCIDENTS)
        return query.order_by(*order).limit(bind("limit", type_=Integer))

    statement = cached(("incidents.list", pending_review, shape(condition, after)), build)
    rows = session.execute(statement, {**values(condition, after), "limit": limit + 1}).all()
    incidents = [incident_from_row(row) for row in rows[:limit]]
    following = None
    if len(rows) > limit:
        last = incidents[-1]
        following = INCIDENT_ORDER.encode((last["occurred_at"], last["id"]))
    return incidents, following


def get_incident(*, session: Session, incident_id: uuid.UUID) -> dict[str, Any]:
    """One incident with the ids of its reports, oldest first."""
    return read_incident(session=session, incident_id=incident_id)[0]


def read_incident(*, session: Session, incident_id: uuid.UUID) -> tuple[dict[str, Any], str]:
    """One incident with the ids of its reports, oldest first, and its ETag (one query)."""
    r = REPORTS
    report_ids = (
        select(r.c.id)
        .where(r.c.incident_id == INCIDENTS.c.id)
        .order_by(r.c.created_at, r.c.id)
        .scalar_subquery()
    )
    correlations = (
        select(
            func.coalesce(
                func.jsonb_agg(
                    aggregate_order_by(
                        func.jsonb_build_object("report_id", r.c.id, "c", r.c.correlation),
                        r.c.created_at,
                        r.c.id,
                    )
                ),
                literal_column("'[]'::jsonb"),
            )
        )
        .where(r.c.incident_id == INCIDENTS.c.id, r.c.correlation.is_not(None))
        .scalar_subquery()
    )
    row = session.execute(
        select_incidents(
            func.array(report_ids).label("report_ids"), correlations.label("correlations")
        ).where(INCIDENTS.c.id == bind("id", incident_id))
    ).first()
    if row is None:
        raise NotFound(f"no incident {incident_id}")
    detail = {
        **incident_from_row(row),
        "report_ids": list(row.report_ids),
        "correlations": [
            {
                "report_id": item["report_id"],
                "decision": item["c"]["decision"],
                "score": item["c"].get("score"),
                "factors": item["c"].get("factors"),
                "flags": item["c"].get("flags", []),
                "candidates": item["c"]["candidates"],
            }
            for item in row.correlations
        ],
    }
    return detail, incident_etag(row)
