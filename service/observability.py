"""Structured request logs, request ids and Prometheus metrics, in one ASGI middleware.

Logs carry the route template and never the query string, so coordinates, names and keys a
client sends are not written to disk.
"""

from __future__ import annotations

import logging
import os
import re
import sys
import time
import traceback
import uuid

import orjson
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
)
from prometheus_client import multiprocess as prom_multiprocess
from starlette.types import ASGIApp, Message, Receive, Scope, Send

access_log = logging.getLogger("ceasefire.access")

REQUESTS = Counter("ceasefire_http_requests_total", "HTTP requests", ["method", "route", "status"])
LATENCY = Histogram(
    "ceasefire_http_request_duration_seconds",
    "HTTP request latency",
    ["method", "route"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)


def _database_error(exc: BaseException) -> BaseException | None:
    """The database error in ``exc``'s chain (itself, a cause or a context), if any."""
    import psycopg
    from sqlalchemy.exc import DBAPIError

    seen: list[BaseException] = []
    current: BaseException | None = exc
    while current is not None and current not in seen:
        if isinstance(current, DBAPIError | psycopg.Error):
            return current
        seen.append(current)
        current = current.__cause__ or current.__context__
    return None


def _database_error_fields(exc: BaseException, database: BaseException) -> dict[str, object]:
    """What may be logged of a database error: its class, SQLSTATE, statement (SQL text, no
    values) and stack frames. Never its message: PostgreSQL quotes the values bound to the
    statement there (`invalid input syntax for type uuid: "..."`, `Key (name)=(...) already
    exists`), and values are what a client sent."""
    orig = getattr(database, "orig", None) or database
    return {
        "error": type(exc).__name__,
        "database_error": type(orig).__name__,
        "sqlstate": getattr(orig, "sqlstate", None),
        "statement": getattr(database, "statement", None),
        "frames": "".join(traceback.format_tb(exc.__traceback__)),
    }


class JSONFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "ts": self.formatTime(record, "%Y-%m-%dT%H:%M:%S") + f".{int(record.msecs):03d}Z",
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": record.getMessage(),
        }
        entry.update(getattr(record, "fields", {}))
        if record.exc_info and record.exc_info[1] is not None:
            exc = record.exc_info[1]
            database = _database_error(exc)
            if database is not None:  # whoever logged it, never with its bound values
                entry.update(_database_error_fields(exc, database))
            else:
                entry["exc"] = self.formatException(record.exc_info)
        return orjson.dumps(entry).decode()


def log_unexpected(logger: logging.Logger, exc: BaseException) -> None:
    """Log an error no handler expected; a database error without its message (see
    ``_database_error_fields``), whatever formatter the logs go through."""
    database = _database_error(exc)
    if database is not None:
        fields = _database_error_fields(exc, database)
        logger.error("unhandled database error", extra={"fields": fields})
        return
    logger.error("unhandled error", exc_info=exc)


def configure_logging(level: str = "INFO") -> None:
    handler = logging.StreamHandler(sys.stdout)
    handler.setFormatter(JSONFormatter())
    handler.formatter.converter = time.gmtime  # type: ignore[union-attr]
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    # uvicorn's access log prints query strings (coordinates): ours replaces it.
    logging.getLogger("uvicorn.access").disabled = True
    for name in ("uvicorn", "uvicorn.error"):
        logging.getLogger(name).handlers[:] = []
        logging.getLogger(name).propagate = True


def _route_template(scope: Scope) -> str:
    route = scope.get("route")
    path = getattr(route, "path", None)
    return path if isinstance(path, str) else "unmatched"


_UUID = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")


class RequestContextMiddleware:
    """Request id, one JSON log line and metrics per request."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        incoming = dict(scope["headers"]).get(b"x-request-id", b"").decode("latin-1")
        # A caller's own id is kept when it is a UUID (RFC 9562 text form), so a request is
        # traced across services; anything else is replaced, never echoed.
        request_id = incoming if _UUID.fullmatch(incoming) else str(uuid.uuid4())
        scope.setdefault("state", {})["request_id"] = request_id
        started = time.perf_counter()
        status = 500

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message.setdefault("headers", [])
                message["headers"] = [
                    *message["headers"],
                    (b"x-request-id", request_id.encode()),
                ]
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            elapsed = time.perf_counter() - started
            route = _route_template(scope)
            method = scope["method"]
            REQUESTS.labels(method, route, str(status)).inc()
            LATENCY.labels(method, route).observe(elapsed)
            access_log.info(
                "request",
                extra={
                    "fields": {
                        "request_id": request_id,
                        "method": method,
                        "route": route,
                        # Unmatched paths (refused ones included) are cut short.
                        "path": scope["path"][:200] if route == "unmatched" else route,
                        "status": status,
                        "duration_ms": round(elapsed * 1000, 2),
                    }
                },
            )


def metrics_payload() -> tuple[bytes, str]:
    """Prometheus text; aggregated over worker processes when they share a metrics dir."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        registry = CollectorRegistry()
        prom_multiprocess.MultiProcessCollector(registry)
        return generate_latest(registry), CONTENT_TYPE_LATEST
    from prometheus_client import REGISTRY

    return generate_latest(REGISTRY), CONTENT_TYPE_LATEST
