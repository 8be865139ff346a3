"""Reading reports as the API shows them: one, some, or a page with filters."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import Integer, Select, Uuid, any_, select
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.orm import Session

from service.auth.models import ApiKey
from service.errors import NotFound
from service.event.filters import EventFilters, bind, conditions
from service.event.paging import Keyset, Kind, Position
from service.event.reads import event_fields, event_joins, event_row
from service.event.statements import cached, shape, values
from service.report.models import Report

REPORTS = Report.__table__.alias("r")
KEYS = ApiKey.__table__.alias("k")


# A report's own columns after its event's (``event_row``).
_AFTER = (
    "description",
    "sources",
    "correlation",
    "created_at",
    "updated_at",
    "reporter_key_id",
)


def _read() -> Select:
    """Reports (``REPORTS``, aliased ``r``) as ``report_from_row`` reads them."""
    r, k = REPORTS, KEYS
    return select(
        *event_row(r, ("id", "incident_id", "revision", "client_report_id"), _AFTER),
        k.c.name.label("reporter_name"),
    ).select_from(event_joins(r).join(k, k.c.id == r.c.reporter_key_id))


_READ = _read()


# What a reporter sees of the decision on its own report: the score, its factors and flags
# compare the report with other reporters' reports (the text factor is their descriptions'
# similarity, the distance factor the incident's exact distance), so a reporter probing with
# reports could read other reports' texts and, from three distances, the exact position.
_REPORTER_SEES = ("version", "threshold", "decision", "incident_id")


def _correlation(stored: dict[str, Any] | None, *, with_candidates: bool) -> Any:
    """What correlation decided: in full (score, factors, flags, the other incidents it
    weighed) for verifiers and admins (those who see reporters); the decision alone for
    the report's own reporter."""
    if stored is None or with_candidates:
        return stored
    return {k: stored[k] for k in _REPORTER_SEES if k in stored}


def report_from_row(row: Any, *, with_reporter: bool = False) -> dict[str, Any]:
    """The API's view of one report row selected with ``_READ``."""
    report = {
        "id": row.id,
        "incident_id": row.incident_id,
        "revision": row.revision,
        "client_report_id": row.client_report_id,
        **event_fields(row),
        "description": row.description,
        "sources": row.sources,
        "correlation": _correlation(row.correlation, with_candidates=with_reporter),
        "created_at": row.created_at,
        "updated_at": row.updated_at,
    }
    if with_reporter:
        report["reporter"] = {"key_id": row.reporter_key_id, "name": row.reporter_name}
    return report


def read_reports(
    *, session: Session, ids: list[uuid.UUID], with_reporter: bool = False
) -> list[dict[str, Any]]:
    if not ids:
        return []
    rows = session.execute(_READ.where(REPORTS.c.id == any_(bind("ids", ids, ARRAY(Uuid)))))
    return [report_from_row(row, with_reporter=with_reporter) for row in rows]


def reports_of_incidents(
    *, session: Session, incident_ids: list[uuid.UUID], with_reporter: bool = False
) -> dict[uuid.UUID, list[dict[str, Any]]]:
    """The reports of several incidents in one query: by incident, oldest first."""
    found: dict[uuid.UUID, list[dict[str, Any]]] = {}
    if not incident_ids:
        return found
    r = REPORTS
    rows = session.execute(
        _READ.where(r.c.incident_id == any_(bind("ids", incident_ids, ARRAY(Uuid)))).order_by(
            r.c.incident_id, r.c.created_at, r.c.id
        )
    )
    for row in rows:
        found.setdefault(row.incident_id, []).append(
            report_from_row(row, with_reporter=with_reporter)
        )
    return found


# Newest first by (created_at, id), which never change.
REPORT_ORDER = Keyset(("created_at", "id"), (Kind.time, Kind.uuid))


def list_reports(
    *,
    session: Session,
    filters: EventFilters,
    cursor: Position | None,
    limit: int,
    with_reporter: bool,
) -> tuple[list[dict[str, Any]], str | None]:
    """A page of reports, newest first, and the cursor of the next page (None at the end).

    Ordered by (created_at, id), which never change: paging visits every report once, and
    reports arriving meanwhile appear ahead of the first page, not inside the walk.
    """
    condition = conditions(filters, REPORTS)
    after = REPORT_ORDER.after(cursor, REPORTS)

    def build() -> Select:
        order = REPORT_ORDER.order_by(REPORTS)
        query = _READ.where(condition, after).order_by(*order)
        return query.limit(bind("limit", type_=Integer))

    statement = cached(("reports.list", shape(condition, after)), build)
    rows = session.execute(statement, {**values(condition, after), "limit": limit + 1}).all()
    reports = [report_from_row(row, with_reporter=with_reporter) for row in rows[:limit]]
    following = None
    if len(rows) > limit:
        last = reports[-1]
        following = REPORT_ORDER.encode((last["created_at"], last["id"]))
    return reports, following


def get_report(
    *,
    session: Session,
    report_id: uuid.UUID,
    reporter_key_id: uuid.UUID | None,
    with_reporter: bool,
) -> dict[str, Any]:
    """One report. With ``reporter_key_id``, only that reporter's own: another's is "not
    found", exactly like an id that does not exist."""
    query = _READ.where(REPORTS.c.id == bind("id", report_id))
    if reporter_key_id is not None:
        query = query.where(REPORTS.c.reporter_key_id == bind("reporter", reporter_key_id))
    row = session.execute(query).first()
    if row is None:
        raise NotFound(f"no report {report_id}")
    return report_from_row(row, with_reporter=with_reporter)
