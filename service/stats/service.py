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
from zoneinfo import ZoneInfo

from sqlalchemy import text
from sqlalchemy.orm import Session

from service.errors import BadRequest
from service.event.filters import EventFilters, TimeRange
from service.maps.tallies import counted_rows
from service.maps.view import IncidentView


def _touched_days(filters: EventFilters, tz: ZoneInfo) -> tuple[dt.date | None, dt.date | None]:
    return TimeRange(filters.since, filters.until).touched_local_days(tz)


_PROVINCES = """
    WITH r AS (
        {rows}
    ),
    counts AS (
        SELECT province_pcode,
               sum(incidents) AS incidents,
               sum(incidents) FILTER (WHERE ceasefire_status = 'violation') AS violations,
               sum(incidents) FILTER (WHERE status = 'verified') AS verified,
               sum(killed) AS killed,
               sum(civilians_killed) AS civilians_killed,
               sum(injured) AS injured
        FROM r GROUP BY province_pcode
    ),
    by_guarantor AS (
        SELECT r.province_pcode, g.id AS guarantor, sum(r.incidents) AS violations
        FROM r CROSS JOIN LATERAL unnest(r.guarantors) AS g(id)
        WHERE r.ceasefire_status = 'violation'
        GROUP BY 1, 2
    )
    SELECT a.pcode, row_to_json(props)::text AS properties
    FROM admin_areas a
    LEFT JOIN counts c ON c.province_pcode = a.pcode
    CROSS JOIN LATERAL (
        SELECT coalesce(c.incidents, 0) BETWEEN 1 AND CAST(:min_count AS int) - 1 AS suppressed
    ) h
    CROSS JOIN LATERAL (
        SELECT a.pcode, a.name_en, a.name_ar,
               CASE WHEN h.suppressed THEN NULL ELSE coalesce(c.incidents, 0) END AS incidents,
               CASE WHEN h.suppressed THEN NULL ELSE coalesce(c.violations, 0) END AS violations,
               CASE WHEN h.suppressed THEN NULL ELSE coalesce(c.verified, 0) END AS verified,
               CASE WHEN h.suppressed THEN NULL ELSE coalesce(c.killed, 0) END AS killed,
               CASE WHEN h.suppressed THEN NULL ELSE coalesce(c.civilians_killed, 0) END
                   AS civilians_killed,
               CASE WHEN h.suppressed THEN NULL ELSE coalesce(c.injured, 0) END AS injured,
               CASE WHEN h.suppressed THEN NULL ELSE (
                   SELECT json_object_agg(gu.id, coalesce(bg.violations, 0) ORDER BY gu.id)
                   FROM guarantors gu
                   LEFT JOIN by_guarantor bg
                       ON bg.guarantor = gu.id AND bg.province_pcode = a.pcode
               ) END AS violations_by_guarantor,
               h.suppressed
    ) props
    WHERE a.level = 1
    ORDER BY a.pcode
"""

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
    rows = session.execute(
        text(
            "SELECT pcode, ST_AsGeoJSON(CASE WHEN CAST(:simplify AS float8) > 0"
            " THEN ST_ForcePolygonCCW(ST_SimplifyPreserveTopology(geom, :simplify))"
            " ELSE geom END, 5)"
            " FROM admin_areas WHERE level = 1"
        ),
        {"simplify": simplify},
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
    counted, params = counted_rows(filters, timezone, view)
    rows = session.execute(
        text(_PROVINCES.format(rows=counted)), {**params, "min_count": min_count}
    ).all()
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

_TIMESERIES = """
    WITH r AS (
        {rows}
    ),
    span AS (
        SELECT date_trunc(:interval, coalesce(CAST(:first AS date), min(r.day)))::date AS first,
               coalesce(CAST(:end AS date) - 1, max(r.day)) AS last
        FROM r
    ),
    buckets AS (
        SELECT g::date AS start
        FROM span, generate_series(span.first, span.last, CAST(:step AS interval)) AS g
    ),
    sums AS (
        SELECT date_trunc(:interval, r.day)::date AS start,
               sum(incidents) AS incidents,
               sum(incidents) FILTER (WHERE ceasefire_status = 'violation') AS violations,
               sum(incidents) FILTER (WHERE status = 'verified') AS verified,
               sum(killed) AS killed,
               sum(civilians_killed) AS civilians_killed
        FROM r GROUP BY 1
    )
    SELECT (SELECT count(*) FROM buckets) AS n,
           coalesce(json_agg(props ORDER BY props.start)
               FILTER (WHERE (SELECT count(*) FROM buckets) <= :max_buckets), '[]')::text AS series
    FROM buckets b LEFT JOIN sums s ON s.start = b.start
    CROSS JOIN LATERAL (
        SELECT coalesce(s.incidents, 0) BETWEEN 1 AND CAST(:min_count AS int) - 1 AS suppressed
    ) h
    CROSS JOIN LATERAL (
        SELECT b.start,
               CASE WHEN h.suppressed THEN NULL ELSE coalesce(s.incidents, 0) END AS incidents,
               CASE WHEN h.suppressed THEN NULL ELSE coalesce(s.violations, 0) END AS violations,
               CASE WHEN h.suppressed THEN NULL ELSE coalesce(s.verified, 0) END AS verified,
               CASE WHEN h.suppressed THEN NULL ELSE coalesce(s.killed, 0) END AS killed,
               CASE WHEN h.suppressed THEN NULL ELSE coalesce(s.civilians_killed, 0) END AS civilians_killed,
               h.suppressed
    ) props
"""


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
    counted, params = counted_rows(filters, timezone, view)
    first, end = _touched_days(filters, timezone)
    row = session.execute(
        text(_TIMESERIES.format(rows=counted)),
        {
            **params,
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


def grid_keys_sql(view: IncidentView, cell: float, alias: str) -> tuple[str, str]:
    """Integer cell keys: ``floor(x / cell)``, or for the public the public cell's keys
    divided by a whole factor (the same cells, computed from what the public may see).
    The caller's cell is bound as ``:cell``."""
    factor = grid_factor(view, cell)
    if factor is None:
        c = "CAST(:cell AS float8)"
        return f"floor(ST_X({alias}.geom) / {c})", f"floor(ST_Y({alias}.geom) / {c})"
    col, row = view.cell_index_sql(alias)
    return f"floor({col} / {factor})", f"floor({row} / {factor})"


_GRID = """
    WITH cells AS (
        SELECT {col} AS ci, {row} AS cj,
               count(*) AS incidents,
               count(*) FILTER (WHERE i.ceasefire_status = 'violation') AS violations,
               count(*) FILTER (WHERE i.status = 'verified') AS verified,
               sum(i.killed) AS killed
        FROM incidents i
        WHERE i.geom IS NOT NULL AND {condition}
        GROUP BY 1, 2
    )
    SELECT count(*) AS n, coalesce(string_agg(
        '{{"type":"Feature","id":"' || props.i || ':' || props.j
        || '","geometry":' || ST_AsGeoJSON(ST_ForcePolygonCCW(ST_MakeEnvelope(
               ci * :cell, cj * :cell, (ci + 1) * :cell, (cj + 1) * :cell, 4326)), 6)
        || ',"properties":' || row_to_json(props)::text
        || '}}', ',' ORDER BY cj, ci), '') AS features
    FROM cells
    CROSS JOIN LATERAL (
        SELECT incidents BETWEEN 1 AND CAST(:min_count AS int) - 1 AS suppressed
    ) h
    CROSS JOIN LATERAL (
        SELECT ci::bigint AS i, cj::bigint AS j,
               CASE WHEN h.suppressed THEN NULL ELSE incidents END AS incidents,
               CASE WHEN h.suppressed THEN NULL ELSE violations END AS violations,
               CASE WHEN h.suppressed THEN NULL ELSE verified END AS verified,
               CASE WHEN h.suppressed THEN NULL ELSE killed END AS killed,
               h.suppressed
    ) props
"""


def grid(
    *,
    session: Session,
    view: IncidentView,
    filters: EventFilters,
    cell: float,
    min_count: int = 1,
) -> bytes:
    """Square cells of ``cell`` degrees with the incidents each holds (only non-empty ones)."""
    col, row = grid_keys_sql(view, cell, "i")
    condition, params = view.where(filters, "i")
    result = session.execute(
        text(_GRID.format(col=col, row=row, condition=condition)),
        {**params, "cell": cell, "min_count": min_count},
    ).one()
    return b"".join(
        [
            b'{"type":"FeatureCollection","features":[',
            result.features.encode(),
            f'],"numberReturned":{result.n},"cell":{cell!r}}}'.encode(),
        ]
    )
