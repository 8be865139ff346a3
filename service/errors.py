"""The service's error hierarchy, mapped once to RFC 9457 problem details."""

from __future__ import annotations

from typing import Any

import orjson
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import Response
from starlette.routing import Match

PROBLEM_MEDIA_TYPE = "application/problem+json"
PROBLEM_BASE = "https://ceasefire-monitor.example/problems/"
DEFAULT_CHALLENGE = 'Bearer realm="ceasefire-monitor"'


# Each status's problem title and type slug: the errors below take theirs from here, and so
# do the errors Starlette raises itself (404 for an unknown path, 405, ...).
PROBLEMS: dict[int, tuple[str, str]] = {
    400: ("Bad request", "bad-request"),
    401: ("Unauthorized", "unauthorized"),
    403: ("Forbidden", "forbidden"),
    404: ("Not found", "not-found"),
    405: ("Method not allowed", "method-not-allowed"),
    406: ("Not acceptable", "not-acceptable"),
    408: ("Request timeout", "request-timeout"),
    409: ("Conflict", "conflict"),
    412: ("Precondition failed", "precondition-failed"),
    413: ("Payload too large", "payload-too-large"),
    415: ("Unsupported media type", "unsupported-media-type"),
    422: ("Unprocessable content", "invalid"),
    429: ("Too many requests", "rate-limited"),
    503: ("Service unavailable", "unavailable"),
}


class ServiceError(Exception):
    """A failure the client can understand. A subclass names its status as a class keyword
    (``class NotFound(ServiceError, status=404)``) and takes that status's title and slug."""

    status = 400
    title, slug = PROBLEMS[status]

    def __init_subclass__(cls, status: int | None = None, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if status is not None:
            cls.status = status
            cls.title, cls.slug = PROBLEMS[status]

    def __init__(
        self,
        detail: str,
        *,
        errors: list[dict[str, Any]] | None = None,
        headers: dict[str, str] | None = None,
        extra: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(detail)
        self.detail = detail
        self.errors = errors
        self.headers = headers or {}
        self.extra = extra or {}


class BadRequest(ServiceError, status=400): ...


class InvalidParameter(BadRequest):
    """A query parameter (or a name a body gives for the same thing) that is malformed or
    names nothing known. Every reader answers it alike: 400, as OGC API - Features asks for
    invalid query parameters, with this one problem type."""

    title, slug = "Invalid parameter", "invalid-parameter"

    def __init__(
        self, name: str, message: str, *, location: str = "query", detail: str | None = None
    ) -> None:
        super().__init__(
            detail or f"{name}: {message}",
            errors=[{"field": f"{location}.{name}", "message": message}],
        )
        self.name = name


class Unauthorized(ServiceError, status=401): ...


class Forbidden(ServiceError, status=403): ...


class NotFound(ServiceError, status=404): ...


class NotAcceptable(ServiceError, status=406): ...


class Conflict(ServiceError, status=409): ...


class PreconditionFailed(ServiceError, status=412):
    """An ``If-Match`` the resource no longer satisfies: it changed since the client read it."""


class PayloadTooLarge(ServiceError, status=413): ...


class UnsupportedMediaType(ServiceError, status=415): ...


class Invalid(ServiceError, status=422): ...


class TooManyRequests(ServiceError, status=429): ...


class Unavailable(ServiceError, status=503): ...


def problem_response(
    status: int,
    title: str,
    detail: str,
    *,
    slug: str | None = None,
    errors: list[dict[str, Any]] | None = None,
    headers: dict[str, str] | None = None,
    extra: dict[str, Any] | None = None,
) -> Response:
    body: dict[str, Any] = {
        "type": PROBLEM_BASE + (slug or str(status)),
        "title": title,
        "status": status,
        "detail": detail,
    }
    if errors:
        body["errors"] = errors
    if extra:
        body.update(extra)
    if status == 401 and not any(k.lower() == "www-authenticate" for k in headers or {}):
        # RFC 9110: every 401 names a scheme the client can answer with.
        headers = {**(headers or {}), "WWW-Authenticate": DEFAULT_CHALLENGE}
    return Response(
        content=orjson.dumps(body),
        status_code=status,
        media_type=PROBLEM_MEDIA_TYPE,
        headers=headers,
    )


def _field_errors(exc: RequestValidationError) -> list[dict[str, Any]]:
    out = []
    for err in exc.errors():
        loc = [str(part) for part in err.get("loc", ())]
        out.append({"field": ".".join(loc), "message": err.get("msg", "invalid value")})
    return out


def _validation_detail(errors: list[dict[str, Any]]) -> str:
    parts = [f"{e['field']}: {e['message']}" for e in errors[:5]]
    more = f" (and {len(errors) - 5} more)" if len(errors) > 5 else ""
    return "; ".join(parts) + more


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(ServiceError)
    async def _service_error(_: Request, exc: ServiceError) -> Response:
        return problem_response(
            exc.status,
            exc.title,
            exc.detail,
            slug=exc.slug,
            errors=exc.errors,
            headers=exc.headers,
            extra=exc.extra,
        )

    @app.exception_handler(RequestValidationError)
    async def _validation_error(_: Request, exc: RequestValidationError) -> Response:
        errors = _field_errors(exc)
        if all(str(e.get("loc", ("",))[0]) == "query" for e in exc.errors()):
            # A bad query parameter is a 400 on every endpoint, as on the map routes (OGC
            # API - Features requires it there); 422 stays for bodies a client wrote.
            return problem_response(
                400,
                InvalidParameter.title,
                _validation_detail(errors),
                slug=InvalidParameter.slug,
                errors=errors,
            )
        return problem_response(
            422, Invalid.title, _validation_detail(errors), slug=Invalid.slug, errors=errors
        )

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(request: Request, exc: StarletteHTTPException) -> Response:
        title, slug = PROBLEMS.get(exc.status_code, ("Error", str(exc.status_code)))
        detail = exc.detail if isinstance(exc.detail, str) else title
        if exc.status_code == 404 and detail == "Not Found":
            detail = f"No resource at {request.url.path}"
        headers = dict(exc.headers or {})
        if exc.status_code == 405:
            detail = f"{request.method} is not allowed on {request.url.path}"
            # Starlette names only the first matching route's methods; a path served by
            # several routes (GET and POST) allows all of theirs.
            allowed = _allowed_methods(request)
            if allowed:
                headers["Allow"] = ", ".join(allowed)
        return problem_response(exc.status_code, title, detail, slug=slug, headers=headers)


_METHODS = ("DELETE", "GET", "HEAD", "OPTIONS", "PATCH", "POST", "PUT")


def _allowed_methods(request: Request) -> list[str]:
    allowed = []
    for method in _METHODS:
        scope = {**request.scope, "method": method}
        if any(route.matches(scope)[0] == Match.FULL for route in request.app.router.routes):
            allowed.append(method)
    return allowed
