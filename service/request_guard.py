"""Refuse, before any route runs, requests carrying what no endpoint accepts: control
characters (NUL above all: PostgreSQL text cannot hold it) in the path, the query or a header
value, and paths, queries or header values longer than any real client sends.

Each refusal is a 4xx problem that names the part of the request at fault and never echoes
the value. Checking here, once, means no router, parser or SQL parameter ever sees such a
value, whatever endpoint is added later.
"""

from __future__ import annotations

import re
from urllib.parse import unquote

from starlette.types import ASGIApp, Receive, Scope, Send

from service.errors import problem_response

# C0 controls, DEL and C1 controls. Decoded paths and query values hold no legitimate one.
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")
# In header values RFC 9110 allows horizontal tab between words; nothing else below 0x20.
_HEADER_CONTROL = re.compile(rb"[\x00-\x08\x0a-\x1f\x7f]")


class RequestGuardMiddleware:
    def __init__(
        self, app: ASGIApp, *, max_path_chars: int, max_query_chars: int, max_header_bytes: int
    ) -> None:
        self.app = app
        self.max_path_chars = max_path_chars
        self.max_query_chars = max_query_chars
        self.max_header_bytes = max_header_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            refusal = self._refusal(scope)
            if refusal is not None:
                status, title, slug, detail = refusal
                await problem_response(status, title, detail, slug=slug)(scope, receive, send)
                return
        await self.app(scope, receive, send)

    def _refusal(self, scope: Scope) -> tuple[int, str, str, str] | None:
        path: str = scope["path"]
        query: bytes = scope.get("query_string", b"")
        if len(path) > self.max_path_chars or len(query) > self.max_query_chars:
            return (
                414,
                "URI too long",
                "uri-too-long",
                f"the path may have at most {self.max_path_chars} characters and the query"
                f" at most {self.max_query_chars}",
            )
        if _CONTROL.search(path):
            return _bad("the path contains a control character (such as %00); remove it")
        if query:
            # Every name and value as a server-side parser would see it (+ is a space).
            text = query.decode("utf-8", errors="replace").replace("+", " ")
            decoded = unquote(text, errors="replace")
            if _CONTROL.search(decoded):
                return _bad(
                    "the query string contains a control character (such as %00); remove it"
                )
        for name, value in scope["headers"]:
            if len(value) > self.max_header_bytes:
                return (
                    431,
                    "Request header fields too large",
                    "header-fields-too-large",
                    f"{_header_name(name)} is longer than {self.max_header_bytes} bytes",
                )
            if _HEADER_CONTROL.search(value):
                return _bad(f"{_header_name(name)} contains a control character")
        return None


def _bad(detail: str) -> tuple[int, str, str, str]:
    return 400, "Bad request", "bad-request", detail


def _header_name(raw: bytes) -> str:
    """How a refusal names a header: by its name when that is a plain token."""
    name = raw.decode("latin-1")
    return f"the {name} header" if re.fullmatch(r"[A-Za-z0-9-]{1,64}", name) else "a header"
