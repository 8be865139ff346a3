"""HTTP validators: ETags from the data's version, 304 without work, and ``If-Match``.

The data version is a counter the database bumps in every transaction that changes the data
(see ``service/maps/models.py``), so an ETag built from it and from the normalised request
changes exactly when the answer can. Map answers carry weak ETags: the gzip middleware may
change the bytes of an equivalent representation. A resource a client may write back (an
incident) carries a strong one (``strong_etag``), from a version of that one resource, so
that ``If-Match`` (which compares strongly, RFC 9110 13.1.1) can hold a write to the version
the client read.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send


def _digest(parts: tuple[object, ...]) -> str:
    return hashlib.blake2b("\x1f".join(map(str, parts)).encode(), digest_size=12).hexdigest()


def etag(*parts: object) -> str:
    return f'W/"{_digest(parts)}"'


def strong_etag(*parts: object) -> str:
    """A strong ETag from the parts of one resource's version (not from its bytes)."""
    return f'"{_digest(parts)}"'


def _opaque(tag: str) -> str:
    tag = tag.strip()
    return tag[2:] if tag.startswith("W/") else tag


def matches(request: Request, current: str) -> bool:
    """Whether ``If-None-Match`` names the current representation (weak comparison)."""
    header = request.headers.get("if-none-match")
    if not header:
        return False
    if header.strip() == "*":
        return True
    return _opaque(current) in {_opaque(t) for t in header.split(",")}


# RFC 9110 8.8.3: entity-tag = [ "W/" ] DQUOTE *etagc DQUOTE; etagc = %x21 / %x23-7E / obs-text.
# A comma is an etagc, so a list is read tag by tag, never split on commas.
_ENTITY_TAG = re.compile(r'[ \t]*(W/)?("[\x21\x23-\x7e\x80-\xff]*")[ \t]*(,|$)')
_EMPTY_ELEMENT = re.compile(r"[ \t]*,")


@dataclass(frozen=True)
class IfMatch:
    """An ``If-Match`` header as RFC 9110 13.1.1 reads it: ``*`` (any current
    representation) or a list of entity tags, of which the strong ones can match (a weak tag
    never matches: If-Match compares strongly)."""

    any: bool
    strong: frozenset[str]

    def holds(self, current: str) -> bool:
        """Whether a resource whose strong ETag is ``current`` satisfies the condition."""
        return self.any or current in self.strong

    @classmethod
    def parse(cls, lines: list[str]) -> IfMatch | None:
        """The header from its field lines (several lines are one comma-separated list);
        None without one; ValueError, with the reason, when it is not ``*`` or a list of
        entity tags."""
        if not lines:
            return None
        value = ", ".join(lines)
        if value.strip() == "*":
            return cls(any=True, strong=frozenset())
        strong: set[str] = set()
        seen = 0
        position = 0
        while position < len(value):
            empty = _EMPTY_ELEMENT.match(value, position)
            if empty:  # RFC 9110 5.6.1: empty list elements are ignored
                position = empty.end()
                continue
            if not value[position:].strip(" \t"):
                break
            found = _ENTITY_TAG.match(value, position)
            if found is None:
                raise ValueError('not "*" or a list of entity tags such as "abc" (quotes included)')
            seen += 1
            if found.group(1) is None:
                strong.add(found.group(2))
            position = found.end()
        if not seen:
            raise ValueError("empty; send the ETag you read, or leave the header out")
        return cls(any=False, strong=frozenset(strong))


def cache_headers(tag: str, *, public: bool, max_age_s: int) -> dict[str, str]:
    """Public answers may sit in shared caches for a while; authorised ones are private
    and revalidated on each use (a 304 costs one small query)."""
    control = f"public, max-age={max_age_s}" if public else "private, no-cache"
    return {"ETag": tag, "Cache-Control": control, "Vary": "Authorization, Accept-Encoding"}


def credentialed(request: Request) -> bool:
    return "authorization" in request.headers


class PartsResponse(Response):
    """A body sent as the parts it was built from: a page of 10,000 features (6 MB) is not
    copied once more just to join its envelope to its features."""

    def __init__(self, parts: Sequence[bytes], *, media_type: str, headers: dict[str, str]) -> None:
        self.parts = [part for part in parts if part]
        length = str(sum(len(part) for part in self.parts))
        super().__init__(media_type=media_type, headers={**headers, "Content-Length": length})

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await send(
            {"type": "http.response.start", "status": self.status_code, "headers": self.raw_headers}
        )
        last = len(self.parts) - 1
        for index, part in enumerate(self.parts):
            await send({"type": "http.response.body", "body": part, "more_body": index < last})
        if not self.parts:
            await send({"type": "http.response.body", "body": b""})


def conditional(
    request: Request,
    *,
    tag: str,
    public: bool,
    max_age_s: int,
    media_type: str,
    build: Callable[[], bytes | list[bytes]],
) -> Response:
    """304 when the client holds the current representation (``build`` is not called),
    else the body ``build`` makes (bytes, or parts to send in turn), with the validators."""
    # An answer to a request with credentials never goes to a shared cache, whatever it shows.
    headers = cache_headers(tag, public=public and not credentialed(request), max_age_s=max_age_s)
    if matches(request, tag):
        return Response(status_code=304, headers=headers)
    body = build()
    if isinstance(body, list):
        return PartsResponse(body, media_type=media_type, headers=headers)
    return Response(content=body, media_type=media_type, headers=headers)


# Every cacheable answer may be gzipped and may depend on the caller's key.
_ALWAYS_VARY = ("Authorization", "Accept-Encoding")


def _vary(existing: list[bytes]) -> bytes:
    tokens: list[str] = []
    for value in existing:
        for token in value.decode("latin-1").split(","):
            token = token.strip()
            if token and token.lower() not in {t.lower() for t in tokens}:
                tokens.append(token)
    for token in _ALWAYS_VARY:
        if token.lower() not in {t.lower() for t in tokens}:
            tokens.append(token)
    return ", ".join(tokens).encode("latin-1")


def _private(control: bytes) -> bytes:
    directives = [d.strip() for d in control.decode("latin-1").split(",") if d.strip()]
    kept = [d for d in directives if d.lower() not in ("public", "private")]
    kept = [d for d in kept if not d.lower().startswith("s-maxage")]
    return ", ".join(["private", *kept]).encode("latin-1")


class CacheHeadersMiddleware:
    """The last word on caching headers, whatever route answered.

    A response that carries an ETag or a Cache-Control (other than ``no-store``) says
    ``Vary: Authorization, Accept-Encoding`` besides what the route named (``Accept`` where
    the format is negotiated), once each; and the answer to a request with credentials is
    ``private``, so no shared cache ever stores one caller's view for another. Placed outside
    the gzip middleware, whose own ``Vary`` it merges.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        with_credentials = any(name == b"authorization" for name, _ in scope["headers"])

        async def send_with_cache_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                names = {name.lower() for name, _ in headers}
                control = b", ".join(v for k, v in headers if k.lower() == b"cache-control")
                cacheable = b"etag" in names or (
                    b"cache-control" in names and b"no-store" not in control.lower()
                )
                if cacheable:
                    vary = [v for k, v in headers if k.lower() == b"vary"]
                    headers = [(k, v) for k, v in headers if k.lower() != b"vary"]
                    headers.append((b"vary", _vary(vary)))
                    if with_credentials and b"public" in control.lower():
                        headers = [(k, v) for k, v in headers if k.lower() != b"cache-control"]
                        headers.append((b"cache-control", _private(control)))
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, send_with_cache_headers)
