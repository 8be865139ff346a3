"""Counts for maps and charts, read from the tallies the triggers keep current.

Every aggregate counts exactly the incidents the items of the same filters list, whatever
the window. Province choropleths and time series read ``incident_daily_counts`` for the
whole local days inside the window (cost grows with days x provinces x categories, never
with the number of incidents) and count the partial days at its edges from incidents; with
a filter the rollup does not hold (box, violation type, party) they count incidents. Grids
read incidents with integer cell keys, which the public's cells nest into.
"""

from __future__ import annotations

import datetime as dt
import math
import threading
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import (
    BigInteger,
    CompoundSelect,
    Date,
    Float,
    FromClause,
    Integer,
    Select,
    Text,
    and_,
    case,
    cast,
    func,
    literal_column,
    null,
    select,
    true,
)
from sqlalchemy.dialects.postgresql import INTERVAL
from sqlalchemy.orm import Session
from sqlalchemy.sql.elements import ColumnElement

from service.errors import BadRequest
from service.event.filters import EventFilters, TimeRange, bind
from service.event.statements import cached, shape, values
from service.event.terms import CeasefireStatus, IncidentStatus
from service.geography.models import AdminArea
from service.geography.service import PROVINCE_LEVEL
from service.incident.models import Incident
from service.maps.tallies import GROUP_BY_FIRST, counted_rows
from service.maps.view import IncidentView, cell_square
from service.party.models import Guarantor

VIOLATION = CeasefireStatus.violation.value
VERIFIED = IncidentStatus.verified.value


def _touched_days(filters: EventFilters, tz: ZoneInfo) -> tuple[dt.date | None, dt.date | None]:
    return TimeRange(filters.since, filters.until).touched_local_days(tz)


AREAS = AdminArea.__table__
GUARANTORS = Guarantor.__table__
INCIDENTS = Incident.__table__.alias("i")
ZERO = literal_column("0")


def _suppressed(incidents: ColumnElement[Any]) -> ColumnElement[bool]:
    """Whether a row counting ``incidents`` is suppressed (see below; ``min_count`` bound)."""
    return incidents.between(
        literal_column("1"), bind("min_count", type_=Integer) - literal_column("1")
    )


def _shown(
    rows: tuple[FromClause, ...], keys: list[ColumnElement[Any]], figures: dict[str, Any]
) -> tuple[FromClause, FromClause]:
    """Laterals over one row of ``rows``: ``h`` (``suppressed``: whether its figures are
    withheld) and ``props`` (its ``keys``, its ``figures`` by name, null when suppressed,
    and ``suppressed``), the properties a feature or bucket shows."""
    h = select(_suppressed(figures["incidents"]).label("suppressed")).correlate(*rows).lateral("h")
    shown = (case((h.c.suppressed, null()), else_=value).label(k) for k, value in figures.items())
    props = select(*keys, *shown, h.c.suppressed).correlate(*rows, h).lateral("props")
    return h, props


def _sums(r: FromClause) -> list[ColumnElement[Any]]:
    """The figures of counted rows ``r`` (incidents, violations, verified, killed, civilians
    killed), summed."""
    return [
        func.sum(r.c.incidents).label("incidents"),
        func.sum(r.c.incidents).filter(_violation(r)).label("violations"),
        func.sum(r.c.incidents).filter(r.c.status == bind("verified", VERIFIED)).label("verified"),
        func.sum(r.c.killed).label("killed"),
        func.sum(r.c.civilians_killed).label("civilians_killed"),
    ]


def _violation(r: FromClause) -> ColumnElement[bool]:
    return r.c.ceasefire_status == bind("violation", VIOLATION)


