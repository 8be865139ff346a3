"""GeoJSON response class and the shapes the OpenAPI document advertises for it."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel
from starlette.responses import Response

GEOJSON_MEDIA_TYPE = "application/geo+json"


class GeoJSONResponse(Response):
    media_type = GEOJSON_MEDIA_TYPE


class Geometry(BaseModel):
    type: str
    coordinates: list[Any]


class Feature(BaseModel):
    type: Literal["Feature"]
    id: str | int
    geometry: Geometry | None
    properties: dict[str, Any] | None


class FeatureCollection(BaseModel):
    type: Literal["FeatureCollection"]
    features: list[Feature]
