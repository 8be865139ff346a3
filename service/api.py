"""HTTP plumbing shared by the routers that write: a request body size limit, strict JSON
bodies, the Idempotency-Key header, committing before answering, and paging links.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Coroutine, Iterator
from contextlib import contextmanager
from typing import Annotated, Any

from fastapi import Depends, Header, Request
from fastapi.routing import APIRoute
from psycopg import errors as pg_errors
from pydantic import BaseModel
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from service.caching import IfMatch
from service.errors import (
    BadRequest,
    Conflict,
    NotAcceptable,
    UnsupportedMediaType,
    problem_response,
)
from service.links import request_url

# ---- body size ----


class BodyTooLarge(StarletteHTTPException):
    """Raised from ``receive`` when a streamed body passes the limit. An HTTPException, so
    FastAPI's body reader lets it through to the problem+json handler (413)."""

    def __init__(self, limit: int) -> None:
        super().__init__(413, _too_large_detail(limit))


def _too_large_detail(limit: int) -> str:
    return f"the request body is larger than the limit of {limit} bytes"


class BodySizeLimitMiddleware:
    """Refuse bodies over a size limit with 413 without reading them whole.

    A declared ``Content-Length`` over the limit is refused before the application runs; a
    chunked body is counted as it streams and refused as soon as it passes the limit.
    ``limits`` gives some paths (e.g. a batch endpoint) a limit of their own.
    """

    def __init__(self, app: ASGIApp, *, default_limit: int, limits: dict[str, int]) -> None:
        self.app = app
        self.default_limit = default_limit
        self.limits = limits

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self.limits.get(scope["path"], self.default_limit)
        declared = _content_length(scope)
        if declared is not None and declared > limit:
            response = problem_response(
                413, "Payload too large", _too_large_detail(limit), slug="payload-too-large"
            )
            await response(scope, receive, send)
            return
        received = 0

        async def limited_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    raise BodyTooLarge(limit)
            return message

        await self.app(scope, limited_receive, send)


def _content_length(scope: Scope) -> int | None:
    for name, value in scope["headers"]:
        if name == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None
    return None


# ---- strict JSON ----


class _DuplicateKey(ValueError):
    def __init__(self, key: str) -> None:
        super().__init__(key)
        self.key = key


def _no_duplicate_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for key, value in pairs:
        if key in result:
            raise _DuplicateKey(key)
        result[key] = value
    return result


_SURROGATE_ESCAPE = re.compile(r"\\u[dD][89a-fA-F]")


def _has_lone_surrogate(value: Any) -> bool:
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            try:
                item.encode("utf-8")
            except UnicodeEncodeError:
                return True
        elif isinstance(item, dict):
            stack.extend(item.keys())
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
    return False


def parse_json(body: bytes) -> Any:
    """JSON as RFC 8259 means it: UTF-8, one value, no duplicate keys, no lone surrogates.

    Malformed bodies are a 400. NaN and Infinity literals parse to floats on purpose: the
    input models (``allow_inf_nan=False``) then refuse them with a 422 naming the field.
    """
    if not body.strip():
        raise BadRequest("the request body is empty; send a JSON document")
    try:
        text = body.decode("utf-8")
        value = json.loads(text, object_pairs_hook=_no_duplicate_keys)
    except UnicodeDecodeError as exc:
        raise BadRequest("the request body is not valid UTF-8") from exc
    except json.JSONDecodeError as exc:
        raise BadRequest(
            f"malformed JSON at line {exc.lineno}, column {exc.colno}: {exc.msg}"
        ) from exc
    except _DuplicateKey as exc:
        raise BadRequest(f"duplicate key {ascii(exc.key[:50])} in a JSON object") from exc
    except (ValueError, RecursionError) as exc:  # e.g. a 5,000-digit integer, deep nesting
        raise BadRequest("the JSON document is too deeply nested or has too long a number") from exc
    # Text from valid UTF-8 holds no surrogates; only \\uD8xx escapes can smuggle one in, and
    # PostgreSQL (like any UTF-8 consumer) cannot store it.
    if _SURROGATE_ESCAPE.search(text) and _has_lone_surrogate(value):
        raise BadRequest("the JSON document contains an unpaired UTF-16 surrogate escape")
    return value


def _is_json(content_type: str | None) -> bool:
    if not content_type:
        return False
    media = content_type.split(";", 1)[0].strip().lower()
    return media == "application/json" or (
        media.startswith("application/") and media.endswith("+json")
    )


class StrictJSONRoute(APIRoute):
    """A route whose JSON body must say so (415 otherwise) and be well-formed (400).

    The body is parsed here, then handed to FastAPI's own validation of the declared model.
    """

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()
        if self.body_field is None:
            return handler

        async def strict_json_handler(request: Request) -> Response:
            if not _is_json(request.headers.get("content-type")):
                raise UnsupportedMediaType(
                    "send the body as JSON with `Content-Type: application/json`"
                )
            # Starlette's Request caches the parsed body here; FastAPI reads it back.
            request._json = parse_json(await request.body())
            return await handler(request)

        return strict_json_handler


# ---- Idempotency-Key ----

# Letters, digits and the characters of UUIDs, ULIDs and base64: nothing that needs quoting,
# so a key is never mistaken for anything else in logs, SQL or headers.
_IDEMPOTENCY_KEY = re.compile(r"[A-Za-z0-9._~:+/=-]{1,255}")


