from __future__ import annotations

import base64
import binascii
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from starlette.responses import Response

from service.api import json_bytes_response, link_header, next_link
from service.audit import service
from service.audit.schemas import AuditPage
from service.auth.dependencies import Admin
from service.db import SessionDep
from service.errors import BadRequest
from service.incident.dependencies import MAX_PAGE_SIZE
from service.incident.query import CURSOR_PATTERN
from service.types import Timestamp

router = APIRouter(prefix="/v1", tags=["audit"])

_ERRORS: dict[int | str, dict[str, Any]] = {
    401: {"description": "Missing, unknown or revoked API key"},
    403: {"description": "Not an admin key"},
    429: {"description": "Rate limited (see Retry-After)"},
}
_CURSOR_PREFIX = b"audit:"


def _encode(before_id: int) -> str:
    return base64.urlsafe_b64encode(_CURSOR_PREFIX + str(before_id).encode()).decode().rstrip("=")


def _decode(token: str) -> int:
    try:
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
        if not raw.startswith(_CURSOR_PREFIX):
            raise ValueError("not an audit cursor")
        return int(raw[len(_CURSOR_PREFIX) :])
    except (ValueError, binascii.Error) as exc:
        raise BadRequest("cursor: not a cursor this service issued") from exc


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
    cursor: Annotated[
        str | None, Query(min_length=1, max_length=200, pattern=CURSOR_PATTERN)
    ] = None,
) -> Response:
    """The append-only audit trail, newest first: who changed what, when, before and after,
    and why."""
    events, before_id = service.list_events(
        session=session,
        filters=service.AuditFilters(
            entity_type=entity_type,
            entity_id=entity_id,
            action=action,
            actor=actor,
            since=since,
            until=until,
        ),
        before_id=_decode(cursor) if cursor is not None else None,
        limit=limit,
    )
    next_url = next_link(request, _encode(before_id) if before_id is not None else None)
    page = AuditPage.model_validate({"items": events, "next": next_url})
    return json_bytes_response(page.model_dump_json().encode(), headers=link_header(next_url))
