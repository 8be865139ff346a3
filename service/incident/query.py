"""Keyset paging shared by every list of events (reports, incidents, features)."""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import uuid
from dataclasses import dataclass
from typing import Any

import orjson

from service.errors import BadRequest
from service.types import day_in_range

# Cursors are URL-safe base64 without padding.
CURSOR_PATTERN = r"^[A-Za-z0-9_-]+$"


# ---- keyset paging: newest first by (sort timestamp, id) ----


@dataclass(frozen=True)
class Cursor:
    """Where the previous page ended. Opaque to clients (URL-safe base64 of JSON)."""

    at: dt.datetime
    id: uuid.UUID

    def encode(self) -> str:
        raw = orjson.dumps([self.at.isoformat(), str(self.id)])
        return base64.urlsafe_b64encode(raw).decode().rstrip("=")

    @classmethod
    def decode(cls, token: str) -> Cursor:
        try:
            raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
            at, ident = orjson.loads(raw)
            parsed = dt.datetime.fromisoformat(at)
            if parsed.tzinfo is None or not day_in_range(parsed):
                raise ValueError("naive or out of range")
            return cls(parsed, uuid.UUID(ident))
        except (ValueError, TypeError, binascii.Error, orjson.JSONDecodeError) as exc:
            raise BadRequest("cursor: not a cursor this service issued") from exc


def after_cursor(cursor: Cursor | None, alias: str, column: str) -> tuple[str, dict[str, Any]]:
    """The keyset condition for a page ordered by ``(column DESC, id DESC)``."""
    if cursor is None:
        return "true", {}
    return (
        f"({alias}.{column}, {alias}.id) < (:c_at, :c_id)",
        {"c_at": cursor.at, "c_id": cursor.id},
    )


@dataclass(frozen=True)
class IdCursor:
    """Where a page ordered by id alone ended: for views whose order must not reveal more
    than they show (the public sees days, so its pages cannot follow the exact time)."""

    id: uuid.UUID

    def encode(self) -> str:
        return base64.urlsafe_b64encode(self.id.bytes).decode().rstrip("=")

    @classmethod
    def decode(cls, token: str) -> IdCursor:
        try:
            raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
            return cls(uuid.UUID(bytes=raw))
        except (ValueError, TypeError, binascii.Error) as exc:
            raise BadRequest("cursor: not a cursor this service issued") from exc


def after_id(cursor: IdCursor | None, alias: str) -> tuple[str, dict[str, Any]]:
    """The keyset condition for a page ordered by ``id DESC``."""
    if cursor is None:
        return "true", {}
    return f"{alias}.id < :c_id", {"c_id": cursor.id}
