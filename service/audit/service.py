"""Writing and reading the append-only audit trail."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

import orjson
from sqlalchemy import text
from sqlalchemy.orm import Session

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
    session.execute(
        text(
            "INSERT INTO audit_events (actor_key_id, actor, action, entity_type, entity_id,"
            " before, after, reason)"
            " VALUES (:actor_key_id, :actor, :action, :entity_type, :entity_id,"
            " CAST(:before AS jsonb), CAST(:after AS jsonb), :reason)"
        ),
        [
            {
                "actor_key_id": actor.key_id,
                "actor": actor.label,
                "action": action,
                "entity_type": entity_type,
                "entity_id": entity_id,
                "before": _json(before),
                "after": _json(after),
                "reason": reasons[i] if reasons is not None else reason,
            }
            for i, (entity_id, before, after) in enumerate(events)
        ],
    )


# Newest first, by the serial id.
AUDIT_ORDER = Keyset(("id",), (Kind.int,))


def list_events(
    *, session: Session, filters: AuditFilters, cursor: Position | None, limit: int
) -> tuple[list[dict[str, Any]], str | None]:
    """A page of audit events, newest first, and the next page's cursor (None at the end)."""
    conditions = ["true"]
    params: dict[str, Any] = {"limit": limit + 1}
    for column in ("entity_type", "entity_id", "action"):
        value = getattr(filters, column)
        if value is not None:
            conditions.append(f"{column} = :{column}")
            params[column] = value
    if filters.actor is not None:
        try:
            params["actor_key_id"] = uuid.UUID(filters.actor)
            conditions.append("actor_key_id = :actor_key_id")
        except ValueError:
            params["actor"] = filters.actor
            conditions.append("actor = :actor")
    if filters.since is not None:
        conditions.append("at >= :since")
        params["since"] = filters.since
    if filters.until is not None:
        conditions.append("at < :until")
        params["until"] = filters.until
    after, after_params = AUDIT_ORDER.after(cursor, "audit_events")
    conditions.append(after)
    params.update(after_params)
    rows = session.execute(
        text(
            "SELECT id, at, actor_key_id, actor, action, entity_type, entity_id, before, after,"
            f" reason FROM audit_events WHERE {' AND '.join(conditions)}"
            f" ORDER BY {AUDIT_ORDER.order_by('audit_events')} LIMIT :limit"
        ),
        params,
    ).all()
    events = [dict(row._mapping) for row in rows[:limit]]
    return events, (AUDIT_ORDER.encode((events[-1]["id"],)) if len(rows) > limit else None)
