"""Liveness, readiness and metrics: async handlers that never wait for the shared thread
pool or the shared database pool, so they answer at once while both are exhausted."""

from __future__ import annotations

import logging

from fastapi import APIRouter, Request
from fastapi.security import HTTPAuthorizationCredentials
from pydantic import BaseModel
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session
from starlette.responses import Response

from service.auth.dependencies import Credentials, check_key, refuse_role
from service.auth.models import Role
from service.auth.service import Principal
from service.config import get_settings
from service.errors import Unauthorized, Unavailable, problem_response
from service.health.ops import OpsSessions, OpsTimeout, run_with_session
from service.health.service import readiness
from service.observability import metrics_payload
from service.scheduler.service import job_metrics

router = APIRouter(tags=["health"])
log = logging.getLogger(__name__)

METRICS_ROLES = frozenset({Role.monitor, Role.admin})
_CHALLENGE = {"WWW-Authenticate": 'Bearer realm="ceasefire-monitor"'}
_INVALID = {"WWW-Authenticate": 'Bearer realm="ceasefire-monitor", error="invalid_token"'}


class HealthRead(BaseModel):
    status: str


class ReadinessRead(BaseModel):
    status: str
    checks: dict[str, str]


@router.get("/healthz", response_model=HealthRead)
async def healthz() -> HealthRead:
    """The process is alive (touches nothing else)."""
    return HealthRead(status="ok")


@router.get(
    "/readyz",
    response_model=ReadinessRead,
    responses={503: {"description": "Not ready: a check failed or the database did not answer"}},
)
async def readyz(sessions: OpsSessions) -> Response | ReadinessRead:
    """Ready to serve: database reachable, migrations at head, reference data loaded.

    Checked on a connection of its own; a database that does not answer within
    ``health_db_timeout_s`` makes this a 503 at once."""
    try:
        checks = await run_with_session(sessions, readiness)
    except OpsTimeout:
        log.warning("readiness: the database did not answer in time")
        checks = {"database": f"no answer within {get_settings().health_db_timeout_s:g} s"}
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


def _metrics_reader(
    request: Request, session: Session, credentials: HTTPAuthorizationCredentials
) -> Principal:
    """The key's principal if it may read metrics, checked as every keyed route checks it
    (failed authentications count against the address, so /metrics is no way to guess keys
    or to tie up the health pool); audited refusal for other roles."""
    principal = check_key(request, session, credentials)
    refuse_role(request, session, principal, METRICS_ROLES)
    return principal


@router.get(
    "/metrics",
    response_class=Response,
    responses={
        200: {"content": {"text/plain": {"schema": {"type": "string"}}}},
        401: {"description": "No key, or an unknown or revoked one"},
        403: {"description": "The key is neither a monitor's nor an admin's"},
    },
)
async def metrics(request: Request, credentials: Credentials, sessions: OpsSessions) -> Response:
    """Prometheus text format, for monitor and admin keys: requests and latency by route
    template and status; the last successful run of each scheduled job and webhook
    deliveries by status (from the database, so the figures hold whichever process wrote
    them; left out if the database does not answer in time)."""
    if credentials is None or not credentials.credentials:
        raise Unauthorized(
            "metrics need a monitor or admin key: `Authorization: Bearer <API key>`",
            headers=_CHALLENGE,
        )
    try:
        await run_with_session(
            sessions, lambda session: _metrics_reader(request, session, credentials)
        )
    except (OpsTimeout, SQLAlchemyError) as exc:
        log.warning("metrics: cannot check the key: %s", type(exc).__name__)
        raise Unavailable(
            "the key cannot be checked: the database did not answer; retry shortly",
            headers={"Retry-After": "5"},
        ) from exc
    body, content_type = metrics_payload()
    try:
        body += await run_with_session(sessions, job_metrics)
    except (OpsTimeout, SQLAlchemyError) as exc:
        log.warning("metrics: job figures left out: %s", type(exc).__name__)
    return Response(content=body, media_type=content_type)
