"""Incident filters read from query parameters, shared by features, tiles and aggregates.

Map clients get a 400 problem for any parameter they misspell (OGC API - Features asks for
it, and a silently ignored filter shows the wrong map), for a repeated parameter and for a
malformed value. Names are resolved here: a province by name or P-code, a party by any alias.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from sqlalchemy import text
from sqlalchemy.orm import Session

from service.errors import BadRequest
from service.geography.service import AreaNames
from service.incident.models import CeasefireStatus, IncidentStatus, ViolationType
from service.incident.query import BBox, EventFilters, TimeRange
from service.text import normalise_name

# Parameters every incident filter understands; endpoints add their own.
FILTER_PARAMS = frozenset(
    {"bbox", "datetime", "province", "violation_type", "ceasefire_status", "guarantor", "party"}
)
STATUS_PARAM = "status"
_MAX_VALUE_LENGTH = 500


@dataclass(frozen=True)
class Params:
    """The query parameters of one request: each name at most once, every name known."""

    values: dict[str, str]

    @classmethod
    def read(cls, items: Iterable[tuple[str, str]], allowed: Iterable[str]) -> Params:
        known = frozenset(allowed)
        values: dict[str, str] = {}
        for name, value in items:
            if name not in known:
                raise BadRequest(
                    f"unknown query parameter {name!r}; this endpoint accepts:"
                    f" {', '.join(sorted(known))}"
                )
            if name in values:
                raise BadRequest(f"{name}: give this parameter once")
            if len(value) > _MAX_VALUE_LENGTH:
                raise BadRequest(f"{name}: longer than {_MAX_VALUE_LENGTH} characters")
            values[name] = value
        return cls(values)

    def get(self, name: str) -> str | None:
        return self.values.get(name)

    def normalised(self, exclude: Iterable[str] = ()) -> str:
        """A canonical form of the query, for cache keys: sorted, without ``exclude``."""
        skip = set(exclude)
        return "&".join(f"{k}={v}" for k, v in sorted(self.values.items()) if k not in skip)

    def integer(self, name: str, *, default: int, minimum: int) -> int:
        raw = self.values.get(name)
        if raw is None:
            return default
        try:
            value = int(raw)
        except ValueError as exc:
            raise BadRequest(f"{name}: {raw!r} is not an integer") from exc
        if value < minimum:
            raise BadRequest(f"{name}: must be at least {minimum}")
        return value

    def number(self, name: str) -> float | None:
        raw = self.values.get(name)
        if raw is None:
            return None
        try:
            value = float(raw)
        except ValueError as exc:
            raise BadRequest(f"{name}: {raw!r} is not a number") from exc
        if value != value or value in (float("inf"), float("-inf")):
            raise BadRequest(f"{name}: must be finite")
        return value

    def choice(self, name: str, options: Iterable[str], *, default: str) -> str:
        raw = self.values.get(name, default)
        choices = tuple(options)
        if raw not in choices:
            raise BadRequest(f"{name}: {raw!r} is not one of {', '.join(choices)}")
        return raw


def _listed(params: Params, name: str, known: type) -> tuple[str, ...] | None:
    raw = params.get(name)
    if raw is None:
        return None
    values = tuple(dict.fromkeys(v.strip() for v in raw.split(",")))
    allowed = {m.value for m in known}
    unknown = [v for v in values if v not in allowed]
    if unknown or not values:
        raise BadRequest(
            f"{name}: {', '.join(repr(v) for v in unknown) or 'no value'} is not one of"
            f" {', '.join(sorted(allowed))}"
        )
    return values


def _provinces(session: Session, raw: str | None) -> tuple[str, ...] | None:
    if raw is None:
        return None
    names = AreaNames.load(session)
    pcodes = []
    for name in (v.strip() for v in raw.split(",")):
        area = names.resolve(name) if name else None
        if area is None:
            raise BadRequest(f"province: no province is known as {name!r}")
        pcodes.append(area.pcode)
    return tuple(dict.fromkeys(pcodes))


def _guarantor(session: Session, raw: str | None) -> str | None:
    if raw is None:
        return None
    known = set(session.execute(text("SELECT id FROM guarantors")).scalars())
    value = raw.strip().upper()
    if value not in known:
        raise BadRequest(f"guarantor: {raw!r} is not one of {', '.join(sorted(known))}")
    return value


def _party(session: Session, raw: str | None) -> str | None:
    if raw is None:
        return None
    party_id = session.execute(
        text("SELECT party_id FROM party_aliases WHERE alias_norm = :norm"),
        {"norm": normalise_name(raw)},
    ).scalar()
    if party_id is None:
        raise BadRequest(f"party: no party is known as {raw!r}")
    return party_id


def incident_filters(*, session: Session, params: Params, timezone: ZoneInfo) -> EventFilters:
    """The filters named in ``params`` (absent ones unfiltered), validated and resolved."""
    times = TimeRange()
    if params.get("datetime") is not None:
        times = TimeRange.parse(params.values["datetime"], timezone)
    bbox = params.get("bbox")
    return EventFilters(
        provinces=_provinces(session, params.get("province")),
        violation_types=_listed(params, "violation_type", ViolationType),
        ceasefire_statuses=_listed(params, "ceasefire_status", CeasefireStatus),
        guarantor=_guarantor(session, params.get("guarantor")),
        party=_party(session, params.get("party")),
        statuses=_listed(params, STATUS_PARAM, IncidentStatus),
        since=times.since,
        until=times.until,
        bbox=BBox.parse_ogc(bbox) if bbox is not None else None,
    )
