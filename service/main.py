"""The ASGI application: routers, error handlers, middleware."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import anyio.to_thread
import psycopg
from fastapi import Depends, FastAPI, Request
from sqlalchemy.exc import DBAPIError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from starlette.middleware.cors import CORSMiddleware
from starlette.middleware.gzip import GZipMiddleware
from starlette.responses import Response

from service import __doc__ as service_doc
from service.api import BodySizeLimitMiddleware
from service.apidocs import router as apidocs_router
from service.audit.router import router as audit_router
from service.auth.dependencies import anonymous_rate_limit
from service.caching import CacheHeadersMiddleware
from service.changes.router import router as changes_router
from service.config import get_settings
from service.console.router import router as console_router
from service.curation.router import router as curation_router
from service.digest.router import router as digest_router
from service.errors import install_error_handlers, problem_response
from service.export.router import router as export_router
from service.geography.router import router as geography_router
from service.health.router import router as health_router
from service.health.service import migration_heads
from service.incident.router import router as incident_router
from service.links import PublicOriginMiddleware
from service.observability import RequestContextMiddleware, log_unexpected
from service.ogc.router import router as ogc_router
from service.openapi import build_openapi, operation_id
from service.party.router import router as party_router
from service.report.router import router as report_router
from service.request_guard import RequestGuardMiddleware
from service.review_queue.router import router as review_queue_router
from service.stats.router import router as stats_router
from service.subscription.router import router as subscription_router
from service.tiles.router import router as tiles_router
from service.timeouts import BodyTimeoutMiddleware, PerClientLimitMiddleware

log = logging.getLogger("ceasefire")

# Matched in this order, each included router trying its routes in turn (FastAPI's routing
# cost about 170 us of CPU to reach a single map item when the map routers came last):
# probes and the map routes, the busiest and the most latency-bound, first. No two routers'
# paths overlap, so the order decides nothing else but the OpenAPI document's.
ROUTERS = (
    health_router,
    ogc_router,
    tiles_router,
    stats_router,
    apidocs_router,
    console_router,
    geography_router,
    party_router,
    curation_router,
    report_router,
    incident_router,
    changes_router,
    review_queue_router,
    audit_router,
    digest_router,
    subscription_router,
    export_router,
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
        # Served by service/apidocs.py with local assets instead of FastAPI's CDN ones.
        docs_url=None,
        redoc_url=None,
        lifespan=_lifespan,
        dependencies=[Depends(anonymous_rate_limit)],
    )
    for router in ROUTERS:
        app.include_router(router)
    install_error_handlers(app)

    @app.exception_handler(OperationalError)
    # Statements run on psycopg's connection itself (pipelines, binary pages) raise its
    # own errors: a server gone mid-request is unavailability there too, not a bug.
    @app.exception_handler(psycopg.OperationalError)
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
    # Outside gzip, whose Vary it merges: Vary and private/public right on every answer.
    app.add_middleware(CacheHeadersMiddleware)
    app.add_middleware(BodyTimeoutMiddleware, timeout_s=settings.body_timeout_s)
    app.add_middleware(PerClientLimitMiddleware, limit=settings.max_concurrent_per_client)
    # Before anything reads the request: untrusted hosts refused, the configured one put in.
    app.add_middleware(PublicOriginMiddleware)
    app.add_middleware(RequestContextMiddleware)
    return app


@asynccontextmanager
async def _lifespan(app: FastAPI) -> AsyncIterator[None]:
    # Read the migration scripts once now, so /readyz never reads them within its deadline.
    try:
        await anyio.to_thread.run_sync(migration_heads)
    except Exception:  # noqa: BLE001 - /readyz reports the failure itself
        log.warning("migration scripts could not be read at startup", exc_info=True)
    yield