def _provinces(rows: Select | CompoundSelect) -> Select:
    """Every governorate's figures (``properties``, JSON text) over counted ``rows``."""
    r = rows.cte("r")
    counts = (
        select(r.c.province_pcode, *_sums(r), func.sum(r.c.injured).label("injured"))
        .group_by(r.c.province_pcode)
        .cte("counts")
    )
    g = func.unnest(r.c.guarantors).table_valued("id").render_derived(name="g")
    by_guarantor = (
        select(
            r.c.province_pcode,
            g.c.id.label("guarantor"),
            func.sum(r.c.incidents).label("violations"),
        )
        .select_from(r.join(g, true()))
        .where(_violation(r))
        .group_by(*GROUP_BY_FIRST[:2])
        .cte("by_guarantor")
    )
    a, c = AREAS.alias("a"), counts.alias("c")
    gu, bg = GUARANTORS.alias("gu"), by_guarantor.alias("bg")
    per_guarantor = (
        select(
            func.json_object_agg(gu.c.id, func.coalesce(bg.c.violations, ZERO)).aggregate_order_by(
                gu.c.id
            )
        )
        .select_from(
            gu.outerjoin(bg, and_(bg.c.guarantor == gu.c.id, bg.c.province_pcode == a.c.pcode))
        )
        .correlate(a)
        .scalar_subquery()
    )
    figures = ("incidents", "violations", "verified", "killed", "civilians_killed", "injured")
    h, props = _shown(
        (a, c),
        [a.c.pcode, a.c.name_en, a.c.name_ar],
        {name: func.coalesce(c.c[name], ZERO) for name in figures}
        | {"violations_by_guarantor": per_guarantor},
    )
    return (
        select(a.c.pcode, cast(func.row_to_json(props.table_valued()), Text).label("properties"))
        .select_from(
            a.outerjoin(c, c.c.province_pcode == a.c.pcode).join(h, true()).join(props, true())
        )
        .where(a.c.level == bind("level", PROVINCE_LEVEL))
        .order_by(a.c.pcode)
    )


# Small-number suppression (the public view; service/digest/disclosure.py has the why): a
# row counting 1 to min_count - 1 incidents gives its figures as null and says
# "suppressed": true (min_count 1, the full view: nothing suppressed). Public aggregates count
# verified incidents only, which the public items list one by one (at a cell's centre, on a
# day), and no aggregate response publishes a total beside its rows.
# Simplified governorate outlines as GeoJSON text, by (areas version, tolerance): simplifying
# the full-resolution polygons costs tens of milliseconds, the counts a few.
_OUTLINES: dict[tuple[str, float], dict[str, str]] = {}
_OUTLINES_LOCK = threading.Lock()
_OUTLINES_KEPT = 16


def _outlines(session: Session, areas_version: str, simplify: float) -> dict[str, str]:
    key = (areas_version, simplify)
    with _OUTLINES_LOCK:
        cached = _OUTLINES.get(key)
    if cached is not None:
        return cached
    a = AREAS.c
    geom = a.geom
    if simplify > 0:
        geom = func.ST_ForcePolygonCCW(
            func.ST_SimplifyPreserveTopology(geom, bind("simplify", simplify, Float))
        )
    rows = session.execute(
        select(a.pcode, func.ST_AsGeoJSON(geom, literal_column("5"))).where(
            a.level == bind("level", PROVINCE_LEVEL)
        )
    ).all()
    outlines = {pcode: geojson for pcode, geojson in rows}
    with _OUTLINES_LOCK:
        if len(_OUTLINES) >= _OUTLINES_KEPT:
            _OUTLINES.pop(next(iter(_OUTLINES)))
        _OUTLINES[key] = outlines
    return outlines


def province_counts(
    *,
    session: Session,
    filters: EventFilters,
    view: IncidentView,
    simplify: float,
    areas_version: str,
    min_count: int = 1,
) -> bytes:
    """Every governorate (simplified polygon) with its counts for the filters: the
    incidents the items of the same filters list. ``days`` names the local days the window
    touches (wholly or in part)."""
    timezone = view.timezone
    counted = counted_rows(filters, timezone, view)
    statement = cached(("stats.provinces", counted.key()), lambda: _provinces(counted.rows()))
    rows = session.execute(statement, {**counted.values(), "min_count": min_count}).all()
    outlines = _outlines(session, areas_version, simplify)
    features = b",".join(
        b'{"type":"Feature","id":"%s","geometry":%s,"properties":%s}'
        % (pcode.encode(), outlines.get(pcode, "null").encode(), properties.encode())
        for pcode, properties in rows
    )
    first, end = _touched_days(filters, timezone)
    last = None if end is None else end - dt.timedelta(days=1)
    return b"".join(
        [
            b'{"type":"FeatureCollection","features":[',
            features,
            b'],"days":{"first":',
            _json_date(first),
            b',"last":',
            _json_date(last),
            b',"timezone":"',
            str(timezone).encode(),
            b'"}}',
        ]
    )


