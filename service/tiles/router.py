"""Vector tiles of incidents and their TileJSON description."""

from __future__ import annotations

import orjson
from fastapi import APIRouter, Request
from starlette.responses import Response

from service import links
from service.config import get_settings
from service.errors import BadRequest, InvalidParameter
from service.event.parameters import (
    FILTER_PARAMS,
    INCIDENT_PARAMS,
    Params,
    filter_parameters,
    query_parameter,
)
from service.event.resolve import read_filters
from service.maps.context import MapDep
from service.ogc.schemas import JSON
from service.theatre.service import attribution
from service.tiles import service

router = APIRouter(prefix="/tiles", tags=["tiles"])

MVT_MEDIA_TYPE = "application/vnd.mapbox-vector-tile"
TILE_PARAMS = FILTER_PARAMS | INCIDENT_PARAMS
_TILE_PARAMETERS = filter_parameters(TILE_PARAMS)


def _coordinate(name: str, raw: str) -> int:
    if not raw.isdigit() or len(raw) > 8:
        raise BadRequest(f"{name}: {raw!r} is not a tile coordinate")
    return int(raw)


@router.get(
    "/incidents/{z}/{x}/{y}.mvt",
    responses={200: {"content": {MVT_MEDIA_TYPE: {}}}, 403: {}},
    openapi_extra={"parameters": _TILE_PARAMETERS},
)
def incident_tile(z: str, x: str, y: str, request: Request, ctx: MapDep) -> Response:
    """A Mapbox Vector Tile (Web Mercator): points from the configured zoom up, cells with
    counts below it. The public's tiles follow the public view."""
    settings = get_settings()
    zoom, col, row = _coordinate("z", z), _coordinate("x", x), _coordinate("y", y)
    service.check_tile(zoom, col, row, settings.tiles_max_zoom)
    params = Params.read(request.query_params.multi_items(), TILE_PARAMS)
    asked = read_filters(session=ctx.session, raw=params.raw(), timezone=ctx.state.timezone)
    filters = ctx.view.restrict(asked)
    return ctx.conditional(
        request,
        request.url.path,
        params.normalised(),
        media_type=MVT_MEDIA_TYPE,
        build=lambda: service.tile(
            session=ctx.session,
            view=ctx.view,
            filters=filters,
            z=zoom,
            x=col,
            y=row,
            point_min_zoom=settings.tiles_point_min_zoom,
            max_points=settings.tiles_max_points,
        ),
    )


@router.get(
    "/incidents.json",
    responses={200: {"content": {JSON: {}}}},
    openapi_extra={
        "parameters": [
            *_TILE_PARAMETERS,
            query_parameter("f", "JSON only.", {"type": "string", "enum": ["json"]}),
        ]
    },
)
def incident_tilejson(request: Request, ctx: MapDep) -> Response:
    """TileJSON 3.0 for the incident tiles; filters given here are carried into the tile URLs."""
    settings = get_settings()
    params = Params.read(request.query_params.multi_items(), TILE_PARAMS | {"f"})
    if params.get("f") not in (None, "json"):
        raise InvalidParameter("f", "only JSON is served (f=json)")
    read_filters(session=ctx.session, raw=params.raw(), timezone=ctx.state.timezone)
    query = {k: v for k, v in params.values.items() if k != "f"}
    bounds = service.theatre_bounds(session=ctx.session)
    point_zoom = settings.tiles_point_min_zoom
    fields = {
        "incidents": "incidents in the cell",
        "violations": "ceasefire violations in the cell",
        "killed": "people killed",
        "cell_deg": "the cell's side, in degrees",
    }
    point_fields = {
        "id": "incident id",
        "occurred_at": "the day (public) or the exact time",
        "violation_type": "violation type",
        "ceasefire_status": "ceasefire status",
        "status": "review status",
        "province": "governorate P-code",
        "killed": "people killed",
        "civilians_killed": "civilians killed",
        "guarantors": "responsible guarantors, comma-separated",
    }
    body = {
        "tilejson": "3.0.0",
        "name": "incidents",
        "description": "Ceasefire incidents: cells with counts below zoom"
        f" {point_zoom} (or where a tile would hold more than {settings.tiles_max_points}"
        " points), points from it up.",
        "scheme": "xyz",
        "tiles": [links.absolute("/tiles/incidents/{z}/{x}/{y}.mvt", query)],
        "minzoom": 0,
        "maxzoom": settings.tiles_max_zoom,
        "vector_layers": [
            {"id": "cells", "fields": fields, "minzoom": 0, "maxzoom": settings.tiles_max_zoom},
            {
                "id": "incidents",
                "fields": point_fields,
                "minzoom": point_zoom,
                "maxzoom": settings.tiles_max_zoom,
            },
        ],
    }
    credit = attribution(session=ctx.session).html
    if credit:
        body["attribution"] = credit  # TileJSON 3.0: an HTML string shown on the map
    if bounds is not None:
        body["bounds"] = list(bounds)
        body["center"] = [(bounds[0] + bounds[2]) / 2, (bounds[1] + bounds[3]) / 2, 6]
    return ctx.conditional(
        request,
        request.url.path,
        links.base_url(),
        params.normalised(),
        media_type=JSON,
        build=lambda: orjson.dumps(body),
    )
