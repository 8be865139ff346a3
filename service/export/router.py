"""``/v1/exports``: incidents as CSV (optionally HXL-tagged) and as GeoPackage, streamed.

The caller's view is the map routes' (``service.maps``): without a key, or with a
reporter's, the public's (verified incidents, at their cell's centre, on their local day,
without the withheld columns); a monitor's, verifier's or admin's key (Bearer, or the
password of HTTP Basic for desktop GIS) sees every status but merged unless ``status`` asks,
the exact point and time. Filters are the event filters of ``/v1/incidents``, read by the
one resolver, refused with the same problems.
"""

from __future__ import annotations

import datetime as dt
import os
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO, Any

import anyio
import anyio.to_thread
from fastapi import APIRouter, Request
from starlette.responses import Response, StreamingResponse
from starlette.types import Receive, Scope, Send

from service import caching
from service.auth.dependencies import KEY_ERRORS
from service.config import get_settings
from service.errors import InvalidParameter
from service.event.parameters import (
    FILTER_PARAMS,
    INCIDENT_PARAMS,
    MAX_VALUE_LENGTH,
    filter_parameters,
    query_parameter,
)
from service.event.resolve import read_filters
from service.export import limits, service
from service.export.geopackage import write_geopackage
from service.export.tabular import csv_bytes
from service.maps.context import MapContext, MapTransactionDep

router = APIRouter(prefix="/v1/exports", tags=["exports"])

CSV_MEDIA_TYPE = "text/csv; charset=utf-8"
GPKG_MEDIA_TYPE = "application/geopackage+sqlite3"
HXL_PARAM = "hxl"
FILE_CHUNK = 1024 * 1024

_HXL_PARAMETER = query_parameter(
    HXL_PARAM,
    "true: an HXL hashtag row (https://hxlstandard.org) under the header.",
    {"type": "string", "enum": ["true", "false"]},
)
_COMMON_ERRORS: dict[int | str, dict[str, Any]] = {
    **KEY_ERRORS,
    304: {"description": "Not modified (`If-None-Match` names the current ETag)"},
    400: {"description": "A filter or parameter this endpoint does not accept"},
    403: {"description": "A status other than `verified` asked without a full-view key"},
}
_BUSY = {"description": "Too many exports running (see Retry-After)"}


class ExportResponse(StreamingResponse):
    """Streams ``parts``; however the answer ends (done, failed, client gone), then
    closes what ``close`` closes (the database cursor, the file) before the request's
    session is closed, and frees the export's slots."""

    def __init__(
        self, parts: Iterator[bytes], *, close: Callable[[], None], media_type: str, headers: dict
    ) -> None:
        super().__init__(parts, media_type=media_type, headers=headers)
        self._parts = parts
        self._close = close

    def _finish(self) -> None:
        try:
            getattr(self._parts, "close", lambda: None)()
        finally:
            self._close()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            await super().__call__(scope, receive, send)
        finally:
            with anyio.CancelScope(shield=True):
                await anyio.to_thread.run_sync(self._finish)


def _query(request: Request, allowed: frozenset[str]) -> dict[str, list[str]]:
    """The query's values by name (a name may repeat, as on ``/v1/incidents``); a name this
    endpoint does not know is refused: a misspelt filter would export the wrong incidents."""
    raw: dict[str, list[str]] = {}
    for name, value in request.query_params.multi_items():
        if name not in allowed:
            raise InvalidParameter(
                name,
                "not a parameter of this endpoint",
                detail=f"unknown query parameter {name!r}; this endpoint accepts:"
                f" {', '.join(sorted(allowed))}",
            )
        if len(value) > MAX_VALUE_LENGTH:
            raise InvalidParameter(name, f"longer than {MAX_VALUE_LENGTH} characters")
        raw.setdefault(name, []).append(value)
    return raw


def _hxl(raw: dict[str, list[str]]) -> bool:
    """``hxl`` (taken out of ``raw``): whether to write the hashtag row."""
    given = raw.pop(HXL_PARAM, None)
    if given is None:
        return False
    if len(given) != 1 or given[0] not in ("true", "false"):
        raise InvalidParameter(HXL_PARAM, "give true or false, once")
    return given[0] == "true"


def _prepare(ctx: MapContext, raw: dict[str, list[str]], *, geometry: bool) -> service.Export:
    asked = read_filters(session=ctx.session, raw=raw, timezone=ctx.state.timezone)
    filters = service.restrict(ctx.view, asked)
    return service.prepare(view=ctx.view, filters=filters, geometry=geometry)


def _headers(request: Request, ctx: MapContext, tag: str, filename: str) -> dict[str, str]:
    public = ctx.view.public and not caching.credentialed(request)
    headers = caching.cache_headers(
        tag, public=public, max_age_s=get_settings().map_public_max_age_s
    )
    return {**headers, "Content-Disposition": f'attachment; filename="{filename}"'}


