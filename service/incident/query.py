"""Filters and keyset paging shared by every list of events (reports, incidents, features).

Reports and incidents share their event columns, so one filter builder serves both: it
returns a SQL condition over a table alias and its bound parameters.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import uuid
from dataclasses import dataclass, field
from typing import Any

import orjson

from service.errors import BadRequest

_NUMBER = r"\s*-?[0-9]+(\.[0-9]+)?([eE][-+]?[0-9]+)?\s*"
# Four comma-separated numbers, as the OpenAPI document advertises for `bbox` parameters.
BBOX_PATTERN = rf"^{_NUMBER}(,{_NUMBER}){{3}}$"
# Cursors are URL-safe base64 without padding.
CURSOR_PATTERN = r"^[A-Za-z0-9_-]+$"


@dataclass(frozen=True)
class BBox:
    min_lon: float
    min_lat: float
    max_lon: float
    max_lat: float

    @classmethod
    def parse(cls, value: str) -> BBox:
        """``minLon,minLat,maxLon,maxLat`` in WGS 84. A box crossing the antimeridian
        (minLon > maxLon) is refused: the monitored area never needs one."""
        parts = value.replace("%2C", ",").replace("%2c", ",").split(",")
        if len(parts) != 4:
            raise BadRequest("bbox: give four numbers: minLon,minLat,maxLon,maxLat")
        try:
            numbers = [float(p) for p in parts]
        except ValueError as exc:
            raise BadRequest("bbox: every value must be a number") from exc
        if any(n != n or n in (float("inf"), float("-inf")) for n in numbers):
            raise BadRequest("bbox: values must be finite")
        min_lon, min_lat, max_lon, max_lat = numbers
        if not (-180 <= min_lon <= 180 and -180 <= max_lon <= 180):
            raise BadRequest("bbox: longitudes must be within -180..180")
        if not (-90 <= min_lat <= 90 and -90 <= max_lat <= 90):
            raise BadRequest("bbox: latitudes must be within -90..90")
        if min_lat > max_lat:
            raise BadRequest("bbox: minLat is greater than maxLat")
        if min_lon > max_lon:
            raise BadRequest("bbox: boxes crossing the antimeridian are not supported")
        return cls(min_lon, min_lat, max_lon, max_lat)


@dataclass(frozen=True)
class EventFilters:
    """Every filter a list of events accepts; None means "not filtered"."""

    provinces: tuple[str, ...] | None = None  # P-codes, already resolved from names
    violation_types: tuple[str, ...] | None = None
    ceasefire_statuses: tuple[str, ...] | None = None
    guarantor: str | None = None
    party: str | None = None  # perpetrator or target
    statuses: tuple[str, ...] | None = None  # incidents only
    since: dt.datetime | None = None  # occurred at or after
    until: dt.datetime | None = None  # occurred before
    bbox: BBox | None = None
    reporter_key_id: uuid.UUID | None = None  # reports only: a reporter sees its own
    extra: dict[str, Any] = field(default_factory=dict)


def where(
    filters: EventFilters, alias: str, *, geom_sql: str | None = None
) -> tuple[str, dict[str, Any]]:
    """A SQL condition (never empty) over ``alias`` and its parameters.

    ``geom_sql`` replaces ``{alias}.geom`` for the bbox test: public views pass their
    generalised geometry, so a tiny box cannot narrow down an exact position.
    """
    a = alias
    conditions: list[str] = ["true"]
    params: dict[str, Any] = {}
    if filters.provinces is not None:
        conditions.append(f"{a}.province_pcode = ANY(:f_provinces)")
        params["f_provinces"] = list(filters.provinces)
    if filters.violation_types is not None:
        conditions.append(f"{a}.violation_type = ANY(:f_types)")
        params["f_types"] = list(filters.violation_types)
    if filters.ceasefire_statuses is not None:
        conditions.append(f"{a}.ceasefire_status = ANY(:f_cstatuses)")
        params["f_cstatuses"] = list(filters.ceasefire_statuses)
    if filters.guarantor is not None:
        conditions.append(f"{a}.responsible_guarantors @> ARRAY[CAST(:f_guarantor AS varchar)]")
        params["f_guarantor"] = filters.guarantor
    if filters.party is not None:
        conditions.append(f"(:f_party IN ({a}.perpetrator_party_id, {a}.target_party_id))")
        params["f_party"] = filters.party
    if filters.statuses is not None:
        conditions.append(f"{a}.status = ANY(:f_statuses)")
        params["f_statuses"] = list(filters.statuses)
    if filters.since is not None:
        conditions.append(f"{a}.occurred_at >= :f_since")
        params["f_since"] = filters.since
    if filters.until is not None:
        conditions.append(f"{a}.occurred_at < :f_until")
        params["f_until"] = filters.until
    if filters.bbox is not None:
        geom = geom_sql or f"{a}.geom"
        conditions.append(f"{geom} && ST_MakeEnvelope(:f_minx, :f_miny, :f_maxx, :f_maxy, 4326)")
        b = filters.bbox
        params.update(f_minx=b.min_lon, f_miny=b.min_lat, f_maxx=b.max_lon, f_maxy=b.max_lat)
    if filters.reporter_key_id is not None:
        conditions.append(f"{a}.reporter_key_id = :f_reporter")
        params["f_reporter"] = filters.reporter_key_id
    return " AND ".join(conditions), params


# ---- keyset paging: newest first by (sort timestamp, id) ----


@dataclass(frozen=True)
class Cursor:
    """Where the previous page ended. Opaque to clients (URL-safe base64 of JSON)."""

    at: dt.datetime
    id: uuid.UUID

    def encode(self) -> str:
        raw = orjson.dumps([self.at.isoformat(), str(self.id)])
        return base64.urlsafe_b64encode(raw).decode().rstrip("=")

    @classmethod
    def decode(cls, token: str) -> Cursor:
        try:
            raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
            at, ident = orjson.loads(raw)
            parsed = dt.datetime.fromisoformat(at)
            if parsed.tzinfo is None:
                raise ValueError("naive")
            return cls(parsed, uuid.UUID(ident))
        except (ValueError, TypeError, binascii.Error, orjson.JSONDecodeError) as exc:
            raise BadRequest("cursor: not a cursor this service issued") from exc


def after_cursor(cursor: Cursor | None, alias: str, column: str) -> tuple[str, dict[str, Any]]:
    """The keyset condition for a page ordered by ``(column DESC, id DESC)``."""
    if cursor is None:
        return "true", {}
    return (
        f"({alias}.{column}, {alias}.id) < (:c_at, :c_id)",
        {"c_at": cursor.at, "c_id": cursor.id},
    )
