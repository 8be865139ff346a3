"""The changes feed: what happened to incidents since a cursor, in commit order.

**Commit order.** Every statement writing incidents (or a held corroboration) logs one row
per incident in ``incident_changes`` with its transaction's id and a sequence number
(migration 0130's triggers). The feed pages in ``(xid, seq)`` order and reads only the rows
of transactions below the snapshot's xmin horizon (``pg_snapshot_xmin``): every transaction
below it has ended, and every transaction still running, or not started yet, has an xid at
or above it. So a row that becomes visible later always sorts after every row already
handed out, and a cursor never skips a transaction that committed late (the transactional
outbox's xmin rule). The price is latency, not loss: while a transaction is open, the feed
stops before it (the horizon is the cluster's: any long transaction holds it back).

A transaction also sees its own rows (``pg_current_xact_id_if_assigned``): a request of the
service never writes incidents in the transaction that reads the feed, so this only lets a
transaction read back what it wrote (tests that roll back).

**Items.** A page is at most ``limit`` log rows; each incident they name appears once, at
its last row's place, as it is *now*: the full view's upsert (``IncidentRead``, as
``/v1/incidents`` shows it), or the public's (the GeoJSON feature
``/collections/incidents/items`` shows), or a tombstone (merged, with the survivor; deleted;
on the public feed only, rejected and withdrawn: no longer verified). A rejected incident is
an upsert of the full view (its status says so), as ``/v1/incidents`` and the export list
it. A state newer than the page's
rows is harmless: its own row comes later and says the same again.

**Retention.** ``compact`` deletes rows superseded by a later row of the same incident below
the horizon (and at least as public): a client behind them reads the later row instead.
What stays is about one row per incident, tombstones included.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

from sqlalchemy import (
    ARRAY,
    BigInteger,
    Integer,
    Select,
    Uuid,
    any_,
    delete,
    exists,
    literal_column,
    or_,
    select,
    tuple_,
)
from sqlalchemy.orm import Session
from sqlalchemy.sql.elements import ColumnElement

from service.changes.models import IncidentChange
from service.errors import InvalidParameter
from service.event.filters import bind
from service.event.paging import Keyset, Kind, Position
from service.event.statements import cached
from service.event.terms import IncidentStatus
from service.incident.models import Incident
from service.incident.service import INCIDENTS, incident_from_row, select_incidents
from service.maps.view import IncidentView
from service.ogc.service import feature_sql

CHANGES = IncidentChange.__table__
CHANGES_ORDER = Keyset(("xid", "seq"), (Kind.int, Kind.int), descending=False)
_START: Position = (0, 0)

# Rows of ended transactions (and the reader's own).
_HORIZON = literal_column("pg_snapshot_xmin(pg_current_snapshot())::text::bigint", BigInteger)
_OWN = literal_column("pg_current_xact_id_if_assigned()::text::bigint", BigInteger)

MERGED, REJECTED, DELETED, WITHDRAWN = "merged", "rejected", "deleted", "withdrawn"


def read_since(token: str | None) -> Position | None:
    """The position a ``since`` token names (None: from the start), refused alike for any
    token this feed did not issue (400, naming ``since``)."""
    try:
        return CHANGES_ORDER.decode(token)
    except InvalidParameter as exc:
        raise InvalidParameter("since", "not a cursor this service issued for this feed") from exc


def _visible(c: Any) -> ColumnElement[bool]:
    return or_(c.xid < _HORIZON, c.xid == _OWN)


def _log_page(public: bool) -> Select:
    c = CHANGES.c
    query = select(c.xid, c.seq, c.incident_id).where(
        CHANGES_ORDER.after(_START, CHANGES), _visible(c)
    )
    if public:
        query = query.where(c.public)
    return query.order_by(*CHANGES_ORDER.order_by(CHANGES)).limit(bind("limit", type_=Integer))


def _ids() -> Any:
    return bind("ids", type_=ARRAY(Uuid))


def _full_items() -> Select:
    return select_incidents().where(INCIDENTS.c.id == any_(_ids()))


_SURVIVORS = Incident.__table__.alias("s")


def _public_items(view: IncidentView, many: bool) -> Select:
    i, s = INCIDENTS, _SURVIVORS
    return (
        select(
            i.c.id,
            i.c.status,
            i.c.merged_into_id,
            s.c.status.label("survivor_status"),
            literal_column(feature_sql(view, many=many)).label("feature"),
        )
        .select_from(i.outerjoin(s, s.c.id == i.c.merged_into_id))
        .where(i.c.id == any_(_ids()))
    )


@dataclass(frozen=True)
class ChangesPage:
    items: list[dict[str, Any]]  # upserts ({"id", "change", "incident" | "feature"}) and tombstones
    cursor: str  # where the next page starts (this page's end)
    more: bool  # more rows are readable now: follow ``next`` at once


def _tombstone(incident_id: uuid.UUID, change: str, merged_into: Any = None) -> dict[str, Any]:
    return {"id": incident_id, "change": change, "merged_into": merged_into}


def _full(row: Any) -> dict[str, Any]:
    # A rejected incident stays a record of the full view (``/v1/incidents`` and the
    # export list it, with its status): an upsert, so a mirror equals them.
    if row.status == IncidentStatus.merged:
        return _tombstone(row.id, MERGED, row.merged_into_id)
    return {"id": row.id, "change": "upsert", "incident": incident_from_row(row)}


def _public(row: Any) -> dict[str, Any]:
    if row.status == IncidentStatus.verified:
        return {"id": row.id, "change": "upsert", "feature": row.feature}
    if row.status == IncidentStatus.merged:
        # The survivor is named only if the public sees it.
        shown = row.survivor_status == IncidentStatus.verified
        return _tombstone(row.id, MERGED, row.merged_into_id if shown else None)
    if row.status == IncidentStatus.rejected:
        return _tombstone(row.id, REJECTED)
    return _tombstone(row.id, WITHDRAWN)


def changes_page(
    *, session: Session, view: IncidentView, since: Position | None, limit: int
) -> ChangesPage:
    """The changes after ``since`` this view may see, at most ``limit`` log rows' worth.
    Public: verified incidents only (and tombstones of those that were), as the public
    sees them; full: every incident as ``/v1/incidents`` shows it."""
    statement = cached(("changes.log", view.public), lambda: _log_page(view.public))
    start = since or _START
    rows = session.execute(
        statement, {"page_k0": start[0], "page_k1": start[1], "limit": limit + 1}
    ).all()
    more = len(rows) > limit
    rows = rows[:limit]
    # Each incident once, at its last row's place.
    last: dict[uuid.UUID, int] = {row.incident_id: n for n, row in enumerate(rows)}
    ids = sorted(last, key=last.__getitem__)
    found: dict[uuid.UUID, dict[str, Any]] = {}
    if ids:
        if view.public:
            many = len(ids) >= 20
            query = cached(("changes.public", view, many), lambda: _public_items(view, many))
            found = {row.id: _public(row) for row in session.execute(query, {"ids": ids})}
        else:
            query = cached(("changes.full",), _full_items)
            found = {row.id: _full(row) for row in session.execute(query, {"ids": ids})}
    items = [found.get(i) or _tombstone(i, DELETED) for i in ids]
    end = (rows[-1].xid, rows[-1].seq) if rows else start
    return ChangesPage(items=items, cursor=CHANGES_ORDER.encode(end), more=more)


def compact(*, session: Session, batch: int = 10_000) -> int:
    """Delete up to ``batch`` log rows superseded by a later row of the same incident below
    the horizon that the public feed carries if this one does; how many were deleted."""
    c, later = CHANGES.alias("c"), CHANGES.alias("l")
    superseded = exists().where(
        later.c.incident_id == c.c.incident_id,
        tuple_(later.c.xid, later.c.seq) > tuple_(c.c.xid, c.c.seq),
        later.c.xid < _HORIZON,
        or_(later.c.public, ~c.c.public),
    )
    target = CHANGES.c
    result = session.execute(
        delete(CHANGES).where(
            tuple_(target.xid, target.seq).in_(
                select(c.c.xid, c.c.seq).where(c.c.xid < _HORIZON, superseded).limit(batch)
            )
        )
    )
    return result.rowcount
