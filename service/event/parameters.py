"""How event filters are spelled in a query, and how the OpenAPI document describes them.

Every reader of events (the ``/v1`` lists, the OGC items, the aggregates, the tiles)
advertises the same parameters from here, and reads them with ``service.event.resolve``.
List values are comma-separated; the ``/v1`` lists also take a parameter repeated.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from service.errors import InvalidParameter
from service.event.terms import CeasefireStatus, ConfidenceBand, IncidentStatus, ViolationType

# The names every event filter understands; a reader adds its own (paging, format...).
FILTER_PARAMS = frozenset(
    {
        "bbox",
        "datetime",
        "since",
        "until",
        "province",
        "violation_type",
        "ceasefire_status",
        "guarantor",
        "party",
    }
)
STATUS_PARAM = "status"
CONFIDENCE_PARAM = "confidence"
# The filters only incidents take (reports have no review status and no confidence).
INCIDENT_PARAMS = frozenset({STATUS_PARAM, CONFIDENCE_PARAM})
MAX_VALUE_LENGTH = 500


@dataclass(frozen=True)
class Params:
    """The query parameters of one map request: each name at most once, every name known
    (a misspelt filter would silently show the wrong map)."""

    values: dict[str, str]

    @classmethod
    def read(cls, items: Iterable[tuple[str, str]], allowed: Iterable[str]) -> Params:
        known = frozenset(allowed)
        values: dict[str, str] = {}
        for name, value in items:
            if name not in known:
                raise InvalidParameter(
                    name,
                    "not a parameter of this endpoint",
                    detail=f"unknown query parameter {name!r}; this endpoint accepts:"
                    f" {', '.join(sorted(known))}",
                )
            if name in values:
                raise InvalidParameter(name, "give this parameter once")
            if len(value) > MAX_VALUE_LENGTH:
                raise InvalidParameter(name, f"longer than {MAX_VALUE_LENGTH} characters")
            values[name] = value
        return cls(values)

    def raw(self) -> dict[str, list[str]]:
        """The values as ``service.event.resolve.read_filters`` reads them."""
        return {name: [value] for name, value in self.values.items()}

    def get(self, name: str) -> str | None:
        return self.values.get(name)

    def normalised(self, exclude: Iterable[str] = ()) -> str:
        """A canonical form of the query, for cache keys: sorted, without ``exclude``."""
        skip = set(exclude)
        return "&".join(f"{k}={v}" for k, v in sorted(self.values.items()) if k not in skip)

    def _parsed(self, name: str, convert: Callable[[str], Any], what: str) -> Any:
        """The value of ``name`` converted (None when absent); refused unless it is ``what``."""
        raw = self.values.get(name)
        if raw is None:
            return None
        try:
            return convert(raw)
        except ValueError as exc:
            raise InvalidParameter(name, f"{raw!r} is not {what}") from exc

    def integer(self, name: str, *, default: int, minimum: int) -> int:
        value = self._parsed(name, int, "an integer")
        if value is None:
            return default
        if value < minimum:
            raise InvalidParameter(name, f"must be at least {minimum}")
        return value

    def number(self, name: str) -> float | None:
        value = self._parsed(name, float, "a number")
        if value is not None and (value != value or value in (float("inf"), float("-inf"))):
            raise InvalidParameter(name, "must be finite")
        return value

    def choice(self, name: str, options: Iterable[str], *, default: str) -> str:
        raw = self.values.get(name, default)
        choices = tuple(options)
        if raw not in choices:
            raise InvalidParameter(name, f"{raw!r} is not one of {', '.join(choices)}")
        return raw


# ---- the OpenAPI description, one for every reader ----


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
    return {**query_parameter(name, description, schema), "style": "form", "explode": False}


def ref_parameter(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/parameters/{name}"}


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
_ENDPOINT = {"type": "string", "pattern": rf"^{_INSTANT}$"}

# ``components.parameters`` entries: the standard names QGIS and GDAL look up.
BBOX_PARAMETER = form_parameter(
    "bbox",
    "minLon,minLat,maxLon,maxLat in CRS84 (a 6-number box is read without heights)."
    " The public's boxes select incidents by their generalised position.",
    {"type": "array", "minItems": 4, "maxItems": 6, "items": {"type": "number"}},
)
DATETIME_PARAMETER = form_parameter(
    "datetime",
    "An instant or an interval `start/end` (`..` for an open end), RFC 3339 with an"
    " offset; a date is the whole day in the theatre's time zone. The public's"
    " times are days.",
    DATETIME_SCHEMA,
)

# Every event filter, in the order the document lists them; ``bbox`` and ``datetime`` by
# reference to the components above.
EVENT_FILTERS = [
    ref_parameter("bbox"),
    ref_parameter("datetime"),
    query_parameter(
        "since",
        "Occurred at or after this instant (RFC 3339 with an offset; a date is the start of"
        " that day in the theatre's time zone). Narrows `datetime` when both are given.",
        _ENDPOINT,
    ),
    query_parameter(
        "until", "Occurred before this instant (as `since`). Narrows `datetime`.", _ENDPOINT
    ),
    form_parameter("province", "Governorates by P-code or any known name, comma-separated.", _NAME),
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
    form_parameter(
        "party",
        "A party (perpetrator or target), by id, name or any alias: events whose party, as"
        " resolved for the event's own date, is the one named.",
        _NAME,
    ),
]
STATUS_FILTER = form_parameter(
    "status",
    "Review statuses, comma-separated. Without a monitor, verifier or admin key only"
    " `verified` is allowed (and applied).",
    _choices(IncidentStatus),
)
# Not a feature property of the OGC items: a plain query parameter (QGIS offers only those).
CONFIDENCE_FILTER = query_parameter(
    "confidence",
    "Confidence bands (low, medium, high; see the README's Confidence), comma-separated.",
    _choices(ConfidenceBand),
)
INCIDENT_FILTERS = [*EVENT_FILTERS, STATUS_FILTER, CONFIDENCE_FILTER]


def filter_parameters(names: Iterable[str]) -> list[dict[str, Any]]:
    """The documented filters a reader accepts, in the document's order."""
    wanted = set(names)
    out = []
    for parameter in INCIDENT_FILTERS:
        name = parameter.get("name") or parameter["$ref"].rsplit("/", 1)[1]
        if name in wanted:
            out.append(parameter)
    return out
