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
    "414": "URI too long",
    "415": "Unsupported media type",
    "422": "Invalid input",
    "429": "Rate limited",
    "431": "Request header fields too large",
    "503": "Service unavailable",
}
# Every operation can answer these (a control character or an over-long value anywhere in
# the request, a client over its rate limit); others are declared per route.
_DEFAULT_ERRORS = ("400", "404", "414", "422", "429", "431", "503")
# ...and every operation with a body these.
_BODY_ERRORS = ("413", "415")
# What the request guard admits in a path, query or header value: no C0 or C1 control
# characters, no DEL (see service/request_guard.py).
NO_CONTROL_CHARACTERS = "^[^\\u0000-\\u001f\\u007f-\\u009f]*$"


def _no_control_characters(schema: Any) -> None:
    """Give every free-text string in a parameter's schema the pattern the guard enforces."""
    if isinstance(schema, list):
        for item in schema:
            _no_control_characters(item)
        return
    if not isinstance(schema, dict):
        return
    free_text = not {"pattern", "format", "enum", "const", "$ref"} & schema.keys()
    if schema.get("type") == "string" and free_text:
        schema["pattern"] = NO_CONTROL_CHARACTERS
    for key in ("anyOf", "oneOf", "allOf", "items"):
        if key in schema:
            _no_control_characters(schema[key])


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
    for parameter in schema["components"]["parameters"].values():
        _no_control_characters(parameter.get("schema"))
    for path, path_item in schema.get("paths", {}).items():
        for method, operation in path_item.items():
            for parameter in operation.get("parameters", []):
                _no_control_characters(parameter.get("schema"))
            if (path, method) in optional_auth and operation.get("security"):
                operation["security"] = [{}, *operation["security"]]
            responses = operation.setdefault("responses", {})
            for response in responses.values():
                for media in response.get("content", {}).values():
                    # A Response subclass adds {"type": "string"} beside the model's $ref.
                    if "$ref" in media.get("schema", {}):
                        media["schema"] = {"$ref": media["schema"]["$ref"]}
            body_errors = _BODY_ERRORS if "requestBody" in operation else ()
            for code in (*_DEFAULT_ERRORS, *body_errors):
                responses.setdefault(code, {"description": _ERROR_DESCRIPTIONS[code]})
            for code, response in responses.items():
                if code.startswith(("4", "5")):
                    response["content"] = problem
                    response.setdefault("description", _ERROR_DESCRIPTIONS.get(code, "Error"))
    app.openapi_schema = schema
    return schema
