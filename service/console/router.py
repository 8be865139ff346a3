"""The console's pages (/console/: the map; /console/digest, /console/queue) and their
assets (/console/assets/NAME), from the build only, under a strict Content-Security-Policy:
scripts, styles, workers and data from this origin alone, no inline code, no framing."""

from __future__ import annotations

from fastapi import APIRouter
from starlette.responses import Response

from service.console import assets
from service.errors import NotFound, Unavailable

router = APIRouter(prefix="/console", include_in_schema=False)

CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:;"
    " connect-src 'self'; worker-src 'self' blob:; object-src 'none'; base-uri 'none';"
    " frame-ancestors 'none'; form-action 'self'"
)
SECURITY_HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
}
# Asset names carry their content's hash: a new build gives new names.
IMMUTABLE = "public, max-age=31536000, immutable"
# Pages name the current hashed assets, so they are revalidated on every load.
PAGE_CACHE = "no-cache"


def _send(found: assets.Asset, cache_control: str) -> Response:
    return Response(
        found.body,
        media_type=found.media_type,
        headers={**SECURITY_HEADERS, "Cache-Control": cache_control},
    )


def _page(name: str) -> Response:
    build = assets.current()
    if build.empty:
        raise Unavailable(
            "the console is not built: run .ci/provision (or `npm run build` in web/)"
        )
    page = build.pages.get(name)
    if page is None:
        raise NotFound(f"no console page {name!r}")
    return _send(page, PAGE_CACHE)


@router.api_route("/", methods=["GET", "HEAD"])
def map_page() -> Response:
    return _page("map")


@router.api_route("/digest", methods=["GET", "HEAD"])
def digest_page() -> Response:
    return _page("digest")


@router.api_route("/queue", methods=["GET", "HEAD"])
def queue_page() -> Response:
    return _page("queue")


@router.get("/assets/{name}")
def asset(name: str) -> Response:
    found = assets.current().assets.get(name)
    if found is None:
        raise NotFound(f"no console asset {name!r}")
    return _send(found, IMMUTABLE)
