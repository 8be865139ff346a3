from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request
from starlette.responses import Response

from service.api import page_response
from service.audit import service
from service.audit.schemas import AuditPage
from service.auth.dependencies import KEY_ERRORS, Admin
from service.db import SessionDep
from service.event.paging import MAX_PAGE_SIZE, CursorQuery
from service.types import Timestamp

router = APIRouter(prefix="/v1", tags=["audit"])

_ERRORS = {**KEY_ERRORS, 403: {"description": "Not an admin key"}}


Name = Annotated[str | None, Query(min_length=1, max_length=200)]


@router.get("/audit", response_model=AuditPage, responses=_ERRORS)
def list_audit_events(
    principal: Admin,
    session: SessionDep,
    request: Request,
    entity_type: Name = None,
    entity_id: Name = None,
    action: Name = None,
    actor: Annotated[
        str | None,
        Query(min_length=1, max_length=200, description='"console", "key:<name>" or a key id.'),
    ] = None,
    since: Annotated[Timestamp | None, Query(description="At or after.")] = None,
    until: Annotated[Timestamp | None, Query(description="Before.")] = None,
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE_SIZE)] = 100,
    cursor: CursorQuery = None,
) -> Response:
    """The append-only audit trail, newest first: who changed what, when, before and after,
    and why."""
    events, following = service.list_events(
        session=session,
        filters=service.AuditFilters(
            entity_type=entity_type,
            entity_id=entity_id,
            action=action,
            actor=actor,
            since=since,
            until=until,
        ),
        cursor=service.AUDIT_ORDER.decode(cursor),
        limit=limit,
    )
    return page_response(request, AuditPage, events, following)
