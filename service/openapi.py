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


# ---- OpenAPI 3.0, for OGC API - Features clients ----
#
# FastAPI writes OpenAPI 3.1 (served at /openapi.json, read by /docs). OGC API - Features
# Part 1 defines its API-definition class for OpenAPI 3.0 only (conf/oas30), and QGIS finds
# the API document only through a service-desc link typed
# `application/vnd.oai.openapi+json;version=3.0` (without it QGIS refuses the connection),
# so /api serves the same document rewritten in OpenAPI 3.0's dialect of JSON Schema.

_SCHEMA_KEYS_31_ONLY = ("$schema", "$id", "$comment", "$defs", "contentMediaType")


def _schema_30(schema: Any) -> Any:
    """One JSON Schema (2020-12, as OpenAPI 3.1 has it) as an OpenAPI 3.0 Schema Object."""
    if isinstance(schema, list):
        return [_schema_30(s) for s in schema]
    if not isinstance(schema, dict):
        return schema
    out = {k: v for k, v in schema.items() if k not in _SCHEMA_KEYS_31_ONLY}
    for key in ("properties", "patternProperties"):
        if isinstance(out.get(key), dict):
            out[key] = {name: _schema_30(s) for name, s in out[key].items()}
    for key in ("items", "additionalProperties", "not"):
        if isinstance(out.get(key), dict):
            out[key] = _schema_30(out[key])
    for key in ("allOf", "anyOf", "oneOf"):
        if isinstance(out.get(key), list):
            out[key] = [_schema_30(s) for s in out[key]]
    if "const" in out:
        out["enum"] = [out.pop("const")]
    if isinstance(out.get("examples"), list):
        examples = out.pop("examples")
        if examples:
            out["example"] = examples[0]
    for bound, inclusive in (("exclusiveMinimum", "minimum"), ("exclusiveMaximum", "maximum")):
        if isinstance(out.get(bound), int | float) and not isinstance(out[bound], bool):
            out[inclusive] = out.pop(bound)
            out[bound] = True
    if "prefixItems" in out:  # a tuple: 3.0 says only what every position holds
        positions = out.pop("prefixItems")
        distinct = [p for i, p in enumerate(positions) if p not in positions[:i]]
        out["items"] = distinct[0] if len(distinct) == 1 else {"anyOf": distinct}
    if isinstance(out.get("type"), list):
        types = [t for t in out["type"] if t != "null"]
        if len(types) < len(out["type"]):
            out["nullable"] = True
        if len(types) == 1:
            out["type"] = types[0]
        else:
            del out["type"]
            out["anyOf"] = [{"type": t} for t in types]
    for key in ("anyOf", "oneOf"):
        members = out.get(key)
        if isinstance(members, list) and {"type": "null"} in members:
            rest = [m for m in members if m != {"type": "null"}]
            del out[key]
            out["nullable"] = True
            if len(rest) == 1 and "$ref" not in rest[0]:
                out = {**rest[0], **out}
            else:
                out["allOf" if len(rest) == 1 else key] = rest
    if "$ref" in out and len(out) > 1:  # 3.0 ignores a $ref's siblings: keep them
        out = {"allOf": [{"$ref": out.pop("$ref")}], **out}
    return out


def _walk_30(node: Any, key: str | None = None) -> Any:
    """The document with every Schema Object rewritten (schemas sit under ``schema`` in
    parameters, media types and headers, and in ``components.schemas``)."""
    if isinstance(node, list):
        return [_walk_30(n) for n in node]
    if not isinstance(node, dict):
        return node
    if key == "schema":
        return _schema_30(node)
    if key == "schemas":
        return {name: _schema_30(s) for name, s in node.items()}
    return {k: _walk_30(v, k) for k, v in node.items()}


def as_openapi_30(document: dict[str, Any]) -> dict[str, Any]:
    """The OpenAPI 3.1 document FastAPI builds, in OpenAPI 3.0.3."""
    converted = _walk_30({k: v for k, v in document.items() if k not in ("webhooks",)})
    converted["openapi"] = "3.0.3"
    converted.pop("jsonSchemaDialect", None)
    info = converted.get("info", {})
    info.pop("summary", None)
    if isinstance(info.get("license"), dict):
        info["license"].pop("identifier", None)
    return converted
