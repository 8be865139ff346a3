"""The event filter model: what a list, a map, a tile or an aggregate of events is narrowed
by, and the one SQL condition it becomes.

Reports and incidents share their event columns, so one filter builder serves both: it
returns a SQLAlchemy Core condition over either table (or an alias of it), its values bound
as parameters. Values here are already
resolved (P-codes, party and guarantor ids); ``service.event.resolve`` reads them from a
request.
"""

from __future__ import annotations

import datetime as dt
import re
import uuid
from dataclasses import dataclass, field
from typing import Any, TypeVar
from zoneinfo import ZoneInfo

from sqlalchemy import (
    Float,
    FromClause,
    String,
    Text,
    and_,
    any_,
    bindparam,
    case,
    false,
    func,
    literal_column,
    true,
)
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.sql.elements import BindParameter, ColumnElement

from service.errors import InvalidParameter
from service.types import DAY_RANGE, day_in_range


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
            raise InvalidParameter("bbox", "give four numbers: minLon,minLat,maxLon,maxLat")
        try:
            numbers = [float(p) for p in parts]
        except ValueError as exc:
            raise InvalidParameter("bbox", "every value must be a number") from exc
        if any(n != n or n in (float("inf"), float("-inf")) for n in numbers):
            raise InvalidParameter("bbox", "values must be finite")
        min_lon, min_lat, max_lon, max_lat = numbers
        if not (-180 <= min_lon <= 180 and -180 <= max_lon <= 180):
            raise InvalidParameter("bbox", "longitudes must be within -180..180")
        if not (-90 <= min_lat <= 90 and -90 <= max_lat <= 90):
            raise InvalidParameter("bbox", "latitudes must be within -90..90")
        if min_lat > max_lat:
            raise InvalidParameter("bbox", "minLat is greater than maxLat")
        if min_lon > max_lon:
            raise InvalidParameter("bbox", "boxes crossing the antimeridian are not supported")
        return cls(min_lon, min_lat, max_lon, max_lat)

    @classmethod
    def parse_ogc(cls, value: str) -> BBox:
        """As ``parse``, and also the 6-number 3D form of OGC API - Features (heights are
        ignored: incidents have none)."""
        parts = value.replace("%2C", ",").replace("%2c", ",").split(",")
        if len(parts) == 6:
            value = ",".join([parts[0], parts[1], parts[3], parts[4]])
        return cls.parse(value)

    def normalised(self) -> str:
        return ",".join(repr(v) for v in (self.min_lon, self.min_lat, self.max_lon, self.max_lat))


# ---- time: OGC API datetime values and the theatre's local days ----

_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


def local_day_start(day: dt.date, tz: ZoneInfo) -> dt.datetime:
    """The first instant of a local day (where midnight is skipped, the instant the day
    begins, as PostgreSQL's ``AT TIME ZONE`` assigns it)."""
    return dt.datetime.combine(day, dt.time(0), tzinfo=tz).astimezone(dt.UTC)


def ceil_to_local_day(at: dt.datetime, tz: ZoneInfo) -> dt.datetime:
    """``at`` if it is the start of a local day, else the start of the next local day."""
    day = at.astimezone(tz).date()
    start = local_day_start(day, tz)
    return start if start >= at else local_day_start(day + dt.timedelta(days=1), tz)


def floor_to_local_day(at: dt.datetime, tz: ZoneInfo) -> dt.datetime:
    """The start of the local day holding ``at`` (``at`` itself at a local midnight)."""
    day = at.astimezone(tz).date()
    start = local_day_start(day, tz)
    return start if start <= at else local_day_start(day - dt.timedelta(days=1), tz)


