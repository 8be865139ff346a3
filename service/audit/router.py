from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request
from starlette.responses import Response

from service.api import page_response
from service.audit import service
from service.audit.schemas import AuditFilters, AuditPage
from service.auth.dependencies import KEY_ERRORS, Admin
from service.db import SessionDep
from service.event.paging import MAX_PAGE_SIZE, CursorQuery

router = APIRouter(prefix="/v1", tags=["audit"])

_ERRORS = {**KEY_ERRORS, 403: {"description": "Not an admin key"}}


@router.get("/audit", response_model=AuditPage, responses=_ERRORS)
def list_audit_events(
    principal: Admin,
    session: SessionDep,
    request: Request,
    filters: Annotated[AuditFilters, Query()],
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE_SIZE)] = 100,
    cursor: CursorQuery = None,
) -> Response:
    """The append-only audit trail, newest first: who changed what, when, before and after,
    and why."""
    events, following = service.list_events(
        session=session,
        filters=filters,
        cursor=service.AUDIT_ORDER.decode(cursor),
        limit=limit,
    )
    return page_response(request, AuditPage, events, following)
