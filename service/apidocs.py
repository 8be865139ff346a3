"""The API documentation pages (/docs: Swagger UI, /redoc: Redoc), with their own assets.

The scripts, style sheet and icon come from the npm packages pinned in web/package-lock.json
and installed by `.ci/provision`; the pages name only this service's URLs, and their
Content-Security-Policy lets a browser fetch nothing from another origin, so they work with
no network (and tell no third party who reads them).
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.openapi.docs import get_redoc_html, get_swagger_ui_html
from starlette.responses import FileResponse, HTMLResponse, Response

from service.config import get_settings
from service.errors import NotFound

router = APIRouter(include_in_schema=False)

STATIC_PREFIX = "/static/docs"

# name served -> (file under web/node_modules, media type). Only these are served.
ASSETS: dict[str, tuple[str, str]] = {
    "swagger-ui-bundle.js": (
        "swagger-ui-dist/swagger-ui-bundle.js",
        "text/javascript; charset=utf-8",
    ),
    "swagger-ui.css": ("swagger-ui-dist/swagger-ui.css", "text/css; charset=utf-8"),
    "favicon-32x32.png": ("swagger-ui-dist/favicon-32x32.png", "image/png"),
    "redoc.standalone.js": ("redoc/bundles/redoc.standalone.js", "text/javascript; charset=utf-8"),
}

# Inline scripts and styles: Swagger UI starts from one, both render styles inline. Redoc
# runs its search in a worker made from a blob.
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self' 'unsafe-inline'; style-src 'self' 'unsafe-inline';"
    " img-src 'self' data:; font-src 'self' data:; connect-src 'self';"
    " worker-src 'self' blob:; object-src 'none'; base-uri 'none'; frame-ancestors 'none'"
)
# The assets change only when web/package-lock.json does; a day in any cache is harmless.
ASSET_MAX_AGE_S = 86_400


def _url(request: Request, path: str) -> str:
    return request.scope.get("root_path", "") + path


def _page(html: HTMLResponse) -> HTMLResponse:
    html.headers["Content-Security-Policy"] = CONTENT_SECURITY_POLICY
    return html


@router.get("/docs")
def swagger_ui(request: Request) -> HTMLResponse:
    app = request.app
    return _page(
        get_swagger_ui_html(
            openapi_url=_url(request, app.openapi_url),
            title=f"{app.title} - Swagger UI",
            swagger_js_url=_url(request, f"{STATIC_PREFIX}/swagger-ui-bundle.js"),
            swagger_css_url=_url(request, f"{STATIC_PREFIX}/swagger-ui.css"),
            swagger_favicon_url=_url(request, f"{STATIC_PREFIX}/favicon-32x32.png"),
            # No badge fetched from swagger.io's online validator.
            swagger_ui_parameters={"validatorUrl": None},
        )
    )


@router.get("/redoc")
def redoc(request: Request) -> HTMLResponse:
    app = request.app
    return _page(
        get_redoc_html(
            openapi_url=_url(request, app.openapi_url),
            title=f"{app.title} - ReDoc",
            redoc_js_url=_url(request, f"{STATIC_PREFIX}/redoc.standalone.js"),
            redoc_favicon_url=_url(request, f"{STATIC_PREFIX}/favicon-32x32.png"),
            with_google_fonts=False,
        )
    )


@router.get(STATIC_PREFIX + "/{name}")
def asset(name: str) -> Response:
    entry = ASSETS.get(name)
    path = get_settings().web_modules_dir / entry[0] if entry else None
    if path is None or not path.is_file():
        raise NotFound(f"no documentation asset {name!r} (run .ci/provision to install them)")
    return FileResponse(
        path,
        media_type=entry[1],
        headers={"Cache-Control": f"public, max-age={ASSET_MAX_AGE_S}"},
    )
