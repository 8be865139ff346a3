"""OGC API - Features, Part 1 (core, GeoJSON, OpenAPI 3.0), at the root of the service.

Collections: ``incidents`` (public or full view, by the caller's key), ``provinces`` and
``districts``. Every link is absolute (QGIS stops paging at a relative ``next``) and typed
(GDAL follows only typed ones).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import orjson
from fastapi import APIRouter, Request
from starlette.responses import Response

from service import links
from service.config import get_settings
from service.db import SessionDep
from service.errors import InvalidParameter
from service.event.filters import BBox, TimeRange
from service.event.parameters import FILTER_PARAMS, INCIDENT_PARAMS, Params
from service.event.resolve import read_filters
from service.geography.service import resolve_province
from service.maps.context import MapContext, MapDep
from service.maps.tallies import count_statement
from service.ogc import schemas, service
from service.openapi import as_openapi_30
from service.theatre.service import Attribution, attribution

router = APIRouter(tags=["ogc"])

PAGING = frozenset({"limit", "bbox", "cursor", "f", "datetime"})
INCIDENT_ITEM_PARAMS = PAGING | FILTER_PARAMS | INCIDENT_PARAMS | {"count"}
FORMATS = ("json", "geojson", schemas.JSON, schemas.GEOJSON)


def _json(body: Any, media_type: str = schemas.JSON, headers: dict | None = None) -> Response:
    return Response(content=orjson.dumps(body), media_type=media_type, headers=headers)


def _check_format(params: Params) -> None:
    if params.get("f") is not None and params.get("f") not in FORMATS:
        raise InvalidParameter("f", "only JSON is served (f=json)")


def _plain(request: Request) -> Params:
    params = Params.read(request.query_params.multi_items(), {"f"})
    _check_format(params)
    return params


def _link(href: str, rel: str, media_type: str, title: str | None = None) -> dict[str, str]:
    link = {"href": href, "rel": rel, "type": media_type}
    if title:
        link["title"] = title
    return link


@router.get("/", response_model=schemas.LandingPage)
def landing_page(request: Request, session: SessionDep) -> Response:
    """The OGC API - Features landing page."""
    _plain(request)
    base = links.base_url()
    credits = attribution(session=session)
    return _json(
        {
            "title": "ceasefire-monitor",
            "description": "Reported violations of the ceasefire, as OGC API - Features"
            " collections, aggregates and vector tiles.",
            **_attribution_member(credits),
            "links": [
                _link(f"{base}/", "self", schemas.JSON, "This document"),
                _link(f"{base}/api", "service-desc", schemas.OPENAPI_MEDIA_TYPE, "The API (JSON)"),
                _link(f"{base}/docs", "service-doc", "text/html", "The API documentation"),
                _link(
                    f"{base}/console/",
                    "service-doc",
                    "text/html",
                    "The console: map, daily digests and the verifier queue",
                ),
                _link(f"{base}/conformance", "conformance", schemas.JSON, "Conformance classes"),
                _link(f"{base}/collections", "data", schemas.JSON, "The collections"),
                _link(
                    f"{base}/tiles/incidents.json",
                    "describedby",
                    schemas.JSON,
                    "TileJSON of the incidents' vector tiles",
                ),
                *credits.license_links(),
            ],
        }
    )


def _attribution_member(credits: Attribution) -> dict[str, str]:
    return {"attribution": credits.html} if credits.html else {}


@router.get("/conformance", response_model=schemas.Conformance)
def conformance(request: Request) -> Response:
    _plain(request)
    return _json({"conformsTo": schemas.CONFORMANCE_CLASSES})


@router.get("/api", responses={200: {"content": {schemas.OPENAPI_MEDIA_TYPE: {}}}})
def api_document(request: Request) -> Response:
    """This service's OpenAPI document in OpenAPI 3.0, as the conformance class ``oas30``
    and QGIS want it (``/openapi.json`` is the same API in OpenAPI 3.1, for ``/docs``)."""
    _plain(request)
    document = getattr(request.app.state, "openapi_30", None)
    if document is None:
        document = request.app.state.openapi_30 = orjson.dumps(as_openapi_30(request.app.openapi()))
    return Response(content=document, media_type=schemas.OPENAPI_MEDIA_TYPE)


# ---- collections ----

_TITLES = {
    "incidents": (
        "Incidents",
        "Ceasefire incidents. Without a monitor, verifier or admin key: verified incidents"
        " only, each at the centre of its public grid cell, on its local day.",
    ),
    "provinces": ("Governorates", "Administrative level 1 (OCHA), full resolution."),
    "districts": ("Districts", "Administrative level 2 (OCHA), full resolution."),
}


def _collection(
    base: str, name: str, extent: dict[str, Any], credits: Attribution
) -> dict[str, Any]:
    title, description = _TITLES[name]
    href = f"{base}/collections/{name}"
    body: dict[str, Any] = {
        "id": name,
        "title": title,
        "description": description,
        "itemType": "feature",
        "crs": [schemas.CRS84],
        "extent": {},
        **_attribution_member(credits),
        "links": [
            _link(href, "self", schemas.JSON, title),
            _link(f"{href}/items", "items", schemas.GEOJSON, f"{title} (GeoJSON)"),
            *credits.license_links(),
        ],
    }
    if extent.get("spatial"):
        body["extent"]["spatial"] = {"bbox": extent["spatial"], "crs": schemas.CRS84}
    if extent.get("temporal"):
        body["extent"]["temporal"] = {"interval": extent["temporal"], "trs": schemas.GREGORIAN}
    return body


def _collection_doc(ctx: MapContext, base: str, name: str) -> dict[str, Any]:
    if name == "incidents":
        extent = service.incident_extent(session=ctx.session, view=ctx.view)
    else:
        extent = service.area_extent(session=ctx.session, level=service.AREA_LEVELS[name])
    return _collection(base, name, extent, attribution(session=ctx.session))


def _conditional_json(request: Request, ctx: MapContext, build) -> Response:  # noqa: ANN001
    return ctx.conditional(
        request,
        request.url.path,
        links.base_url(),
        media_type=schemas.JSON,
        build=lambda: orjson.dumps(build()),
    )


@router.get("/collections", response_model=schemas.Collections)
def collections(request: Request, ctx: MapDep) -> Response:
    _plain(request)
    base = links.base_url()
    return _conditional_json(
        request,
        ctx,
        lambda: {
            "links": [_link(f"{base}/collections", "self", schemas.JSON, "The collections")],
            "collections": [_collection_doc(ctx, base, name) for name in _TITLES],
        },
    )


@router.get("/collections/incidents", response_model=schemas.Collection)
def incidents_collection(request: Request, ctx: MapDep) -> Response:
    _plain(request)
    return _conditional_json(
        request, ctx, lambda: _collection_doc(ctx, links.base_url(), "incidents")
    )


@router.get("/collections/provinces", response_model=schemas.Collection)
def provinces_collection(request: Request, ctx: MapDep) -> Response:
    _plain(request)
    return _conditional_json(
        request, ctx, lambda: _collection_doc(ctx, links.base_url(), "provinces")
    )


@router.get("/collections/districts", response_model=schemas.Collection)
def districts_collection(request: Request, ctx: MapDep) -> Response:
    _plain(request)
    return _conditional_json(
        request, ctx, lambda: _collection_doc(ctx, links.base_url(), "districts")
    )


# ---- items ----


def _limit(params: Params) -> int:
    settings = get_settings()
    asked = params.integer("limit", default=settings.map_limit_default, minimum=1)
    return min(asked, settings.map_limit_max)  # the standard: clamp, do not fail


def _page_body(
    page: service.Page, *, matched: int | None, links: list[dict[str, str]]
) -> list[bytes]:
    """The FeatureCollection in three parts: the features are sent as read, never copied."""
    now = dt.datetime.now(dt.UTC).isoformat(timespec="seconds").replace("+00:00", "Z")
    tail = [b'],"numberReturned":', str(page.returned).encode()]
    if matched is not None:
        tail += [b',"numberMatched":', str(matched).encode()]
    tail += [b',"timeStamp":"', now.encode(), b'","links":', orjson.dumps(links), b"}"]
    return [b'{"type":"FeatureCollection","features":[', page.features, b"".join(tail)]


def _page_links(
    request: Request, name: str, params: Params, limit: int, next_cursor: str | None
) -> list[dict[str, str]]:
    page_links = [
        _link(links.request_url(request), "self", schemas.GEOJSON, "This page"),
        _link(links.absolute(f"/collections/{name}"), "collection", schemas.JSON, _TITLES[name][0]),
    ]
    if next_cursor is not None:
        query = {k: v for k, v in params.values.items() if k != "cursor"}
        query.update(limit=str(limit), cursor=next_cursor)
        items = f"/collections/{name}/items"
        page_links.append(_link(links.absolute(items, query), "next", schemas.GEOJSON, "Next page"))
    return page_links


def _items_response(request: Request, ctx: MapContext, params: Params, build) -> Response:  # noqa: ANN001
    return ctx.conditional(
        request,
        request.url.path,
        links.base_url(),
        params.normalised(),
        media_type=schemas.GEOJSON,
        build=build,
    )


@router.get(
    "/collections/incidents/items",
    response_model=schemas.FeatureCollectionPage,
    responses={200: {"content": {schemas.GEOJSON: {}}}, 403: {}},
    openapi_extra={"parameters": schemas.INCIDENT_ITEMS_PARAMETERS},
)
def incident_items(request: Request, ctx: MapDep) -> Response:
    """Incidents, newest first (the public's: in a stable order of ids), a page at a time."""
    params = Params.read(request.query_params.multi_items(), INCIDENT_ITEM_PARAMS)
    _check_format(params)
    limit = _limit(params)
    asked = read_filters(session=ctx.session, raw=params.raw(), timezone=ctx.state.timezone)
    filters = ctx.view.restrict(asked)
    cursor = service.incident_order(ctx.view).decode(params.get("cursor"))
    always_count = params.choice("count", ("true", "false"), default="false") == "true"

    def build() -> list[bytes]:
        # Counted on the first page (clients read it there), unless a count is asked for:
        # the following pages of the same query would count the same thing again. The
        # tallies' count is read with the page, in its round trip.
        count = None
        if cursor is None or always_count:
            count = count_statement(filters, ctx.state.timezone)
        page = service.incident_page(
            session=ctx.session,
            view=ctx.view,
            filters=filters,
            limit=limit,
            cursor=cursor,
            count=count,
        )
        matched = page.matched
        if matched is None and always_count:
            matched = service.count_incidents(session=ctx.session, view=ctx.view, filters=filters)
        page_links = _page_links(request, "incidents", params, limit, page.next_cursor)
        return _page_body(page, matched=matched, links=page_links)

    return _items_response(request, ctx, params, build)


def _feature_body(feature: str, links: list[dict[str, str]]) -> bytes:
    return feature[:-1].encode() + b',"links":' + orjson.dumps(links) + b"}"


def _item_links(request: Request, name: str) -> list[dict[str, str]]:
    return [
        _link(links.request_url(request), "self", schemas.GEOJSON, "This feature"),
        _link(links.absolute(f"/collections/{name}"), "collection", schemas.JSON, _TITLES[name][0]),
    ]


@router.get(
    "/collections/incidents/items/{featureId}",
    responses={200: {"content": {schemas.GEOJSON: {}}}},
)
def incident_item(featureId: str, request: Request, ctx: MapDep) -> Response:  # noqa: N803
    """One incident, as the caller's view shows it."""
    params = _plain(request)

    def build() -> bytes:
        feature = service.incident_feature(session=ctx.session, view=ctx.view, feature_id=featureId)
        return _feature_body(feature, _item_links(request, "incidents"))

    return _items_response(request, ctx, params, build)


def _area_items(request: Request, ctx: MapContext, name: str, *, with_province: bool) -> Response:
    allowed = PAGING | ({"province"} if with_province else set())
    params = Params.read(request.query_params.multi_items(), allowed)
    _check_format(params)
    limit = _limit(params)
    if params.get("datetime") is not None:  # validated; areas have no time, so it selects all
        TimeRange.parse(params.values["datetime"], ctx.state.timezone)
    bbox = BBox.parse_ogc(params.values["bbox"]) if params.get("bbox") is not None else None
    parent = None
    if params.get("province") is not None:
        parent = resolve_province(session=ctx.session, name=params.values["province"]).pcode
    cursor = service.AREA_ORDER.decode(params.get("cursor"))

    def build() -> bytes:
        page, matched = service.area_page(
            session=ctx.session,
            level=service.AREA_LEVELS[name],
            bbox=bbox,
            parent=parent,
            limit=limit,
            cursor=cursor,
        )
        page_links = _page_links(request, name, params, limit, page.next_cursor)
        return _page_body(page, matched=matched, links=page_links)

    return _items_response(request, ctx, params, build)


@router.get(
    "/collections/provinces/items",
    response_model=schemas.FeatureCollectionPage,
    responses={200: {"content": {schemas.GEOJSON: {}}}},
    openapi_extra={"parameters": schemas.AREA_ITEMS_PARAMETERS},
)
def province_items(request: Request, ctx: MapDep) -> Response:
    return _area_items(request, ctx, "provinces", with_province=False)


@router.get(
    "/collections/districts/items",
    response_model=schemas.FeatureCollectionPage,
    responses={200: {"content": {schemas.GEOJSON: {}}}},
    openapi_extra={"parameters": schemas.DISTRICT_ITEMS_PARAMETERS},
)
def district_items(request: Request, ctx: MapDep) -> Response:
    return _area_items(request, ctx, "districts", with_province=True)


def _area_item(request: Request, ctx: MapContext, name: str, pcode: str) -> Response:
    params = _plain(request)

    def build() -> bytes:
        feature = service.area_feature(
            session=ctx.session, level=service.AREA_LEVELS[name], pcode=pcode
        )
        return _feature_body(feature, _item_links(request, name))

    return _items_response(request, ctx, params, build)


@router.get(
    "/collections/provinces/items/{featureId}",
    responses={200: {"content": {schemas.GEOJSON: {}}}},
)
def province_item(featureId: str, request: Request, ctx: MapDep) -> Response:  # noqa: N803
    return _area_item(request, ctx, "provinces", featureId)


@router.get(
    "/collections/districts/items/{featureId}",
    responses={200: {"content": {schemas.GEOJSON: {}}}},
)
def district_item(featureId: str, request: Request, ctx: MapDep) -> Response:  # noqa: N803
    return _area_item(request, ctx, "districts", featureId)
