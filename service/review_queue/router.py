from __future__ import annotations

from fastapi import APIRouter, Request
from starlette.responses import Response

from service.api import page_response
from service.auth.dependencies import KEY_ERRORS, Verifier
from service.db import SessionDep
from service.event.dependencies import EventFiltersDep
from service.event.paging import ordered_paging_for
from service.event.parameters import FILTER_PARAMS, filter_parameters
from service.review_queue import service
from service.review_queue.schemas import QueuePage

# Among the incidents' routes in the API document (operation id ``incidents-review_queue``).
router = APIRouter(prefix="/v1", tags=["incidents"])

QueuePaging = ordered_paging_for(
    service.QUEUE_ORDERS,
    service.QueueOrder.oldest,
    "`oldest`: by the time the event occurred, earliest first; `casualties`: killed plus"
    " injured, most first (ties: latest occurrence first).",
)


@router.get(
    "/review-queue",
    response_model=QueuePage,
    responses=KEY_ERRORS,
    openapi_extra={"parameters": filter_parameters(FILTER_PARAMS)},
)
def review_queue(
    principal: Verifier,
    session: SessionDep,
    filters: EventFiltersDep,
    paging: QueuePaging,
    request: Request,
) -> Response:
    """The verifiers' queue: incidents waiting for a verdict (`unverified`, and reviewed ones
    holding reports for review, `pending_review`), `oldest` first by the time they occurred
    (default) or by `casualties`. Each item: the incident, its ETag (for `If-Match`), its
    reports (reporter, sources and grades, figures, description) and its nearest candidates
    (duplicates to merge, with their points). Keyset pages: follow `next`."""
    items, following = service.review_queue(
        session=session,
        filters=filters,
        order=paging.order,
        cursor=paging.cursor,
        limit=paging.limit,
    )
    return page_response(request, QueuePage, items, following)
