"""The ASGI application: routers, error handlers, middleware."""

from __future__ import annotations

import logging

import psycopg
from fastapi import Depends, FastAPI, Request
from sqlalchemy.exc import DBAPIError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from starlette.middleware.cors import CORSMiddleware
from starlette.middleware.gzip import GZipMiddleware
from starlette.responses import Response

from service import __doc__ as service_doc
from service.api import BodySizeLimitMiddleware
from service.audit.router import router as audit_router
from service.auth.dependencies import anonymous_rate_limit
from service.config import get_settings
from service.digest.router import router as digest_router
from service.errors import install_error_handlers, problem_response
from service.geography.router import router as geography_router
from service.health.router import router as health_router
from service.incident.router import router as incident_router
from service.observability import RequestContextMiddleware, log_unexpected
from service.ogc.router import router as ogc_router
from service.openapi import build_openapi, operation_id
from service.party.router import router as party_router
from service.report.router import router as report_router
from service.request_guard import RequestGuardMiddleware
from service.stats.router import router as stats_router
from service.subscription.router import router as subscription_router
from service.tiles.router import router as tiles_router

log = logging.getLogger("ceasefire")

ROUTERS = (
    health_router,
    geography_router,
    party_router,
    report_router,
    incident_router,
    audit_router,
    digest_router,
    subscription_router,
    ogc_router,
    stats_router,
    tiles_router,
)


def create_app() -> FastAPI:
    app = FastAPI(
        title="ceasefire-monitor",
        version="0.1.0",
        description=(service_doc or "").strip()
        + " Reports of violations of the ceasefire, located in governorates and districts,"
        " attributed to parties and to the guarantors that answer for them.",
        generate_unique_id_function=operation_id,
        openapi_url="/openapi.json",
        dependencies=[Depends(anonymous_rate_limit)],
    )
    for router in ROUTERS:
        app.include_router(router)
    install_error_handlers(app)

    @app.exception_handler(OperationalError)
    @app.exception_handler(PoolTimeout)
    async def _database_unavailable(request: Request, exc: Exception) -> Response:
        log.warning("database unavailable: %s", type(exc).__name__)
        return problem_response(
            503,
            "Service unavailable",
            "the database is unavailable; retry shortly",
            slug="unavailable",
            headers={"Retry-After": "5"},
        )

    @app.exception_handler(DBAPIError)
    @app.exception_handler(psycopg.Error)
    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> Response:
        log_unexpected(log, exc)
        return problem_response(500, "Internal server error", "an unexpected error occurred")

    app.openapi = lambda: build_openapi(app)  # type: ignore[method-assign]
    settings = get_settings()
    # Inside the request context, so refused bodies are logged and counted too.
    app.add_middleware(
        BodySizeLimitMiddleware,
        default_limit=settings.max_body_bytes,
        limits={"/v1/reports/batch": settings.max_batch_body_bytes},
    )
    # NUL, control characters and over-long values never reach a route (or a SQL parameter).
    app.add_middleware(
        RequestGuardMiddleware,
        max_path_chars=settings.max_path_chars,
        max_query_chars=settings.max_query_chars,
        max_header_bytes=settings.max_header_bytes,
    )
    # Map clients on other origins read with GET; writes stay same-origin (no preflight passes).
    app.add_middleware(
        CORSMiddleware,
        allow_origins=["*"],
        allow_methods=["GET", "HEAD"],
        allow_headers=["Authorization", "If-None-Match"],
        expose_headers=["ETag", "X-Request-ID"],
        max_age=3600,
    )
    # Features compress about tenfold; level 5 costs a fraction of level 9's time.
    app.add_middleware(GZipMiddleware, minimum_size=1024, compresslevel=5)
    app.add_middleware(RequestContextMiddleware)
    return app
