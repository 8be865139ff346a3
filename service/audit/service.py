"""Writing and reading the append-only audit trail."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

import orjson
from sqlalchemy import text
from sqlalchemy.orm import Session


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
) -> None:
    """One audit event per (entity id, before, after), in one statement."""
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
                "reason": reason,
            }
            for entity_id, before, after in events
        ],
    )