def _json_date(day: dt.date | None) -> bytes:
    return b"null" if day is None else f'"{day.isoformat()}"'.encode()


INTERVALS = ("day", "week", "month")
MAX_BUCKETS = 3700


def _timeseries(rows: Select | CompoundSelect) -> Select:
    """The buckets (``n``) and, unless there are more than ``MAX_BUCKETS``, their figures
    (``series``, JSON text) over counted ``rows``; ``interval``, ``step``, ``first``,
    ``end``, ``max_buckets`` and ``min_count`` bound."""
    r = rows.cte("r")
    unit = bind("interval", type_=Text)
    span = (
        select(
            cast(
                func.date_trunc(
                    unit, func.coalesce(cast(bind("first", type_=Date), Date), func.min(r.c.day))
                ),
                Date,
            ).label("first"),
            func.coalesce(
                cast(bind("end", type_=Date), Date) - literal_column("1"), func.max(r.c.day)
            ).label("last"),
        )
        .select_from(r)
        .cte("span")
    )
    step = cast(bind("step", type_=Text), INTERVAL)
    g = (
        func.generate_series(span.c.first, span.c.last, step)
        .table_valued("g")
        .render_derived(name="g")
    )
    buckets = (
        select(cast(g.c.g, Date).label("start")).select_from(span.join(g, true())).cte("buckets")
    )
    sums = (
        select(cast(func.date_trunc(unit, r.c.day), Date).label("start"), *_sums(r))
        .group_by(*GROUP_BY_FIRST[:1])
        .cte("sums")
    )
    b, s = buckets.alias("b"), sums.alias("s")
    figures = ("incidents", "violations", "verified", "killed", "civilians_killed")
    h, props = _shown(
        (b, s), [b.c.start], {name: func.coalesce(s.c[name], ZERO) for name in figures}
    )
    n = select(func.count()).select_from(buckets).scalar_subquery()
    series = (
        func.json_agg(props.table_valued())
        .aggregate_order_by(props.c.start)
        .filter(n <= bind("max_buckets", type_=Integer))
    )
    return select(
        n.label("n"), cast(func.coalesce(series, literal_column("'[]'")), Text).label("series")
    ).select_from(b.outerjoin(s, s.c.start == b.c.start).join(h, true()).join(props, true()))


def timeseries(
    *,
    session: Session,
    filters: EventFilters,
    view: IncidentView,
    interval: str,
    min_count: int = 1,
) -> bytes:
    """Counts per day, week (from Monday) or month of the local days the window touches,
    with explicit zeros for quiet periods; the buckets sum to the items' count."""
    timezone = view.timezone
    first, end = _touched_days(filters, timezone)
    counted = counted_rows(filters, timezone, view)
    statement = cached(("stats.timeseries", counted.key()), lambda: _timeseries(counted.rows()))
    row = session.execute(
        statement,
        {
            **counted.values(),
            "interval": interval,
            "step": f"1 {interval}",
            "first": first,
            "end": end,
            "max_buckets": MAX_BUCKETS,
            "min_count": min_count,
        },
    ).one()
    if row.n > MAX_BUCKETS:
        raise BadRequest(
            f"datetime: {row.n} {interval}s is more than {MAX_BUCKETS}; narrow the period"
            " or choose a longer interval"
        )
    return b"".join(
        [
            b'{"interval":"',
            interval.encode(),
            b'","timezone":"',
            str(timezone).encode(),
            b'","buckets":',
            row.series.encode(),
            b"}",
        ]
    )


# ---- grids ----

MIN_GRID_CELL = 0.01
MAX_GRID_CELL = 10.0


