"""The OpenAPI document: stable operation ids and problem+json error responses."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi
from fastapi.routing import APIRoute, iter_route_contexts

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
    "408": "Request timeout",
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


def _calls(dependant: Any) -> set[Any]:
    calls = {dependant.call}
    for sub in dependant.dependencies:
        calls |= _calls(sub)
    return calls


def _optional_auth_operations(app: FastAPI) -> set[tuple[str, str]]:
    """(path, method) of routes that read a key when one is given but serve the public too.

    Their security becomes `[{}, {"HTTPBearer": []}]`: OpenAPI's way to say "optional".
    """
    optional = set()
    # Routers are included lazily in this FastAPI: walk the effective routes as get_openapi does.
    for route in iter_route_contexts(app.routes):
        if not isinstance(route.original_route, APIRoute):
            continue
        calls = _calls(route.dependant)
        required = any(getattr(c, "__qualname__", "").startswith("require.") for c in calls)
        if any(getattr(c, "optional_auth", False) for c in calls) and not required:
            optional |= {(route.path_format, m.lower()) for m in route.methods}
    return optional


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
    optional_auth = _optional_auth_operations(app)
    for path, path_item in schema.get("paths", {}).items():
        for method, operation in path_item.items():
            if (path, method) in optional_auth and operation.get("security"):
                operation["security"] = [{}, *operation["security"]]
            responses = operation.setdefault("responses", {})
            for response in responses.values():
                for media in response.get("content", {}).values():
                    # A Response subclass adds {"type": "string"} beside the model's $ref.
                    if "$ref" in media.get("schema", {}):
                        media["schema"] = {"$ref": media["schema"]["$ref"]}
            for code in _DEFAULT_ERRORS:
                responses.setdefault(code, {"description": _ERROR_DESCRIPTIONS[code]})
            for code, response in responses.items():
                if code.startswith(("4", "5")):
                    response["content"] = problem
                    response.setdefault("description", _ERROR_DESCRIPTIONS.get(code, "Error"))
    app.openapi_schema = schema
    return schema