def _filename(ctx: MapContext, extension: str) -> str:
    view = "public" if ctx.view.public else "full"
    return f"incidents-{view}-{dt.datetime.now(dt.UTC):%Y%m%dT%H%M%SZ}.{extension}"


def _tag(ctx: MapContext, kind: str, export: service.Export, *extra: object) -> str:
    """Changes with the data the view shows and with the resolved filters (two spellings of
    one filter share a tag)."""
    return caching.etag(*ctx.tag_parts(), "export", kind, repr(export.params), *extra)


@router.get(
    "/incidents.csv",
    response_class=Response,
    responses={
        **_COMMON_ERRORS,
        200: {
            "description": "The incidents as CSV (ACLED-like columns; see the README's Exports)",
            "content": {"text/csv": {"schema": {"type": "string"}}},
        },
        503: _BUSY,
    },
    openapi_extra={
        "parameters": [*filter_parameters(FILTER_PARAMS | INCIDENT_PARAMS), _HXL_PARAMETER]
    },
)
def export_csv(request: Request, ctx: MapTransactionDep) -> Response:
    """Every incident the caller may see that matches the filters, as CSV, streamed:
    a header row, with `hxl=true` an HXL hashtag row, then one row per incident."""
    raw = _query(request, FILTER_PARAMS | INCIDENT_PARAMS | {HXL_PARAM})
    hxl = _hxl(raw)
    export = _prepare(ctx, raw, geometry=False)
    tag = _tag(ctx, "csv", export, hxl)
    headers = _headers(request, ctx, tag, _filename(ctx, "csv"))
    if caching.matches(request, tag):
        return Response(status_code=304, headers=headers)
    release = limits.EXPORTS.take()
    rows = service.chunks(ctx.session, export)
    parts = csv_bytes(export.columns, rows, hxl=hxl)

    def close() -> None:
        try:
            rows.close()
        finally:
            release()

    return ExportResponse(parts, close=close, media_type=CSV_MEDIA_TYPE, headers=headers)


@router.get(
    "/incidents.gpkg",
    response_class=Response,
    responses={
        **_COMMON_ERRORS,
        200: {
            "description": "The incidents as a GeoPackage: layer `incidents` (points) and,"
            " when some incident has no point, table `incidents_without_point`",
            "content": {GPKG_MEDIA_TYPE: {"schema": {"type": "string", "format": "binary"}}},
        },
        503: {"description": "Too many exports running, or too little disk (see Retry-After)"},
    },
    openapi_extra={"parameters": filter_parameters(FILTER_PARAMS | INCIDENT_PARAMS)},
)
def export_geopackage(request: Request, ctx: MapTransactionDep) -> Response:
    """Every incident the caller may see that matches the filters, as a GeoPackage
    (written to a temporary file, then sent; the file is deleted as it is opened)."""
    export = _prepare(ctx, _query(request, FILTER_PARAMS | INCIDENT_PARAMS), geometry=True)
    tag = _tag(ctx, "gpkg", export)
    headers = _headers(request, ctx, tag, _filename(ctx, "gpkg"))
    if caching.matches(request, tag):
        return Response(status_code=304, headers=headers)
    release_export = limits.EXPORTS.take()
    try:
        release_file = limits.GEOPACKAGES.take()
    except BaseException:
        release_export()
        raise
    try:
        try:
            handle = _written(ctx, export)
        finally:
            release_export()  # the database's part is done
    except BaseException:
        release_file()
        raise
    size = os.fstat(handle.fileno()).st_size

    def close() -> None:
        try:
            handle.close()
        finally:
            release_file()

    return ExportResponse(
        _file_parts(handle),
        close=close,
        media_type=GPKG_MEDIA_TYPE,
        headers={**headers, "Content-Length": str(size)},
    )


def _written(ctx: MapContext, export: service.Export) -> IO[bytes]:
    """The GeoPackage, written to a temporary file and opened; the file's name is removed
    at once (its space is freed when the handle is closed, whatever happens next)."""
    directory = limits.export_directory()
    limits.remove_stale(directory)
    limits.check_free_space(directory)
    fd, name = tempfile.mkstemp(prefix=limits.TEMPORARY_PREFIX, suffix=".gpkg", dir=directory)
    os.close(fd)
    path = Path(name)
    try:
        rows = service.chunks(ctx.session, export)
        try:
            view = "public view" if ctx.view.public else "full view"
            write_geopackage(
                path,
                export.columns,
                rows,
                description=f"ceasefire-monitor incidents ({view})",
                between_chunks=lambda: limits.check_free_space(directory),
            )
        finally:
            rows.close()
        return path.open("rb")
    finally:
        path.unlink(missing_ok=True)


def _file_parts(handle: IO[bytes]) -> Iterator[bytes]:
    while part := handle.read(FILE_CHUNK):
        yield part
