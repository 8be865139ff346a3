"""Query parameters shared by every list of events: filters and keyset paging."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Query

from service.db import SessionDep
from service.errors import BadRequest, Invalid
from service.incident import service
from service.incident.models import CeasefireStatus, ViolationType
from service.incident.query import BBOX_PATTERN, CURSOR_PATTERN, BBox, Cursor, EventFilters
from service.types import Timestamp

MAX_PAGE_SIZE = 1000


def _invalid(field: str, message: str) -> Invalid:
    return Invalid(f"{field}: {message}", errors=[{"field": f"query.{field}", "message": message}])


def event_filters(
    session: SessionDep,
    province: Annotated[
        list[str] | None,
        Query(description="Governorate P-code or name (any known spelling); repeatable."),
    ] = None,
    violation_type: Annotated[list[ViolationType] | None, Query(description="Repeatable.")] = None,
    ceasefire_status: Annotated[
        list[CeasefireStatus] | None, Query(description="Repeatable.")
    ] = None,
    guarantor: Annotated[
        str | None,
        Query(min_length=3, max_length=3, description="A guarantor answering for it, e.g. RUS."),
    ] = None,
    party: Annotated[
        str | None,
        Query(min_length=1, max_length=300, description="Perpetrator or target: id or name."),
    ] = None,
    since: Annotated[Timestamp | None, Query(description="Occurred at or after.")] = None,
    until: Annotated[Timestamp | None, Query(description="Occurred before.")] = None,
    bbox: Annotated[
        str | None,
        Query(
            max_length=200,
            pattern=BBOX_PATTERN,
            description="minLon,minLat,maxLon,maxLat (WGS 84).",
        ),
    ] = None,
) -> EventFilters:
    if since is not None and until is not None and since >= until:
        raise _invalid("until", "must be later than since")
    box = None
    if bbox is not None:
        try:
            box = BBox.parse(bbox)
        except BadRequest as exc:
            raise _invalid("bbox", exc.detail.removeprefix("bbox: ")) from exc
    names = service.resolve_filter_names(
        session=session, provinces=province, party=party, guarantor=guarantor
    )
    if isinstance(names, service.UnknownName):
        raise _invalid(names.field, names.message)
    return EventFilters(
        provinces=names.provinces,
        violation_types=tuple(v.value for v in violation_type) if violation_type else None,
        ceasefire_statuses=tuple(c.value for c in ceasefire_status) if ceasefire_status else None,
        guarantor=names.guarantor,
        party=names.party,
        since=since,
        until=until,
        bbox=box,
    )


Filters = Annotated[EventFilters, Depends(event_filters)]


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