@dataclass(frozen=True)
class TimeRange:
    """A half-open range of instants ``[since, until)``; None is an open end."""

    since: dt.datetime | None = None
    until: dt.datetime | None = None

    @classmethod
    def parse(cls, value: str, tz: ZoneInfo) -> TimeRange:
        """An OGC API ``datetime``: an instant, or an interval ``start/end`` whose ends may
        be ``..`` or empty (open). Both ends are inclusive. A date (``2017-01-10``) is the
        whole local day in ``tz``; a date-time needs its offset (``Z`` or ``+02:00``)."""
        value = value.strip()
        if "/" not in value:
            if value in ("", ".."):
                raise InvalidParameter("datetime", "give an instant or an interval start/end")
            since, until = parse_instant(value, tz, "datetime")
            return cls(since, until)
        start, _, end = value.partition("/")
        if "/" in end:
            raise InvalidParameter("datetime", "an interval has one '/'")
        since = None if start in ("", "..") else parse_instant(start, tz, "datetime")[0]
        until = None if end in ("", "..") else parse_instant(end, tz, "datetime")[1]
        if since is not None and until is not None and since >= until:
            raise InvalidParameter("datetime", "the interval ends before it starts")
        return cls(since, until)

    def ceil_to_local_days(self, tz: ZoneInfo) -> TimeRange:
        """The range of local-day starts in this range, as instants: a filter on the day an
        event happened (the public's time) equals a filter on the exact time with both
        ends moved up to the next local midnight."""
        return TimeRange(
            None if self.since is None else ceil_to_local_day(self.since, tz),
            None if self.until is None else ceil_to_local_day(self.until, tz),
        )

    def is_whole_local_days(self, tz: ZoneInfo) -> bool:
        return self == self.ceil_to_local_days(tz)

    def whole_local_days(self, tz: ZoneInfo) -> tuple[TimeRange | None, tuple[TimeRange, ...]]:
        """The range split at local midnights: the whole local days inside it (None when it
        holds no whole day) and the partial days at its edges (up to two ranges, each
        shorter than a day), which together cover exactly this range."""
        first = None if self.since is None else ceil_to_local_day(self.since, tz)
        end = None if self.until is None else floor_to_local_day(self.until, tz)
        if first is not None and end is not None and first >= end:
            return None, (self,)
        edges = []
        if self.since is not None and first is not None and self.since < first:
            edges.append(TimeRange(self.since, first))
        if self.until is not None and end is not None and end < self.until:
            edges.append(TimeRange(end, self.until))
        return TimeRange(first, end), tuple(edges)

    def touched_local_days(self, tz: ZoneInfo) -> tuple[dt.date | None, dt.date | None]:
        """The local days ``[first, end)`` holding some instant of the range (wholly or in
        part); None for an open end."""
        first = None if self.since is None else self.since.astimezone(tz).date()
        if self.until is None:
            return first, None
        last = (self.until - dt.timedelta(microseconds=1)).astimezone(tz).date()
        return first, last + dt.timedelta(days=1)

    def local_days(self, tz: ZoneInfo) -> tuple[dt.date | None, dt.date | None]:
        """The local days ``[first, end)`` whose start lies in the range."""
        rounded = self.ceil_to_local_days(tz)
        return (
            None if rounded.since is None else rounded.since.astimezone(tz).date(),
            None if rounded.until is None else rounded.until.astimezone(tz).date(),
        )


def parse_instant(text: str, tz: ZoneInfo, name: str) -> tuple[dt.datetime, dt.datetime]:
    """``[start, end)`` of one date (a local day) or date-time (one microsecond), given as
    parameter ``name``."""
    text = text.strip()
    if _DATE.match(text):
        try:
            day = dt.date.fromisoformat(text)
        except ValueError as exc:
            raise InvalidParameter(name, f"{text!r} is not a valid date") from exc
        if not day_in_range(day):
            raise InvalidParameter(name, f"{text!r} is outside {DAY_RANGE}")
        return local_day_start(day, tz), local_day_start(day + dt.timedelta(days=1), tz)
    try:
        at = dt.datetime.fromisoformat(text.replace("z", "Z").replace("t", "T"))
    except ValueError as exc:
        raise InvalidParameter(
            name, f"{text!r} is neither a date nor an RFC 3339 date-time"
        ) from exc
    if at.tzinfo is None:
        raise InvalidParameter(name, f"{text!r} needs a time zone offset (Z or +hh:mm)")
    if not day_in_range(at):
        raise InvalidParameter(name, f"{text!r} is outside {DAY_RANGE}")
    at = at.astimezone(dt.UTC)
    return at, at + dt.timedelta(microseconds=1)


@dataclass(frozen=True)
class EventFilters:
    """Every filter a list of events accepts; None means "not filtered"."""

    provinces: tuple[str, ...] | None = None  # P-codes, already resolved from names
    violation_types: tuple[str, ...] | None = None
    ceasefire_statuses: tuple[str, ...] | None = None
    guarantor: str | None = None
    party: str | None = None  # perpetrator or target
    statuses: tuple[str, ...] | None = None  # incidents only
    confidences: tuple[str, ...] | None = None  # incidents only: confidence bands
    since: dt.datetime | None = None  # occurred at or after
    until: dt.datetime | None = None  # occurred before
    bbox: BBox | None = None
    reporter_key_id: uuid.UUID | None = None  # reports only: a reporter sees its own
    extra: dict[str, Any] = field(default_factory=dict)


def bind(name: str, value: Any = None, type_: Any = None) -> BindParameter[Any]:
    """A value bound as parameter ``name``: values travel as parameters, so a statement is
    built and compiled once per shape (``service.event.statements``) and run with each
    request's values. Within one statement a name is one value."""
    return bindparam(name, value, type_=type_)


