from __future__ import annotations

import uuid
from dataclasses import replace
from typing import Any

from fastapi import APIRouter, Request
from prometheus_client import Counter
from starlette.responses import Response

from service import links
from service.api import (
    IdempotencyKey,
    StrictJSONRoute,
    committing,
    json_bytes_response,
    page_response,
)
from service.auth.dependencies import KEY_ERRORS, AnyKey, Reporter, Verifier
from service.auth.models import Role
from service.auth.service import Principal
from service.db import SessionDep
from service.event.dependencies import EventFiltersDep
from service.event.paging import paging_for
from service.event.parameters import FILTER_PARAMS, filter_parameters
from service.incident import split
from service.incident.schemas import ReportSplit, ReportSplitResult
from service.report import intake, reads, revision
from service.report.idempotency import StoredResponse
from service.report.schemas import (
    BatchResult,
    ReportBatch,
    ReportCreate,
    ReportPage,
    ReportRead,
    ReportRevisionRead,
    ReportUpdate,
)
from service.report.service import Submitter

router = APIRouter(prefix="/v1", tags=["reports"], route_class=StrictJSONRoute)

IDEMPOTENT_REPLAYS = Counter(
    "ceasefire_idempotent_replays_total", "Responses replayed for a repeated Idempotency-Key"
)

_WRITE_ERRORS: dict[int | str, dict[str, Any]] = {
    **KEY_ERRORS,
    409: {"description": "Conflict (see the detail; Retry-After when retrying may help)"},
    413: {"description": "Body over the size limit, or a batch over 500 items"},
    415: {"description": "The body is not JSON"},
}

Paging = paging_for(reads.REPORT_ORDER)


def _sees_reporter(principal: Principal) -> bool:
    """The reporter's identity is sensitive: verifiers and admins only."""
    return principal.role in (Role.verifier, Role.admin)


def _own_only(principal: Principal) -> uuid.UUID | None:
    """A reporter sees its own reports only."""
    return principal.key_id if principal.role == Role.reporter else None


def _reporter_view(principal: Principal) -> dict[str, Any] | None:
    if not _sees_reporter(principal):
        return None
    return {"key_id": principal.key_id, "name": principal.name}


def _answer(stored: StoredResponse) -> Response:
    headers = {}
    if stored.resource_id is not None:
        headers["Location"] = links.absolute(f"/v1/reports/{stored.resource_id}")
    if stored.replayed:
        headers["Idempotent-Replayed"] = "true"
        IDEMPOTENT_REPLAYS.inc()
    return json_bytes_response(stored.body, status_code=stored.status, headers=headers)


@router.post(
    "/reports",
    status_code=201,
    response_model=ReportRead,
    responses={
        **_WRITE_ERRORS,
        201: {
            "description": "Stored (or, for a retry, the original answer replayed)",
            "headers": {"Location": {"schema": {"type": "string"}}},
        },
    },
)
def create_report(
    principal: Reporter, idempotency_key: IdempotencyKey, session: SessionDep, report: ReportCreate
) -> Response:
    """Submit one report. Answered only once it is stored; retries with the same
    `Idempotency-Key` or `client_report_id` and the same body get the original answer."""
    with committing(session):
        stored = intake.create_report(
            session=session,
            submitter=Submitter(key_id=principal.key_id, actor=principal.actor),
            report_in=report,
            idempotency_key=idempotency_key,
            reporter=_reporter_view(principal),
        )
    return _answer(stored)


@router.post("/reports/batch", response_model=BatchResult, responses=_WRITE_ERRORS)
def create_report_batch(
    principal: Reporter, idempotency_key: IdempotencyKey, session: SessionDep, batch: ReportBatch
) -> Response:
    """Submit up to 500 reports, each with its `client_report_id`. Each is validated and
    stored on its own: one result per item, in order. Sending the batch again stores
    nothing new."""
    with committing(session):
        stored = intake.create_batch(
            session=session,
            submitter=Submitter(key_id=principal.key_id, actor=principal.actor),
            items=batch.reports,
            idempotency_key=idempotency_key,
            reporter=_reporter_view(principal),
        )
    return _answer(stored)


@router.get(
    "/reports",
    response_model=ReportPage,
    responses=KEY_ERRORS,
    openapi_extra={"parameters": filter_parameters(FILTER_PARAMS)},
)
def list_reports(
    principal: AnyKey,
    session: SessionDep,
    filters: EventFiltersDep,
    paging: Paging,
    request: Request,
) -> Response:
    """Reports, newest first (keyset pages: follow `next`). A reporter sees its own only."""
    own = _own_only(principal)
    if own is not None:
        filters = replace(filters, reporter_key_id=own)
    items, following = reads.list_reports(
        session=session,
        filters=filters,
        cursor=paging.cursor,
        limit=paging.limit,
        with_reporter=_sees_reporter(principal),
    )
    return page_response(request, ReportPage, items, following, exclude_unset=True)


@router.get("/reports/{report_id:uuid}", response_model=ReportRead, responses=KEY_ERRORS)
def get_report(report_id: uuid.UUID, principal: AnyKey, session: SessionDep) -> Response:
    """One report. Another reporter's report is not found, as if it did not exist."""
    report = reads.get_report(
        session=session,
        report_id=report_id,
        reporter_key_id=_own_only(principal),
        with_reporter=_sees_reporter(principal),
    )
    return json_bytes_response(intake.render_report(report))


@router.patch("/reports/{report_id:uuid}", response_model=ReportRead, responses=_WRITE_ERRORS)
def revise_report(
    report_id: uuid.UUID, principal: Reporter, session: SessionDep, update: ReportUpdate
) -> Response:
    """Revise one's own report while its incident is unverified (409 after). Location,
    attribution and classification are derived again; the incident is refreshed."""
    with committing(session):
        report = revision.revise_report(
            session=session,
            report_id=report_id,
            key_id=principal.key_id,
            actor=principal.actor,
            update=update,
            hide_others=_own_only(principal) is not None,
        )
    if _sees_reporter(principal):
        report["reporter"] = _reporter_view(principal)
    return json_bytes_response(intake.render_report(report))


@router.get(
    "/reports/{report_id:uuid}/history",
    response_model=list[ReportRevisionRead],
    response_model_exclude_unset=True,
    responses=KEY_ERRORS,
)
def report_history(report_id: uuid.UUID, principal: AnyKey, session: SessionDep) -> list[dict]:
    """Every revision of a report, oldest first."""
    return revision.report_history(
        session=session, report_id=report_id, reporter_key_id=_own_only(principal)
    )


@router.post(
    "/reports/{report_id:uuid}/split", response_model=ReportSplitResult, responses=_WRITE_ERRORS
)
def split_report(
    report_id: uuid.UUID, principal: Verifier, session: SessionDep, body: ReportSplit
) -> dict:
    """Move a wrongly linked report into a new incident of its own (verifiers, admins):
    both incidents are derived again (casualty rule), audited with the note. 409 when the
    report is its incident's only one, or the incident is merged, rejected or holds
    reports for review."""
    with committing(session):
        return split.split(
            session=session, report_id=report_id, note=body.note, actor=principal.actor
        )
