"""Keyset paging shared by every list of events (their filters: ``service.event``)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Query

from service.incident.query import CURSOR_PATTERN, Cursor

MAX_PAGE_SIZE = 1000


@dataclass(frozen=True)
class Page:
    limit: int
    cursor: Cursor | None


def page(
    limit: Annotated[
        int, Query(ge=1, le=MAX_PAGE_SIZE, description=f"Page size, 1-{MAX_PAGE_SIZE}.")
    ] = 100,
    cursor: Annotated[
        str | None,
        Query(
            min_length=1,
            max_length=200,
            pattern=CURSOR_PATTERN,
            description="From the previous page's `next` link.",
        ),
    ] = None,
) -> Page:
    return Page(limit=limit, cursor=Cursor.decode(cursor) if cursor is not None else None)


Paging = Annotated[Page, Depends(page)]