def _any_of(column: ColumnElement[Any], name: str, values: tuple[str, ...]) -> ColumnElement[bool]:
    """``column = ANY(:values)``: one array parameter, whatever the number of values (an
    ``IN`` list would be a new statement for every length)."""
    return column == any_(bind(name, list(values), ARRAY(String)))


def category_conditions(
    filters: EventFilters,
    *,
    province: ColumnElement[Any] | None,
    status: ColumnElement[Any] | None,
    ceasefire_status: ColumnElement[Any] | None,
    guarantors: ColumnElement[Any] | None,
    violation_type: ColumnElement[Any] | None = None,
    parties: tuple[ColumnElement[Any], ColumnElement[Any]] | None = None,
    confidence_band: ColumnElement[Any] | None = None,
) -> list[ColumnElement[bool]]:
    """The conditions incidents and the rollups share (every filter but time, box and
    reporter), over the given columns of either table (None: a column the table lacks,
    which the filters must then leave alone). ``parties`` are the perpetrator and target
    columns."""
    conditions: list[ColumnElement[bool]] = []
    for column, name, values in (
        (province, "f_provinces", filters.provinces),
        (status, "f_statuses", filters.statuses),
        (ceasefire_status, "f_cstatuses", filters.ceasefire_statuses),
        (confidence_band, "f_confidences", filters.confidences),
    ):
        if values is not None:
            conditions.append(_any_of(_given(column, name), name, values))
    if filters.guarantor is not None:
        guarantors = _given(guarantors, "f_guarantor")
        conditions.append(
            guarantors.contains(bind("f_guarantor", [filters.guarantor], ARRAY(String)))
        )
    if filters.violation_types is not None:
        column = _given(violation_type, "f_types")
        conditions.append(_any_of(column, "f_types", filters.violation_types))
    if filters.party is not None:
        perpetrator, target = _given(parties, "f_party")
        conditions.append(bind("f_party", filters.party, Text).in_([perpetrator, target]))
    return conditions


_T = TypeVar("_T")


def _given(column: _T | None, name: str) -> _T:
    if column is None:
        raise ValueError(f"{name}: this table has no such column")
    return column


def conditions(
    filters: EventFilters,
    table: FromClause,
    *,
    shown_geom: ColumnElement[Any] | None = None,
    margin: float = 0.0,
) -> ColumnElement[bool]:
    """The condition (``true`` when nothing is filtered) over ``table``: reports or
    incidents, or an alias of either.

    ``shown_geom`` replaces ``table.c.geom`` for the bbox test: public views pass their
    generalised geometry, so a tiny box cannot narrow down an exact position. With a
    ``margin`` (how far, in degrees, ``shown_geom`` may lie from ``table.c.geom``), the
    exact geometry is also tested against the box grown by that margin: the same rows, but
    the spatial index can find them.
    """
    c = table.c
    found = category_conditions(
        filters,
        province=c.province_pcode,
        status=c.get("status"),  # reports have none
        ceasefire_status=c.ceasefire_status,
        guarantors=c.responsible_guarantors,
        violation_type=c.violation_type,
        parties=(c.perpetrator_party_id, c.target_party_id),
        confidence_band=c.get("confidence_band"),  # reports have none
    )
    if filters.since is not None:
        found.append(c.occurred_at >= bind("f_since", filters.since))
    if filters.until is not None:
        found.append(c.occurred_at < bind("f_until", filters.until))
    if filters.bbox is not None:
        b = filters.bbox
        test = (shown_geom if shown_geom is not None else c.geom).bool_op("&&")(envelope(b))
        if shown_geom is not None and margin > 0:
            grown = BBox(
                b.min_lon - margin, b.min_lat - margin, b.max_lon + margin, b.max_lat + margin
            )
            found.append(c.geom.bool_op("&&")(envelope(grown, "f_grown")))
            # The indexed test above carries the real selectivity. A bare test on a computed
            # geometry has no statistics and would be estimated at 0.5% on top of it, which
            # makes the planner sort every match instead of walking an index; as a CASE it
            # counts as a coin flip.
            test = case((test, true()), else_=false())
        found.append(test)
    if filters.reporter_key_id is not None:
        found.append(c.reporter_key_id == bind("f_reporter", filters.reporter_key_id))
    return and_(true(), *found)


def envelope(box: BBox, name: str = "f") -> ColumnElement[Any]:
    """The box as a WGS 84 geometry, its corners bound as ``{name}_minx`` ... ``{name}_maxy``."""
    corners = zip(_CORNERS, (box.min_lon, box.min_lat, box.max_lon, box.max_lat), strict=True)
    binds = (bind(f"{name}_{corner}", value, Float) for corner, value in corners)
    return func.ST_MakeEnvelope(*binds, literal_column("4326"))


_CORNERS = ("minx", "miny", "maxx", "maxy")
