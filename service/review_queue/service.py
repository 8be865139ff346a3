"""The queue's SQL: the incidents waiting for a verifier, each with what a verdict needs.

An incident waits when it is ``unverified``, or when it holds corroborations for review
(``pending_review``: a verified or disputed incident that reports joined since a verifier
last decided). A page is read in three queries whatever its length: the incidents, then all
their reports, then all their candidates (``verification.candidates_of``).

Two orders, each paged by its own keyset (``service/event/paging.py``): ``oldest``, by the
time the event occurred (``occurred_at``, then id), earliest first; ``casualties``, killed
plus injured as published, most first (ties: latest occurrence first, then id).
"""

from __future__ import annotations

import uuid
from enum import StrEnum
from typing import Any

from sqlalchemy import BigInteger, Integer, Select, cast, or_, select
from sqlalchemy.orm import Session

from service.event.filters import EventFilters, bind, conditions
from service.event.paging import Keyset, Kind, Position
from service.event.statements import cached, shape, values
from service.event.terms import IncidentStatus
from service.incident.service import (
    INCIDENTS,
    PENDING,
    incident_etag,
    incident_from_row,
    select_incidents,
)
from service.incident.verification import candidates_of
from service.report.reads import reports_of_incidents

# Candidates shown beside each incident (the nearest; ``/candidates`` lists them all).
CANDIDATES_PER_ITEM = 5


class QueueOrder(StrEnum):
    oldest = "oldest"
    casualties = "casualties"


QUEUE_ORDERS = {
    QueueOrder.oldest: Keyset(("occurred_at", "id"), (Kind.time, Kind.uuid), descending=False),
    QueueOrder.casualties: Keyset(
        ("casualties", "occurred_at", "id"), (Kind.int, Kind.time, Kind.uuid)
    ),
}


def _waiting() -> Any:
    i = INCIDENTS
    return or_(
        i.c.status == IncidentStatus.unverified.value,
        # A pending review exists only for verified or disputed incidents (a merge or a
        # rejection removes it), never for a merged one.
        PENDING.c.incident_id.is_not(None),
    )


def review_queue(
    *,
    session: Session,
    filters: EventFilters,
    order: QueueOrder,
    cursor: Position | None,
    limit: int,
) -> tuple[list[dict[str, Any]], str | None]:
    """A page of the queue in ``order`` (items: ``incident``, ``etag``, ``reports``,
    ``candidates``) and the cursor of the next page (None at the end)."""
    keyset = QUEUE_ORDERS[order]
    i = INCIDENTS
    condition = conditions(filters, i)
    # The page's keys first, from incidents alone (their order needs no names), then the
    # page's rows with their names: the names are joined to one page, not to the queue.
    # The toll is a bigint, as a cursor's integer may be: a forged one compares, never
    # overflows.
    casualties = cast(i.c.killed + i.c.injured, BigInteger).label("casualties")
    keys = (
        select(i.c.id, i.c.occurred_at, casualties)
        .select_from(i.outerjoin(PENDING, PENDING.c.incident_id == i.c.id))
        .where(condition, _waiting())
        .subquery("k")
    )
    after = keyset.after(cursor, keys)

    def build() -> Select:
        page = (
            select(keys)
            .where(after)
            .order_by(*keyset.order_by(keys))
            .limit(bind("limit", type_=Integer))
            .subquery("page")
        )
        query = select_incidents(page.c.casualties).where(i.c.id == page.c.id)
        return query.order_by(*keyset.order_by(page))

    statement = cached(("incidents.queue", order.value, shape(condition, after)), build)
    rows = session.execute(statement, {**values(condition, after), "limit": limit + 1}).all()
    page = rows[:limit]
    ids: list[uuid.UUID] = [row.id for row in page]
    reports = reports_of_incidents(session=session, incident_ids=ids, with_reporter=True)
    candidates = candidates_of(session=session, incident_ids=ids, limit=CANDIDATES_PER_ITEM)
    items = [
        {
            "incident": incident_from_row(row),
            "etag": incident_etag(row),
            "reports": reports.get(row.id, []),
            "candidates": candidates[row.id],
        }
        for row in page
    ]
    following = None
    if len(rows) > limit:
        last = page[-1]
        following = keyset.encode(tuple(getattr(last, name) for name in keyset.columns))
    return items, following
