"""Writing and reading the append-only audit trail."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

import orjson
from sqlalchemy import select, text
from sqlalchemy.orm import Session

from service.audit.models import AuditEvent
from service.audit.schemas import AuditFilters
from service.event.paging import Keyset, Kind, Position


@dataclass(frozen=True)
class Actor:
    """Who changed something: an API key, or the operator at the console (key_id None)."""

    key_id: uuid.UUID | None
    label: str


CONSOLE = Actor(key_id=None, label="console")


def _json(value: Any) -> str | None:
    return None if value is None else orjson.dumps(value, default=str).decode()


def record(
    session: Session,
    *,
    actor: Actor,
    action: str,
    entity_type: str,
    entity_id: str,
    before: Any = None,
    after: Any = None,
    reason: str | None = None,
) -> None:
    record_many(
        session,
        actor=actor,
        action=action,
        entity_type=entity_type,
        events=[(entity_id, before, after)],
        reason=reason,
    )


def record_many(
    session: Session,
    *,
    actor: Actor,
    action: str,
    entity_type: str,
    events: list[tuple[str, Any, Any]],
    reason: str | None = None,
    reasons: list[str | None] | None = None,
) -> None:
    """One audit event per (entity id, before, after), in one statement; ``reasons`` gives
    each event its own reason instead of the shared ``reason``."""
    if not events:
        return
    # One statement whatever the count, the events as one JSON document (a text array of
    # JSON would be escaped character by character in Python): a batch's 500 events cost
    # the server one insert, not 500 executions.
    rows = [
        {
            "n": n,
            "entity_id": entity_id,
            "before": before,
            "after": after,
            "reason": reasons[n] if reasons is not None else reason,
        }
        for n, (entity_id, before, after) in enumerate(events)
    ]
    session.execute(
        _INSERT_MANY,
        {
            "actor_key_id": actor.key_id,
            "actor": actor.label,
            "action": action,
            "entity_type": entity_type,
            "events": _json(rows),
        },
    )


_INSERT_MANY = text(
    "INSERT INTO audit_events (actor_key_id, actor, action, entity_type, entity_id,"
    " before, after, reason)"
    " SELECT CAST(:actor_key_id AS uuid), :actor, :action, :entity_type, e.entity_id,"
    " e.before, e.after, e.reason"
    " FROM jsonb_to_recordset(CAST(:events AS jsonb))"
    " AS e(n int, entity_id text, before jsonb, after jsonb, reason text)"
    " ORDER BY e.n"
)


def _equal(filters: AuditFilters) -> list[tuple[str, str]]:
    """The filters that name a column's exact value."""
    wanted = ("entity_type", "entity_id", "action")
    return [(c, getattr(filters, c)) for c in wanted if getattr(filters, c) is not None]


_LISTED = (
    "id",
    "at",
    "actor_key_id",
    "actor",
    "action",
    "entity_type",
    "entity_id",
    "before",
    "after",
    "reason",
)
# Newest first, by the serial id.
AUDIT_ORDER = Keyset(("id",), (Kind.int,))


def list_events(
    *, session: Session, filters: AuditFilters, cursor: Position | None, limit: int
) -> tuple[list[dict[str, Any]], str | None]:
    """A page of audit events, newest first, and the next page's cursor (None at the end)."""
    e = AuditEvent.__table__
    found = [e.c[column] == value for column, value in _equal(filters)]
    if filters.actor is not None:
        try:
            found.append(e.c.actor_key_id == uuid.UUID(filters.actor))
        except ValueError:
            found.append(e.c.actor == filters.actor)
    if filters.since is not None:
        found.append(e.c.at >= filters.since)
    if filters.until is not None:
        found.append(e.c.at < filters.until)
    rows = session.execute(
        select(*(e.c[name] for name in _LISTED))
        .where(*found, AUDIT_ORDER.after(cursor, e))
        .order_by(*AUDIT_ORDER.order_by(e))
        .limit(limit + 1)
    ).all()
    events = [dict(row._mapping) for row in rows[:limit]]
    return events, (AUDIT_ORDER.encode((events[-1]["id"],)) if len(rows) > limit else None)
