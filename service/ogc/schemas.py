"""Shapes of the OGC API - Features documents, and the query parameters the OpenAPI
document advertises for item lists (QGIS reads ``components.parameters.limit``'s default and
maximum to choose its page size)."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from service.config import get_settings
from service.event.paging import CURSOR_SCHEMA
from service.event.parameters import (
    BBOX_PARAMETER,
    DATETIME_PARAMETER,
    FILTER_PARAMS,
    INCIDENT_PARAMS,
    filter_parameters,
    form_parameter,
    query_parameter,
    ref_parameter,
)

INCIDENT_FILTER_NAMES = FILTER_PARAMS | INCIDENT_PARAMS

CRS84 = "http://www.opengis.net/def/crs/OGC/1.3/CRS84"
GREGORIAN = "http://www.opengis.net/def/uom/ISO-8601/0/Gregorian"
CONFORMANCE_CLASSES = [
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/core",
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/geojson",
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/oas30",
]
OPENAPI_MEDIA_TYPE = "application/vnd.oai.openapi+json;version=3.0"
JSON = "application/json"
GEOJSON = "application/geo+json"


class Link(BaseModel):
    model_config = ConfigDict(extra="allow")

    href: str
    rel: str
    type: str | None = None
    title: str | None = None


class LandingPage(BaseModel):
    title: str
    description: str
    attribution: str | None = None  # HTML: the sources credited, their licences linked
    links: list[Link]


class Conformance(BaseModel):
    conformsTo: list[str]  # noqa: N815 - the standard's name


class SpatialExtent(BaseModel):
    bbox: list[list[float]]
    crs: str = CRS84


class TemporalExtent(BaseModel):
    interval: list[list[str | None]]
    trs: str = GREGORIAN


class Extent(BaseModel):
    spatial: SpatialExtent | None = None
    temporal: TemporalExtent | None = None


class Collection(BaseModel):
    id: str
    title: str
    description: str
    itemType: str = "feature"  # noqa: N815
    crs: list[str] = Field(default_factory=lambda: [CRS84])
    extent: Extent | None = None
    attribution: str | None = None  # HTML, as on the landing page
    links: list[Link]


class Collections(BaseModel):
    links: list[Link]
    collections: list[Collection]


class FeatureCollectionPage(BaseModel):
    """An items page: GeoJSON plus the members OGC API - Features adds."""

    type: str = "FeatureCollection"
    features: list[dict[str, Any]]
    numberReturned: int  # noqa: N815
    numberMatched: int | None = None  # noqa: N815
    timeStamp: str  # noqa: N815
    links: list[Link]


def component_parameters() -> dict[str, dict[str, Any]]:
    """``components.parameters`` of the OpenAPI document."""
    settings = get_settings()
    return {
        "limit": form_parameter(
            "limit",
            f"Features per page (default {settings.map_limit_default}; larger values than"
            f" {settings.map_limit_max} are reduced to it). Follow the `next` link for more.",
            {
                "type": "integer",
                "minimum": 1,
                "maximum": settings.map_limit_max,
                "default": settings.map_limit_default,
            },
        ),
        "bbox": BBOX_PARAMETER,
        "datetime": DATETIME_PARAMETER,
        "cursor": query_parameter(
            "cursor",
            "Where the previous page ended: copy it from a `next` link.",
            CURSOR_SCHEMA,
        ),
        "f": query_parameter(
            "f", "Response format: JSON only.", {"type": "string", "enum": ["json"]}
        ),
    }


PAGING_PARAMETERS = [
    ref_parameter("limit"),
    ref_parameter("bbox"),
    ref_parameter("cursor"),
    ref_parameter("f"),
]
INCIDENT_ITEMS_PARAMETERS = [
    *PAGING_PARAMETERS,
    *filter_parameters(INCIDENT_FILTER_NAMES - {"bbox"}),
    query_parameter(
        "count",
        "`true` to have `numberMatched` on every page. Without it, it is given only when"
        " maintained counts can answer (no bbox, party or violation type filter; any window).",
        {"type": "string", "enum": ["true", "false"], "default": "false"},
    ),
]
AREA_ITEMS_PARAMETERS = [*PAGING_PARAMETERS, ref_parameter("datetime")]
DISTRICT_ITEMS_PARAMETERS = [
    *AREA_ITEMS_PARAMETERS,
    form_parameter(
        "province",
        "The governorate's P-code or name.",
        {"type": "string", "minLength": 1, "maxLength": 300},
    ),
]
