"""``GET /v1/changes``: incidents created, changed, merged or rejected since a cursor."""

from __future__ import annotations

from typing import Annotated, Any

import orjson
from fastapi import APIRouter, Query, Request
from pydantic import WithJsonSchema
from starlette.responses import Response

from service.api import StrictJSONRoute, json_bytes_response
from service.auth.dependencies import KEY_ERRORS, OptionalPrincipal
from service.changes import service
from service.changes.schemas import ChangesPage
from service.config import get_settings
from service.db import SessionDep
from service.event.paging import CURSOR_SCHEMA, LimitQuery
from service.incident.schemas import IncidentRead
from service.links import request_url
from service.maps.view import IncidentView
from service.theatre.terms import load_terms

router = APIRouter(prefix="/v1", tags=["changes"], route_class=StrictJSONRoute)

SinceQuery = Annotated[
    Annotated[str, WithJsonSchema(CURSOR_SCHEMA)] | None,
    Query(description="The `cursor` of the previous page (opaque); omitted: from the start."),
]


def _item(item: dict[str, Any]) -> dict[str, Any]:
    if "incident" in item:
        incident = IncidentRead.model_validate(item["incident"]).model_dump(mode="json")
        return {**item, "incident": incident}
    if "feature" in item:
        return {**item, "feature": orjson.Fragment(item["feature"])}
    return item


@router.get(
    "/changes",
    response_model=ChangesPage,
    responses={
        **KEY_ERRORS,
        400: {"description": "A `since` this feed did not issue"},
    },
)
def list_changes(
    principal: OptionalPrincipal,
    session: SessionDep,
    request: Request,
    since: SinceQuery = None,
    limit: LimitQuery = 100,
) -> Response:
    """Incidents created, changed, merged or rejected since `since`, in commit order: a
    change committed late is never skipped. Apply the items in order (an upsert replaces
    the incident, a tombstone removes it) and follow `next`; starting without `since`, the
    mirror ends as `/v1/incidents?status=unverified,verified,disputed` (with a monitor,
    verifier or admin key) or as `/collections/incidents/items` (the public: verified
    incidents only, as the public sees them)."""
    position = service.read_since(since)
    # Read on the primary, whatever the maps read from: a replica's snapshot horizon is
    # not the one the cursor's guarantee is stated for.
    view = IncidentView.for_principal(
        principal, cell=get_settings().public_cell_deg, timezone=load_terms(session).timezone
    )
    page = service.changes_page(session=session, view=view, since=position, limit=limit)
    links = [
        {"href": request_url(request), "rel": "self", "type": "application/json"},
        {
            "href": request_url(request, since=page.cursor),
            "rel": "next",
            "type": "application/json",
        },
    ]
    body = {
        "items": [_item(item) for item in page.items],
        "links": links,
        "cursor": page.cursor,
        "more": page.more,
    }
    next_url = links[1]["href"]
    return json_bytes_response(orjson.dumps(body), headers={"Link": f'<{next_url}>; rel="next"'})
