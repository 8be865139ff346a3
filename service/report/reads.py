"""Reading reports as the API shows them: one, some, or a page with filters."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import text
from sqlalchemy.orm import Session

from service.errors import NotFound
from service.event.filters import EventFilters, where
from service.event.paging import Keyset, Kind, Position
from service.event.reads import event_fields, event_joins, event_select

_READ = f"""
    SELECT r.id, r.incident_id, r.revision, r.client_report_id, {event_select("r")},
           r.description, r.sources, r.created_at, r.updated_at,
           r.reporter_key_id, k.name AS reporter_name
    FROM reports r
    {event_joins("r")}
    JOIN api_keys k ON k.id = r.reporter_key_id
"""


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
    rows = session.execute(text(_READ + " WHERE r.id = ANY(:ids)"), {"ids": ids})
    return [report_from_row(row, with_reporter=with_reporter) for row in rows]


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
    condition, params = where(filters, "r")
    after, after_params = REPORT_ORDER.after(cursor, "r")
    rows = session.execute(
        text(
            _READ
            + f" WHERE {condition} AND {after} ORDER BY {REPORT_ORDER.order_by('r')} LIMIT :limit"
        ),
        {**params, **after_params, "limit": limit + 1},
    ).all()
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
    row = session.execute(
        text(
            _READ
            + " WHERE r.id = :id AND (CAST(:reporter AS uuid) IS NULL OR r.reporter_key_id = :reporter)"
        ),
        {"id": report_id, "reporter": reporter_key_id},
    ).first()
    if row is None:
        raise NotFound(f"no report {report_id}")
    return report_from_row(row, with_reporter=with_reporter)