def grid_factor(view: IncidentView, cell: float) -> int | None:
    """For the public, how many public cells a grid cell spans per side (it must be a whole
    number, so grid cells are unions of public cells and reveal nothing finer)."""
    if not view.public:
        if not MIN_GRID_CELL <= cell <= MAX_GRID_CELL:
            raise BadRequest(f"cell: between {MIN_GRID_CELL} and {MAX_GRID_CELL} degrees")
        return None
    if not 0 < cell <= MAX_GRID_CELL:  # checked first: a huge cell overflows round()
        raise BadRequest(
            f"cell: a whole multiple of {view.cell!r} degrees (the public grid), up to"
            f" {MAX_GRID_CELL:g}"
        )
    factor = round(cell / view.cell)
    if factor < 1 or not math.isclose(factor * view.cell, cell, rel_tol=1e-9):
        raise BadRequest(
            f"cell: a whole multiple of {view.cell!r} degrees (the public grid), up to"
            f" {MAX_GRID_CELL:g}"
        )
    return factor


def grid_keys(
    view: IncidentView, table: FromClause
) -> tuple[ColumnElement[float], ColumnElement[float], ColumnElement[float]]:
    """Integer cell keys: ``floor(x / cell)``, or for the public the public cell's keys
    divided by a whole factor (the same cells, computed from what the public may see); and
    the cell's side. ``cell`` (and for the public ``factor``, from ``grid_factor``) bound."""
    side = bind("cell", type_=Float)
    if not view.public:
        size = cast(side, Float)
        x, y = func.ST_X(table.c.geom, type_=Float), func.ST_Y(table.c.geom, type_=Float)
        return (
            func.floor(x.op("/", precedence=8)(size)),
            func.floor(y.op("/", precedence=8)(size)),
            side,
        )
    col, row = view.cell_index(table)
    by = bind("factor", type_=Integer)
    return (
        func.floor(col.op("/", precedence=8)(by)),
        func.floor(row.op("/", precedence=8)(by)),
        side,
    )


def _grid(view: IncidentView, condition: ColumnElement[bool]) -> Select:
    i = INCIDENTS
    col, row, side = grid_keys(view, i)
    cells = (
        select(
            col.label("ci"),
            row.label("cj"),
            func.count().label("incidents"),
            func.count().filter(_violation(i)).label("violations"),
            func.count().filter(i.c.status == bind("verified", VERIFIED)).label("verified"),
            func.sum(i.c.killed).label("killed"),
        )
        .where(i.c.geom.is_not(None), condition)
        .group_by(*GROUP_BY_FIRST[:2])
        .cte("cells")
    )
    c = cells.c
    h, props = _shown(
        (cells,),
        [cast(c.ci, BigInteger).label("i"), cast(c.cj, BigInteger).label("j")],
        {name: c[name] for name in ("incidents", "violations", "verified", "killed")},
    )
    # The feature's GeoJSON text around its geometry and properties: written by hand, as
    # every GeoJSON page here is (one string_agg, no per-row work in Python).
    square = func.ST_ForcePolygonCCW(cell_square(c.ci, c.cj, side))
    feature = (
        literal_column(
            """'{"type":"Feature","id":"' || props.i || ':' || props.j || '","geometry":'"""
        )
        .op("||")(func.ST_AsGeoJSON(square, literal_column("6")))
        .op("||")(literal_column("""',"properties":' || row_to_json(props)::text || '}'"""))
    )
    features = func.string_agg(feature, literal_column("','")).aggregate_order_by(c.cj, c.ci)
    return select(
        func.count().label("n"), func.coalesce(features, literal_column("''")).label("features")
    ).select_from(cells.join(h, true()).join(props, true()))


def grid(
    *,
    session: Session,
    view: IncidentView,
    filters: EventFilters,
    cell: float,
    min_count: int = 1,
) -> bytes:
    """Square cells of ``cell`` degrees with the incidents each holds (only non-empty ones)."""
    factor = grid_factor(view, cell)
    condition = view.conditions(filters, INCIDENTS)
    statement = cached(("stats.grid", view, shape(condition)), lambda: _grid(view, condition))
    result = session.execute(
        statement, {**values(condition), "cell": cell, "factor": factor, "min_count": min_count}
    ).one()
    return b"".join(
        [
            b'{"type":"FeatureCollection","features":[',
            result.features.encode(),
            f'],"numberReturned":{result.n},"cell":{cell!r}}}'.encode(),
        ]
    )
