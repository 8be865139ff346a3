"""Keyset paging, the one cursor codec of every paged list.

A list pages in a fixed order (its ``Keyset``: columns, and how each value travels). The
cursor naming where a page ended is opaque to clients: URL-safe base64, unpadded, of a JSON
array of the last row's key values, e.g. ``["2017-01-10T09:30:00+00:00", "<uuid>"]``. A token
this service did not issue for that list (garbled, forged, of another list's shape, a date
out of range, a NUL) is refused alike on every list: 400 ``invalid-parameter``, naming
``cursor``. The lists document it with ``CURSOR_SCHEMA`` but do not let FastAPI validate it,
so that every refusal carries the same words.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import re
import uuid
from dataclasses import dataclass
from enum import StrEnum
from typing import Annotated, Any

import orjson
from fastapi import Depends, Query
from pydantic import WithJsonSchema
from sqlalchemy import FromClause, bindparam, true, tuple_
from sqlalchemy.sql.elements import ColumnElement

from service.errors import InvalidParameter
from service.types import day_in_range

# Cursors are URL-safe base64 without padding, and short.
CURSOR_PATTERN = r"^[A-Za-z0-9_-]+$"
CURSOR_MAX_LENGTH = 200
CURSOR_SCHEMA: dict[str, Any] = {
    "type": "string",
    "minLength": 1,
    "maxLength": CURSOR_MAX_LENGTH,
    "pattern": CURSOR_PATTERN,
}
CURSOR_DESCRIPTION = "From the previous page's `next` link (opaque)."
MAX_PAGE_SIZE = 1000
_TOKEN = re.compile(CURSOR_PATTERN)
_MAX_TEXT = 100  # a text key (a P-code) is far shorter
_BIGINT = 2**63 - 1
_REFUSAL = "not a cursor this service issued for this list"

Position = tuple[Any, ...]


class Kind(StrEnum):
    """How one key value travels in a cursor."""

    time = "time"  # an aware timestamp, RFC 3339 text
    uuid = "uuid"
    int = "int"  # a bigint serial
    text = "text"


def _refuse() -> InvalidParameter:
    return InvalidParameter("cursor", _REFUSAL)


def _dump(kind: Kind, value: Any) -> Any:
    if kind is Kind.time:
        return value.isoformat()
    if kind is Kind.uuid:
        return str(value)
    return value


def _load(kind: Kind, value: Any) -> Any:
    """One key value read back, or ValueError: anything this service would not have written."""
    if isinstance(value, bool):
        raise ValueError("a boolean")
    if kind is Kind.int:
        if not isinstance(value, int) or not -_BIGINT <= value <= _BIGINT:
            raise ValueError("not a bigint")
        return value
    if not isinstance(value, str) or not 0 < len(value) <= _MAX_TEXT or "\x00" in value:
        raise ValueError("not a short text without NUL")
    if kind is Kind.time:
        parsed = dt.datetime.fromisoformat(value)
        if parsed.tzinfo is None or not day_in_range(parsed):
            raise ValueError("naive or out of range")
        return parsed
    if kind is Kind.uuid:
        return uuid.UUID(value)
    return value


@dataclass(frozen=True)
class Keyset:
    """The order a list pages in: ``columns`` (the last one unique), each value's ``kinds``,
    newest (largest) first unless ``descending`` is false."""

    columns: tuple[str, ...]
    kinds: tuple[Kind, ...]
    descending: bool = True

    def __post_init__(self) -> None:
        if not self.columns or len(self.columns) != len(self.kinds):
            raise ValueError("a keyset names one kind per column")

    def encode(self, position: Position) -> str:
        """The cursor of the page following the row at ``position``."""
        raw = orjson.dumps([_dump(k, v) for k, v in zip(self.kinds, position, strict=True)])
        return base64.urlsafe_b64encode(raw).decode().rstrip("=")

    def decode(self, token: str | None) -> Position | None:
        """Where the previous page ended (None: the first page); any other token is refused
        with ``InvalidParameter``, the same on every list."""
        if token is None:
            return None
        try:
            if len(token) > CURSOR_MAX_LENGTH or not _TOKEN.fullmatch(token):
                raise ValueError("not unpadded URL-safe base64")
            values = orjson.loads(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))
            if not isinstance(values, list) or len(values) != len(self.kinds):
                raise ValueError("not this list's key")
            return tuple(_load(k, v) for k, v in zip(self.kinds, values, strict=True))
        except (ValueError, TypeError, OverflowError, binascii.Error) as exc:
            raise _refuse() from exc

    def after(self, position: Position | None, table: FromClause) -> ColumnElement[bool]:
        """The condition for the rows of ``table`` past ``position`` (``true`` on the first
        page): one row comparison, which a b-tree index on the columns serves."""
        if position is None:
            return true()
        columns = [table.c[name] for name in self.columns]
        values = [
            bindparam(f"page_k{i}", value, type_=column.type)
            for i, (column, value) in enumerate(zip(columns, position, strict=True))
        ]
        if self.descending:
            return tuple_(*columns) < tuple_(*values)
        return tuple_(*columns) > tuple_(*values)

    def order_by(self, table: FromClause) -> list[ColumnElement[Any]]:
        """The ORDER BY of ``table``'s rows in this keyset's order."""
        return [
            table.c[name].desc() if self.descending else table.c[name].asc()
            for name in self.columns
        ]


# The ``cursor`` query parameter as a route declares it: documented by ``CURSOR_SCHEMA``,
# validated by ``Keyset.decode`` only (FastAPI's own check would word its refusal otherwise).
CursorQuery = Annotated[
    Annotated[str, WithJsonSchema(CURSOR_SCHEMA)] | None, Query(description=CURSOR_DESCRIPTION)
]


LimitQuery = Annotated[
    int, Query(ge=1, le=MAX_PAGE_SIZE, description=f"Page size, 1-{MAX_PAGE_SIZE}.")
]


@dataclass(frozen=True)
class Page:
    limit: int
    cursor: Position | None


def paging_for(keyset: Keyset) -> Any:
    """A dependency reading ``limit`` and ``cursor`` for a list paging in ``keyset``."""

    def page(limit: LimitQuery = 100, cursor: CursorQuery = None) -> Page:
        return Page(limit=limit, cursor=keyset.decode(cursor))

    return Annotated[Page, Depends(page)]


@dataclass(frozen=True)
class OrderedPage(Page):
    order: StrEnum


def ordered_paging_for(orders: dict[Any, Keyset], default: StrEnum, description: str) -> Any:
    """A dependency reading ``order`` (one of ``orders``' keys, a ``StrEnum``), ``limit`` and
    ``cursor`` for a list that pages in the keyset of the order asked: a cursor issued for
    another order is refused like any cursor this list did not issue."""
    order_type = type(default)

    def page(
        order: Any = default, limit: LimitQuery = 100, cursor: CursorQuery = None
    ) -> OrderedPage:
        return OrderedPage(limit=limit, cursor=orders[order].decode(cursor), order=order)

    # The order's type is known only here: given as an object, not as the text this module's
    # annotations are (FastAPI could not resolve a local name from text).
    page.__annotations__["order"] = Annotated[order_type, Query(description=description)]
    return Annotated[OrderedPage, Depends(page)]