def _idempotency_key(
    request: Request,
    idempotency_key: Annotated[
        str | None,
        Header(
            alias="Idempotency-Key",
            # Documented, not enforced here: the dependency answers 400 (not 422) itself.
            json_schema_extra={
                "pattern": r'^([A-Za-z0-9._~:+/=-]{1,255}|"[A-Za-z0-9._~:+/=-]{1,255}")$'
            },
            description=(
                "Makes retries safe: 1-255 characters from `A-Z a-z 0-9 . _ ~ : + / = -`"
                " (a UUID is ideal), optionally quoted. Kept at least 30 days per API key."
            ),
        ),
    ] = None,
) -> str | None:
    values = request.headers.getlist("idempotency-key")
    if not values:
        return None
    if len(values) > 1:
        raise BadRequest("send one Idempotency-Key header, not several")
    value = values[0]
    if len(value) >= 2 and value[0] == value[-1] == '"':
        value = value[1:-1]  # the structured-field string form of the IETF draft
    if not _IDEMPOTENCY_KEY.fullmatch(value):
        raise BadRequest(
            "Idempotency-Key must be 1-255 characters from A-Z a-z 0-9 . _ ~ : + / = -"
        )
    return value


IdempotencyKey = Annotated[str | None, Depends(_idempotency_key)]


# ---- If-Match ----

# What ``IfMatch.parse`` reads, for the OpenAPI document (ASCII tags; obs-text is read too).
_TAG = r'(W/)?"[!#-~]*"'
IF_MATCH_PATTERN = rf"^(\*|[ \t,]*{_TAG}([ \t]*,[ \t,]*{_TAG})*[ \t,]*)$"


def _if_match(
    request: Request,
    # Typed ``str`` (not ``str | None``) so the document states the pattern on the string
    # itself: a nullable header would be fuzzed as the text "null".
    if_match: Annotated[  # type: ignore[assignment]
        str,
        Header(
            alias="If-Match",
            # Documented, not validated here: the dependency answers 400 itself.
            json_schema_extra={"pattern": IF_MATCH_PATTERN},
            description=(
                "The resource's `ETag` as read (strong; quotes included), a list of them, or"
                " `*`: the write happens only if the resource is still that version, else 412"
                " and nothing changes. Without it, the write is unconditional. A weak tag"
                " (`W/...`) never matches (RFC 9110 compares strongly); anything that is"
                " neither `*` nor a list of entity tags is a 400."
            ),
        ),
    ] = None,
) -> IfMatch | None:
    try:
        return IfMatch.parse(request.headers.getlist("if-match"))
    except ValueError as exc:
        # Not 412: a condition that cannot be read is the client's bug, and a 412 would send
        # it to reload and send the same unreadable header again.
        raise BadRequest(f"If-Match: {exc}") from exc


IfMatchHeader = Annotated[IfMatch | None, Depends(_if_match)]


# ---- transactions ----

# Errors a concurrent request can cause; the client may simply retry.
_RETRYABLE = (
    pg_errors.TransactionRollback,  # deadlock, serialization failure
    pg_errors.UniqueViolation,
    pg_errors.LockNotAvailable,
)


@contextmanager
def committing(session: Session) -> Iterator[None]:
    """Commit when the block succeeds and roll back when it raises, so that a success is
    answered only once it is durable and a refusal leaves nothing behind."""
    try:
        yield
        session.commit()
    except DBAPIError as exc:
        session.rollback()
        if isinstance(exc.orig, _RETRYABLE):
            raise Conflict(
                "a concurrent request changed the same data; retry the request",
                headers={"Retry-After": "1"},
            ) from exc
        raise
    except BaseException:
        session.rollback()
        raise


# ---- responses ----

JSON_MEDIA_TYPE = "application/json"


def json_bytes_response(
    content: bytes, *, status_code: int = 200, headers: dict[str, str] | None = None
) -> Response:
    return Response(
        content=content, status_code=status_code, media_type=JSON_MEDIA_TYPE, headers=headers
    )


def next_link(request: Request, token: str | None) -> str | None:
    """The URL of the next page: this request's URL with the cursor replaced, under the
    configured public base URL (never the request's Host)."""
    if token is None:
        return None
    return request_url(request, cursor=token)


def link_header(next_url: str | None) -> dict[str, str]:
    return {"Link": f'<{next_url}>; rel="next"'} if next_url else {}


def negotiate_format(
    fmt: str | None, accept: str | None, *, accepted: dict[str, str], offered: str
) -> str:
    """The format asked for by a ``format`` query parameter, else by ``Accept`` (q-values
    honoured): ``accepted`` maps media ranges to formats, in the order wildcards prefer;
    ``offered`` says what is available when nothing matches (406)."""
    if fmt is not None:
        return fmt
    if not accept:
        return accepted["*/*"]
    ranges = []
    for position, part in enumerate(accept.split(",")):
        media, *params = (p.strip() for p in part.split(";"))
        q = 1.0
        for param in params:
            name, _, value = param.partition("=")
            if name.strip().lower() == "q":
                try:
                    q = float(value)
                except ValueError:
                    q = 0.0
        if q > 0:
            ranges.append((-q, position, media.lower()))
    for _, _, media in sorted(ranges):
        if media in accepted:
            return accepted[media]
    raise NotAcceptable(f"cannot produce {accept!r}: {offered}")


def page_response(
    request: Request,
    page: type[BaseModel],
    items: list[Any],
    following: str | None,
    *,
    exclude_unset: bool = False,
) -> Response:
    """One keyset page as ``page`` (``items`` and ``next``), the next page's URL also in a
    ``Link`` header; ``following`` is the cursor of the next page, if there is one."""
    next_url = next_link(request, following)
    body = page.model_validate({"items": items, "next": next_url})
    return json_bytes_response(
        body.model_dump_json(exclude_unset=exclude_unset).encode(), headers=link_header(next_url)
    )
