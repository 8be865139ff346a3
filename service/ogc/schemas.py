"""Shapes of the OGC API - Features documents, and the query parameters the OpenAPI
document advertises for item lists (QGIS reads ``components.parameters.limit``'s default and
maximum to choose its page size)."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from service.config import get_settings
from service.incident.models import CeasefireStatus, IncidentStatus, ViolationType
from service.incident.query import CURSOR_PATTERN

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


def query_parameter(name: str, description: str, schema: dict[str, Any]) -> dict[str, Any]:
    """A parameter that is not a feature property (QGIS offers as filterable properties the
    parameters that state ``style: form`` and ``explode: false``, so these state neither)."""
    return {
        "name": name,
        "in": "query",
        "required": False,
        "description": description,
        "schema": schema,
    }


def form_parameter(name: str, description: str, schema: dict[str, Any]) -> dict[str, Any]:
    """A property filter, or a standard parameter QGIS knows by name (limit, bbox, datetime)."""
    return {
        "name": name,
        "in": "query",
        "required": False,
        "style": "form",
        "explode": False,
        "description": description,
        "schema": schema,
    }


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
        "bbox": form_parameter(
            "bbox",
            "minLon,minLat,maxLon,maxLat in CRS84 (a 6-number box is read without heights)."
            " The public's boxes select incidents by their generalised position.",
            {"type": "array", "minItems": 4, "maxItems": 6, "items": {"type": "number"}},
        ),
        "datetime": form_parameter(
            "datetime",
            "An instant or an interval `start/end` (`..` for an open end), RFC 3339 with an"
            " offset; a date is the whole day in the theatre's time zone. The public's"
            " times are days.",
            DATETIME_SCHEMA,
        ),
        "cursor": query_parameter(
            "cursor",
            "Where the previous page ended: copy it from a `next` link.",
            {"type": "string", "minLength": 1, "maxLength": 200, "pattern": CURSOR_PATTERN},
        ),
        "f": query_parameter(
            "f", "Response format: JSON only.", {"type": "string", "enum": ["json"]}
        ),
    }


def _choices(values: Any) -> dict[str, Any]:
    """A comma-separated list of known values, as a pattern clients can generate from."""
    alternatives = "|".join(v.value for v in values)
    return {"type": "string", "pattern": f"^({alternatives})(,({alternatives}))*$"}


_NAME = {"type": "string", "minLength": 1, "maxLength": 300}
_INSTANT = r"\d{4}-\d{2}-\d{2}([Tt ][0-9:.]+([Zz]|[+-]\d{2}:\d{2}))?"
# An instant, or an interval with at least one end given (`..` marks an open end).
DATETIME_SCHEMA = {
    "type": "string",
    "pattern": rf"^({_INSTANT}(/({_INSTANT}|\.\.))?|\.\./{_INSTANT})$",
}


def ref_parameter(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/parameters/{name}"}


PAGING_PARAMETERS = [
    ref_parameter("limit"),
    ref_parameter("bbox"),
    ref_parameter("cursor"),
    ref_parameter("f"),
]
INCIDENT_FILTERS = [
    form_parameter("province", "Governorates by P-code or name, comma-separated.", _NAME),
    form_parameter(
        "violation_type",
        "Violation types, comma-separated (airstrike, shelling, ...).",
        _choices(ViolationType),
    ),
    form_parameter(
        "ceasefire_status",
        "violation, excluded, not_party or outside_period; comma-separated.",
        _choices(CeasefireStatus),
    ),
    form_parameter(
        "guarantor",
        "A guarantor answering for the perpetrator (RUS, TUR, IRN).",
        {"type": "string", "pattern": "^[A-Za-z]{3}$"},
    ),
    form_parameter("party", "A party (perpetrator or target), by id or any alias.", _NAME),
    form_parameter(
        "status",
        "Review statuses, comma-separated. Without a monitor, verifier or admin key only"
        " `verified` is allowed (and applied).",
        _choices(IncidentStatus),
    ),
]
INCIDENT_ITEMS_PARAMETERS = [
    *PAGING_PARAMETERS,
    ref_parameter("datetime"),
    *INCIDENT_FILTERS,
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
    form_parameter("province", "The governorate's P-code or name.", _NAME),
]
