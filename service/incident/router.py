from __future__ import annotations

import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from starlette.responses import Response

from service import caching
from service.api import (
    JSON_MEDIA_TYPE,
    IfMatchHeader,
    StrictJSONRoute,
    committing,
    page_response,
)
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
    400: {"description": "A malformed `If-Match`"},
    409: {"description": "Not possible in the incident's current state"},
    412: {
        "description": "`If-Match` does not name the incident's current ETag: it changed since"
        " it was read (reload it); nothing was changed"
    },
    413: {"description": "Body over the size limit"},
    415: {"description": "The body is not JSON"},
}

Paging = paging_for(service.INCIDENT_ORDER)
_ETAG_HEADER = {"ETag": {"description": "The incident's strong ETag", "schema": {"type": "string"}}}


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


@router.get(
    "/incidents/{incident_id:uuid}",
    response_model=IncidentDetail,
    responses={
        **KEY_ERRORS,
        200: {"headers": _ETAG_HEADER},
        304: {"description": "Not modified (`If-None-Match` names the current ETag)"},
    },
)
def get_incident(
    incident_id: uuid.UUID, principal: Reader, session: SessionDep, request: Request
) -> Response:
    """One incident, with a strong `ETag` that changes on every write to it (a review, a
    merge, a report joining or revised, a decision on held reports, an import's verdict):
    send it back as `If-Match` with a review or a merge. `If-None-Match` gets a 304."""
    incident, tag = service.read_incident(session=session, incident_id=incident_id)
    return caching.conditional(
        request,
        tag=tag,
        public=False,
        max_age_s=0,
        media_type=JSON_MEDIA_TYPE,
        build=lambda: IncidentDetail.model_validate(incident).model_dump_json().encode(),
    )


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


_WRITTEN = {200: {"headers": _ETAG_HEADER}}


@router.post(
    "/incidents/{incident_id:uuid}/review",
    response_model=IncidentDetail,
    responses={**_WRITE_ERRORS, **_WRITTEN},
)
def review_incident(
    incident_id: uuid.UUID,
    principal: Verifier,
    session: SessionDep,
    review: IncidentReview,
    if_match: IfMatchHeader,
    response: Response,
) -> dict:
    """A verifier's verdict: verified, disputed or rejected, with a note; and, with
    `accept_reports`, the decision on reports held for review.

    Send the incident's `ETag` (from `GET /v1/incidents/{id}` or the review queue) as
    `If-Match`: if the incident changed since (another verifier's verdict, a report joining,
    a merge), the answer is 412 and nothing changes; of two verdicts sent with one ETag,
    exactly one succeeds. Without `If-Match` the verdict is written whatever happened
    meanwhile (as before this header was honoured). The answer carries the new `ETag`."""
    with committing(session):
        incident = verification.review(
            session=session,
            incident_id=incident_id,
            actor=principal.actor,
            if_match=if_match,
            **review.model_dump(),
        )
        response.headers["ETag"] = service.current_etag(session, incident_id) or ""
    return incident


@router.post(
    "/incidents/{incident_id:uuid}/merge",
    response_model=IncidentDetail,
    responses={**_WRITE_ERRORS, **_WRITTEN},
)
def merge_incident(
    incident_id: uuid.UUID,
    principal: Verifier,
    session: SessionDep,
    merge: IncidentMerge,
    if_match: IfMatchHeader,
    response: Response,
) -> dict:
    """Merge this incident into another: its reports move, it becomes `merged` and
    points to the survivor, which is answered (refreshed), with the survivor's new `ETag`.

    `If-Match` (the ETag of the incident merged away, as read) makes the merge conditional,
    as for a review: 412 and nothing changed if that incident changed since; without it the
    merge is unconditional."""
    with committing(session):
        survivor = verification.merge(
            session=session,
            incident_id=incident_id,
            into_id=merge.into,
            note=merge.note,
            actor=principal.actor,
            if_match=if_match,
        )
        response.headers["ETag"] = service.current_etag(session, merge.into) or ""
    return survivor
