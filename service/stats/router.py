"""Aggregates for choropleths, heat maps and charts."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fastapi import APIRouter, Request
from starlette.responses import Response

from service.config import get_settings
from service.errors import InvalidParameter
from service.event.parameters import (
    FILTER_PARAMS,
    INCIDENT_PARAMS,
    Params,
    filter_parameters,
    query_parameter,
)
from service.event.resolve import read_filters
from service.geojson import GEOJSON_MEDIA_TYPE, FeatureCollection
from service.maps.context import MapContext, MapDep
from service.maps.view import COUNTED_STATUSES
from service.stats import service

router = APIRouter(prefix="/v1/stats", tags=["stats"])

# Every aggregate reads every filter (a bad value is refused as on every reader); those the
# daily rollup cannot answer are then refused by the service.
FILTERS = FILTER_PARAMS | INCIDENT_PARAMS
_FILTERS = filter_parameters(FILTERS)
_STATUS_NOTE = (
    " Counts cover unverified, verified and disputed incidents (merged ones count in their"
    " survivor; rejected ones are not incidents) unless `status` says otherwise; the public"
    " counts verified incidents only, and a row counting fewer than `public_min_count`"
    " (default 3) has null figures and `suppressed: true`. Days are the theatre's local days."
    " The counts are those of `/collections/incidents/items` with the same filters and the"
    " same `status` (`numberMatched`), for any `datetime`, whole days or not."
)


def _filters(ctx: MapContext, params: Params):  # noqa: ANN202
    asked = read_filters(session=ctx.session, raw=params.raw(), timezone=ctx.state.timezone)
    return ctx.view.restrict(asked, default_statuses=COUNTED_STATUSES)


def _min_count(ctx: MapContext) -> int:
    """The public's suppression threshold (figures about fewer incidents are withheld);
    1 (nothing withheld) for monitors, verifiers and admins."""
    return get_settings().public_min_count if ctx.view.public else 1


def _respond(
    request: Request,
    ctx: MapContext,
    params: Params,
    media_type: str,
    count: Callable[..., bytes],
    **options: Any,
) -> Response:
    """The aggregate ``count`` computes for the request's filters (and ``options``), or
    304 when the client holds it already."""
    filters = _filters(ctx, params)
    min_count = _min_count(ctx)
    return ctx.conditional(
        request,
        min_count,
        request.url.path,
        params.normalised(),
        media_type=media_type,
        build=lambda: count(
            session=ctx.session, filters=filters, view=ctx.view, min_count=min_count, **options
        ),
    )


_GEOJSON = {"model": FeatureCollection, "content": {GEOJSON_MEDIA_TYPE: {}}}


def _route(path: str, description: str, ok: dict[str, Any], parameters: list) -> Callable:
    """An aggregate's route: its description (with the status note), its 200 answer and its
    query parameters."""
    return router.get(
        path,
        description=description + _STATUS_NOTE,
        response_class=Response,
        responses={200: ok, 403: {}},
        openapi_extra={"parameters": parameters},
    )


@_route(
    "/provinces",
    "Governorates (simplified polygons) with counts for the period: incidents,"
    " violations, verified, killed, civilians killed, injured and violations per guarantor,"
    " from the daily rollup (partial days at the window's edges, and filters the rollup"
    " does not hold, counted from incidents).",
    _GEOJSON,
    [
        *_FILTERS,
        query_parameter(
            "simplify",
            "Polygon simplification tolerance in degrees (default 0.01; 0 = full).",
            {"type": "number", "minimum": 0, "maximum": 1, "default": 0.01},
        ),
    ],
)
def province_stats(request: Request, ctx: MapDep) -> Response:
    params = Params.read(request.query_params.multi_items(), FILTERS | {"simplify"})
    simplify = params.number("simplify")
    simplify = 0.01 if simplify is None else simplify
    if not 0 <= simplify <= 1:
        raise InvalidParameter("simplify", "between 0 and 1 degree")
    return _respond(
        request,
        ctx,
        params,
        GEOJSON_MEDIA_TYPE,
        service.province_counts,
        simplify=simplify,
        areas_version=ctx.state.version("areas"),
    )


@_route(
    "/grid",
    "Square cells (integer keys `i = floor(lon / cell)`, `j = floor(lat / cell)`)"
    " with their counts; only cells holding incidents are listed.",
    _GEOJSON,
    [
        query_parameter(
            "cell",
            "The cells' side in degrees (default: the public grid's). For the public, a"
            " whole multiple of the public grid.",
            {"type": "number", "minimum": 0.01, "maximum": 10},
        ),
        *_FILTERS,
    ],
)
def grid_stats(request: Request, ctx: MapDep) -> Response:
    params = Params.read(request.query_params.multi_items(), FILTERS | {"cell"})
    cell = params.number("cell")
    cell = ctx.view.cell if cell is None else cell
    service.grid_factor(ctx.view, cell)  # refuses a cell this caller may not ask for
    return _respond(request, ctx, params, GEOJSON_MEDIA_TYPE, service.grid, cell=cell)


@_route(
    "/timeseries",
    "Counts per day, week or month, with an explicit zero for quiet periods.",
    {"content": {"application/json": {}}},
    [
        query_parameter(
            "interval",
            "day, week (from Monday) or month.",
            {"type": "string", "enum": list(service.INTERVALS), "default": "day"},
        ),
        *_FILTERS,
    ],
)
def timeseries_stats(request: Request, ctx: MapDep) -> Response:
    params = Params.read(request.query_params.multi_items(), FILTERS | {"interval"})
    interval = params.choice("interval", service.INTERVALS, default="day")
    return _respond(request, ctx, params, "application/json", service.timeseries, interval=interval)
