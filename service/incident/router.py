from __future__ import annotations

import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from starlette.responses import Response

from service.api import StrictJSONRoute, committing, page_response
from service.auth.dependencies import KEY_ERRORS, Reader, Verifier
from service.db import SessionDep
from service.event.dependencies import IncidentFiltersDep
from service.event.paging import paging_for
from service.event.parameters import FILTER_PARAMS, INCIDENT_PARAMS, filter_parameters
from service.incident import service, verification
from service.incident.schemas import (
    IncidentCandidate,
    IncidentDetail,
    IncidentMerge,
    IncidentPage,
    IncidentReview,
)

router = APIRouter(prefix="/v1", tags=["incidents"], route_class=StrictJSONRoute)

_WRITE_ERRORS: dict[int | str, dict[str, Any]] = {
    **KEY_ERRORS,
    409: {"description": "Not possible in the incident's current state"},
    413: {"description": "Body over the size limit"},
    415: {"description": "The body is not JSON"},
}

Paging = paging_for(service.INCIDENT_ORDER)


@router.get(
    "/incidents",
    response_model=IncidentPage,
    responses=KEY_ERRORS,
    openapi_extra={"parameters": filter_parameters(FILTER_PARAMS | INCIDENT_PARAMS)},
)
def list_incidents(
    principal: Reader,
    session: SessionDep,
    filters: IncidentFiltersDep,
    paging: Paging,
    request: Request,
    pending_review: Annotated[
        bool | None,
        Query(description="true: the verifiers' queue, incidents holding reports for review."),
    ] = None,
) -> Response:
    """Incidents, latest occurrence first (keyset pages: follow `next`). Without `status`,
    every status except `merged`."""
    items, following = service.list_incidents(
        session=session,
        filters=filters,
        cursor=paging.cursor,
        limit=paging.limit,
        pending_review=pending_review,
    )
    return page_response(request, IncidentPage, items, following)


@router.get("/incidents/{incident_id:uuid}", response_model=IncidentDetail, responses=KEY_ERRORS)
def get_incident(incident_id: uuid.UUID, principal: Reader, session: SessionDep) -> dict:
    return service.get_incident(session=session, incident_id=incident_id)


@router.get(
    "/incidents/{incident_id:uuid}/candidates",
    response_model=list[IncidentCandidate],
    responses=KEY_ERRORS,
)
def incident_candidates(incident_id: uuid.UUID, principal: Reader, session: SessionDep) -> list:
    """Likely duplicates to merge: unmerged incidents of the same type family within the
    corroboration distance and time (5 km and 6 hours by default; the same province when
    either has no point), nearest first."""
    return verification.candidates(session=session, incident_id=incident_id)


@router.post(
    "/incidents/{incident_id:uuid}/review", response_model=IncidentDetail, responses=_WRITE_ERRORS
)
def review_incident(
    incident_id: uuid.UUID, principal: Verifier, session: SessionDep, review: IncidentReview
) -> dict:
    """A verifier's verdict: verified, disputed or rejected, with a note; and, with
    `accept_reports`, the decision on reports held for review."""
    with committing(session):
        return verification.review(
            session=session, incident_id=incident_id, actor=principal.actor, **review.model_dump()
        )


@router.post(
    "/incidents/{incident_id:uuid}/merge", response_model=IncidentDetail, responses=_WRITE_ERRORS
)
def merge_incident(
    incident_id: uuid.UUID, principal: Verifier, session: SessionDep, merge: IncidentMerge
) -> dict:
    """Merge this incident into another: its reports move there, it becomes `merged` and
    points to the survivor, which is answered (refreshed)."""
    with committing(session):
        return verification.merge(
            session=session,
            incident_id=incident_id,
            into_id=merge.into,
            note=merge.note,
            actor=principal.actor,
        )
