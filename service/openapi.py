"""The OpenAPI document: stable operation ids and problem+json error responses."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi
from fastapi.routing import APIRoute

from service.errors import PROBLEM_MEDIA_TYPE
from service.ogc.schemas import component_parameters

PROBLEM_SCHEMA: dict[str, Any] = {
    "type": "object",
    "description": "RFC 9457 problem details.",
    "required": ["type", "title", "status", "detail"],
    "properties": {
        "type": {"type": "string"},
        "title": {"type": "string"},
        "status": {"type": "integer"},
        "detail": {"type": "string"},
        "errors": {
            "type": "array",
            "items": {
                "type": "object",
                "properties": {"field": {"type": "string"}, "message": {"type": "string"}},
            },
        },
    },
    "additionalProperties": True,
}

_ERROR_DESCRIPTIONS = {
    "400": "Bad request",
    "401": "Missing or invalid credentials",
    "403": "Not allowed for this key's role",
    "404": "Not found",
    "405": "Method not allowed",
    "406": "Not acceptable",
    "409": "Conflict",
    "413": "Payload too large",
    "415": "Unsupported media type",
    "422": "Invalid input",
    "429": "Rate limited",
    "503": "Service unavailable",
}
# Every operation can answer these; others are declared per route.
_DEFAULT_ERRORS = ("400", "404", "422", "503")


def operation_id(route: APIRoute) -> str:
    """Stable ids: "{tag}-{function name}", independent of paths and methods."""
    tag = route.tags[0] if route.tags else "default"
    return f"{tag}-{route.name}"


def build_openapi(app: FastAPI) -> dict[str, Any]:
    if app.openapi_schema:
        return app.openapi_schema
    schema = get_openapi(
        title=app.title,
        version=app.version,
        description=app.description,
        routes=app.routes,
    )
    schemas = schema.setdefault("components", {}).setdefault("schemas", {})
    schemas.pop("HTTPValidationError", None)
    schemas.pop("ValidationError", None)
    schemas["Problem"] = PROBLEM_SCHEMA
    # Referenced by the map endpoints; QGIS reads limit's default and maximum from here.
    schema["components"]["parameters"] = component_parameters()
    problem = {PROBLEM_MEDIA_TYPE: {"schema": {"$ref": "#/components/schemas/Problem"}}}
    for path_item in schema.get("paths", {}).values():
        for operation in path_item.values():
            responses = operation.setdefault("responses", {})
            for code in _DEFAULT_ERRORS:
                responses.setdefault(code, {"description": _ERROR_DESCRIPTIONS[code]})
            for code, response in responses.items():
                if code.startswith(("4", "5")):
                    response["content"] = problem
                    response.setdefault("description", _ERROR_DESCRIPTIONS.get(code, "Error"))
    app.openapi_schema = schema
    return schema
