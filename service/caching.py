"""HTTP validators for map responses: ETags from the data's version, 304 without work.

The data version is a counter the database bumps in every transaction that changes the data
(see ``service/stats/models.py``), so an ETag built from it and from the normalised request
changes exactly when the answer can. Weak ETags: the gzip middleware may change the bytes
of an equivalent representation.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable

from starlette.requests import Request
from starlette.responses import Response


def etag(*parts: object) -> str:
    digest = hashlib.blake2b("\x1f".join(map(str, parts)).encode(), digest_size=12).hexdigest()
    return f'W/"{digest}"'


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


def cache_headers(tag: str, *, public: bool, max_age_s: int) -> dict[str, str]:
    """Public answers may sit in shared caches for a while; authorised ones are private
    and revalidated on each use (a 304 costs one small query)."""
    control = f"public, max-age={max_age_s}" if public else "private, no-cache"
    return {"ETag": tag, "Cache-Control": control, "Vary": "Authorization"}


def conditional(
    request: Request,
    *,
    tag: str,
    public: bool,
    max_age_s: int,
    media_type: str,
    build: Callable[[], bytes],
) -> Response:
    """304 when the client holds the current representation (``build`` is not called),
    else the body ``build`` makes, with the validators."""
    headers = cache_headers(tag, public=public, max_age_s=max_age_s)
    if matches(request, tag):
        return Response(status_code=304, headers=headers)
    return Response(content=build(), media_type=media_type, headers=headers)
