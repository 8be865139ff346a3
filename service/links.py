"""Absolute links from configuration, never from the request's Host header.

Every absolute URL the service writes (paging links, OGC and TileJSON documents, Atom feeds,
``Location`` headers) is made here from the configured ``public_base_url``: a shared cache
can then never hand one client a link another client's forged ``Host`` put there.

``PublicOriginMiddleware`` also refuses Host values not in ``trusted_hosts`` (when that list
is not ``*``) and replaces the Host header and scheme every request carries with the
configured ones, so that nothing built from the request (``request.url``, Starlette's slash
redirects) can carry a forged host either.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from urllib.parse import quote, urlencode, urlsplit

from starlette.requests import Request
from starlette.types import ASGIApp, Receive, Scope, Send

from service.config import get_settings
from service.errors import problem_response

Query = str | Mapping[str, str] | Iterable[tuple[str, str]] | None

# Characters a path segment may carry unescaped (RFC 3986 pchar), plus the separator.
_PATH_SAFE = "/:@!$&'()*+,;=-._~"


def base_url() -> str:
    """The configured public base URL, without a trailing slash."""
    return get_settings().public_base_url


def absolute(path: str, query: Query = None) -> str:
    """The absolute URL of ``path`` (which the service built, starting with ``/``) under the
    public base URL, with ``query`` (a mapping or pairs, encoded here; or an encoded string)."""
    url = base_url() + path
    if query is not None and not isinstance(query, str):
        query = urlencode(list(query.items()) if isinstance(query, Mapping) else list(query))
    return f"{url}?{query}" if query else url


def request_url(request: Request, **replace: str) -> str:
    """This request's URL under the public base URL, with query parameters in ``replace``
    set (each replacing every value of that name)."""
    pairs = [(k, v) for k, v in request.query_params.multi_items() if k not in replace]
    pairs += list(replace.items())
    return absolute(quote(request.scope["path"], safe=_PATH_SAFE), pairs)


# ---- Host ----

_ANY_HOST_PATHS = frozenset({"/healthz", "/readyz"})


def _host_name(value: str) -> str:
    """The host part of a Host header value, lower-cased, without port or brackets."""
    try:
        parsed = urlsplit(f"//{value}")
        return (parsed.hostname or "").lower()
    except ValueError:
        return ""


class PublicOriginMiddleware:
    """Refuse untrusted Host headers (400), then present every request as addressed to the
    public base URL's scheme and host."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        settings = get_settings()
        public = urlsplit(settings.public_base_url)
        self.scheme = public.scheme
        self.host = public.netloc.encode("latin-1")
        hosts = {h.lower().strip("[]") for h in settings.trusted_hosts}
        self.any_host = "*" in hosts
        self.trusted = hosts | {(public.hostname or "").lower()}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = [(k, v) for k, v in scope["headers"] if k != b"host"]
        if not self.any_host and scope["path"] not in _ANY_HOST_PATHS:
            given = [v for k, v in scope["headers"] if k == b"host"]
            name = _host_name(given[0].decode("latin-1")) if len(given) == 1 else ""
            if name not in self.trusted:
                response = problem_response(
                    400,
                    "Bad request",
                    "unknown Host: this service answers only for the hosts it is configured"
                    " for (CEASEFIRE_TRUSTED_HOSTS)",
                    slug="unknown-host",
                )
                await response(scope, receive, send)
                return
        # In place: outer middleware reads what the router writes into this scope.
        scope["scheme"] = self.scheme
        scope["headers"] = [(b"host", self.host), *headers]
        await self.app(scope, receive, send)
