from __future__ import annotations

import logging

from fastapi import APIRouter
from pydantic import BaseModel
from sqlalchemy.exc import SQLAlchemyError
from starlette.responses import Response

from service.db import SessionDep, get_sessionmaker
from service.errors import problem_response
from service.health.service import readiness
from service.observability import metrics_payload
from service.scheduler.service import job_metrics

router = APIRouter(tags=["health"])
log = logging.getLogger(__name__)


class HealthRead(BaseModel):
    status: str


class ReadinessRead(BaseModel):
    status: str
    checks: dict[str, str]


@router.get("/healthz", response_model=HealthRead)
def healthz() -> HealthRead:
    """The process is alive (touches nothing else)."""
    return HealthRead(status="ok")


@router.get(
    "/readyz",
    response_model=ReadinessRead,
    responses={503: {"description": "Not ready: a check failed"}},
)
def readyz() -> Response | ReadinessRead:
    """Ready to serve: database reachable, migrations at head, reference data loaded."""
    try:
        with get_sessionmaker()() as session:
            checks = readiness(session)
    except SQLAlchemyError as exc:
        log.warning("readiness: database unreachable: %s", type(exc).__name__)
        checks = {"database": "unreachable"}
    if all(v == "ok" for v in checks.values()):
        return ReadinessRead(status="ready", checks=checks)
    failing = "; ".join(f"{k}: {v}" for k, v in checks.items() if v != "ok")
    return problem_response(
        503,
        "Service unavailable",
        f"not ready ({failing})",
        slug="not-ready",
        extra={"checks": checks},
    )


@router.get(
    "/metrics",
    response_class=Response,
    responses={200: {"content": {"text/plain": {"schema": {"type": "string"}}}}},
)
def metrics(session: SessionDep) -> Response:
    """Prometheus text format: requests and latency by route template and status; the last
    successful run of each scheduled job and webhook deliveries by status (from the
    database, so the figures hold whichever process wrote them)."""
    body, content_type = metrics_payload()
    try:
        body += job_metrics(session)
    except SQLAlchemyError as exc:
        log.warning("metrics: database unreachable: %s", type(exc).__name__)
    return Response(content=body, media_type=content_type)
