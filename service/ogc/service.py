"""Features for OGC API - Features: pages of incidents and administrative areas.

Each page is one SQL statement that writes the features as GeoJSON text and joins them with
``string_agg`` (see map-serving.md: no per-row work in Python). It fetches one row more than
asked to know whether a next page exists, and pages by keyset, never by OFFSET.
"""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass
from typing import Any

from sqlalchemy import text
from sqlalchemy.orm import Session

from service.errors import NotFound
from service.event.filters import BBox, EventFilters
from service.event.paging import Keyset, Kind, Position
from service.geography.service import DISTRICT_LEVEL, PROVINCE_LEVEL
from service.maps.view import IncidentView


@dataclass(frozen=True)
class Page:
    features: bytes  # the features' GeoJSON texts, comma-separated, UTF-8
    returned: int
    next_cursor: str | None


def _one_binary(session: Session, sql: str, params: dict[str, Any]) -> tuple:
    """Run one page statement after ``_PAGE_SETTINGS`` and read its row in PostgreSQL's
    binary format: a page sent as bytea arrives as the bytes it is (not as hex to decode,
    nor as text to encode again), which keeps a worker's memory flat under 10,000-feature
    pages. Both statements go in one pipeline: one round trip, not two."""
    connection = session.connection()
    compiled = text(sql).compile(dialect=connection.dialect)
    dbapi = connection.connection.dbapi_connection
    with dbapi.cursor() as settings, dbapi.cursor(binary=True) as cursor:  # type: ignore[union-attr]
        with dbapi.pipeline():  # type: ignore[union-attr]
            settings.execute(_PAGE_SETTINGS)
            cursor.execute(str(compiled), compiled.construct_params(params))
        return cursor.fetchone()


# ---- incidents ----

# How a property's value is written: JSON-escaped by ``to_json`` (``null`` for NULL); an
# area's name looked up by its P-code; a term that is never NULL and that the table's CHECK
# constraint limits to known words (or a formatted time), quoted as it is; a number that is
# never NULL, as it is.
JSON, AREA_NAME, TERM, NUMBER = "json", "area name", "term", "number"

# The properties every view shows, in order: name, SQL of row ``i``, how it is written.
_PROPERTIES = (
    ("violation_type", "i.violation_type", TERM),
    ("province", "i.province_pcode", JSON),
    ("province_name", "i.province_pcode", AREA_NAME),
    ("district", "i.district_pcode", JSON),
    ("district_name", "i.district_pcode", AREA_NAME),
    ("perpetrator_party", "i.perpetrator_party_id", JSON),
    ("target_party", "i.target_party_id", JSON),
    ("responsible_guarantors", "i.responsible_guarantors", JSON),
    ("ceasefire_status", "i.ceasefire_status", TERM),
    ("status", "i.status", TERM),
    ("time_precision", "i.time_precision", TERM),
    ("killed", "i.killed", NUMBER),
    ("injured", "i.injured", NUMBER),
    ("civilians_killed", "i.civilians_killed", NUMBER),
    ("report_count", "i.report_count", NUMBER),
)
# Only for monitors, verifiers and admins: the exact time and the place as reported.
_FULL_PROPERTIES = (
    (
        "occurred_at",
        "to_char(i.occurred_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"')",
        TERM,
    ),
    ("place_name", "i.place_name", JSON),
    ("location_match", "i.location_match", TERM),
)


# Area names for many rows: one map of P-codes to names per statement (an InitPlan, about
# 0.5 ms), each row a lookup in it. For a few rows, an index lookup each is cheaper (a
# subplan per row, about 40 us for both names).
_NAMES_PER_STATEMENT = "(SELECT jsonb_object_agg(pcode, name_en) FROM admin_areas) -> {}".format
_NAME_PER_ROW = "to_json((SELECT a.name_en FROM admin_areas a WHERE a.pcode = {}))".format


def _feature_sql(view: IncidentView, *, many: bool = True) -> str:
    """The GeoJSON text of one incident row ``i``, written by one ``concat``, no row built
    per feature. Measured on 10,000 features: 2.2x faster than ``row_to_json`` of a per-row
    subquery joining the area names (which PostgreSQL ran as a subplan for every row), same
    JSON.
    """
    if view.public:
        times = (("occurred_at", f"to_char({view.local_day_sql('i')}, 'YYYY-MM-DD')", TERM),)
    else:
        times = _FULL_PROPERTIES

    def value(sql: str, kind: str) -> str:
        if kind == TERM:
            return f"""'"', {sql}, '"'"""
        if kind == NUMBER:
            return sql
        if kind == AREA_NAME:
            sql = _NAMES_PER_STATEMENT(sql) if many else _NAME_PER_ROW(sql)
            return f"coalesce(({sql})::text, 'null')"
        return f"coalesce(to_json({sql})::text, 'null')"

    members = [
        f"""'{"," if n else ""}"{name}":', {value(sql, kind)}"""
        for n, (name, sql, kind) in enumerate((*times, *_PROPERTIES))
    ]
    return (
        """concat('{"type":"Feature","id":"', i.id, '","geometry":', """
        f"coalesce(ST_AsGeoJSON({view.geom_sql('i')}, 6), 'null'), "
        f"""',"properties":{{', {", ".join(members)}, '}}}}')"""
    )


# A page of 10,000 features is some 6 MB of text: sort it in memory. And plan each page for
# its own box and dates: after a few runs psycopg prepares a statement, and PostgreSQL's
# generic plan for it (one plan for every box) was measured 2.5x slower on dense boxes.
_PAGE_SETTINGS = (
    "SELECT set_config('work_mem', '64MB', true),"
    " set_config('plan_cache_mode', 'force_custom_plan', true)"
)


# The full view's pages: newest first. The public's follow the id (random): an order by
# exact time would reveal, within a day, which incident came first, and so would a cursor
# carrying the time (a full view's cursor is refused there: it has another shape).
FULL_ORDER = Keyset(("occurred_at", "id"), (Kind.time, Kind.uuid))
PUBLIC_ORDER = Keyset(("id",), (Kind.uuid,))
# Areas: in P-code order.
AREA_ORDER = Keyset(("pcode",), (Kind.text,), descending=False)


def incident_order(view: IncidentView) -> Keyset:
    return PUBLIC_ORDER if view.public else FULL_ORDER


def incident_page(
    *,
    session: Session,
    view: IncidentView,
    filters: EventFilters,
    limit: int,
    cursor: Position | None,
) -> Page:
    """One page of incidents as this view shows them; ``filters`` already restricted."""
    condition, params = view.where(filters, "i")
    order = incident_order(view)
    after, after_params = order.after(cursor, "i")
    sql = f"""
        SELECT count(*) AS fetched,
               convert_to(coalesce(string_agg(p.feature, ',' ORDER BY p.k)
                                   FILTER (WHERE p.k <= :limit), ''), 'UTF8') AS features,
               (array_agg(p.occurred_at) FILTER (WHERE p.k = :limit))[1] AS last_at,
               (array_agg(p.id) FILTER (WHERE p.k = :limit))[1] AS last_id
        FROM (
            SELECT page.*, row_number() OVER (ORDER BY {order.order_by("page")}) AS k
            FROM (
                SELECT i.occurred_at, i.id, {_feature_sql(view, many=limit >= 20)} AS feature
                FROM incidents i
                WHERE {condition} AND {after}
                ORDER BY {order.order_by("i")}
                LIMIT :fetch
            ) page
        ) p
    """
    fetched, features, last_at, last_id = _one_binary(
        session,
        sql,
        {**params, **after_params, "fetch": limit + 1, "limit": limit, "v_tz": str(view.timezone)},
    )
    next_cursor = None
    if fetched > limit:
        next_cursor = order.encode((last_id,) if view.public else (last_at, last_id))
    return Page(features, min(fetched, limit), next_cursor)


def count_incidents(*, session: Session, view: IncidentView, filters: EventFilters) -> int:
    """Exactly how many incidents this view shows for ``filters`` (a scan: on request only)."""
    condition, params = view.where(filters, "i")
    return session.execute(
        text(f"SELECT count(*) FROM incidents i WHERE {condition}"),
        {**params, "v_tz": str(view.timezone)},
    ).scalar_one()


def incident_feature(*, session: Session, view: IncidentView, feature_id: str) -> str:
    """One incident's GeoJSON text; NotFound for what this view does not show."""
    try:
        ident = uuid.UUID(feature_id)
    except ValueError as exc:
        raise NotFound(f"no incident {feature_id!r}") from exc
    statuses = view.statuses(None, default=())
    sql = f"""
        SELECT {_feature_sql(view, many=False)}
        FROM incidents i
        WHERE i.id = :id AND (cardinality(CAST(:statuses AS text[])) = 0
                              OR i.status = ANY(CAST(:statuses AS text[])))
    """
    feature = session.execute(
        text(sql), {"id": ident, "statuses": list(statuses), "v_tz": str(view.timezone)}
    ).scalar()
    if feature is None:
        raise NotFound(f"no incident {feature_id!r}")
    return feature


def incident_extent(*, session: Session, view: IncidentView) -> dict[str, Any]:
    """The collection's extent: the theatre's box, and the first and last time shown."""
    box = session.execute(
        text(
            "SELECT ST_XMin(b) AS x0, ST_YMin(b) AS y0, ST_XMax(b) AS x1, ST_YMax(b) AS y1"
            " FROM (SELECT ST_Extent(aoi) AS b FROM theatres) t"
        )
    ).one()
    if view.public:
        days = session.execute(
            text(
                "SELECT min(day) AS first, max(day) AS last FROM incident_daily_counts"
                " WHERE status = ANY(:statuses) AND incidents > 0"
            ),
            {"statuses": list(view.statuses(None, default=()))},
        ).one()
        first = None if days.first is None else days.first.isoformat()
        last = None if days.last is None else days.last.isoformat()
    else:
        times = session.execute(
            text("SELECT min(occurred_at) AS first, max(occurred_at) AS last FROM incidents")
        ).one()
        first, last = (_utc(times.first), _utc(times.last))
    spatial = None if box.x0 is None else [[box.x0, box.y0, box.x1, box.y1]]
    return {"spatial": spatial, "temporal": [[first, last]]}


def _utc(at: dt.datetime | None) -> str | None:
    return None if at is None else at.astimezone(dt.UTC).isoformat().replace("+00:00", "Z")


# ---- administrative areas ----

AREA_LEVELS = {"provinces": PROVINCE_LEVEL, "districts": DISTRICT_LEVEL}

_AREA_FEATURE = """
    '{"type":"Feature","id":' || to_json(p.pcode)::text
    || ',"geometry":' || ST_AsGeoJSON(p.geom, 6)
    || ',"properties":' || (SELECT row_to_json(x) FROM (SELECT p.pcode, p.name_en, p.name_ar,
                                                        p.level, p.parent_pcode) x)::text
    || '}'
"""


def _area_conditions(level: int, bbox: BBox | None, parent: str | None) -> tuple[str, dict]:
    conditions = ["a.level = :level"]
    params: dict[str, Any] = {"level": level}
    if bbox is not None:
        conditions.append(
            "ST_Intersects(a.geom, ST_MakeEnvelope(:minx, :miny, :maxx, :maxy, 4326))"
        )
        params.update(minx=bbox.min_lon, miny=bbox.min_lat, maxx=bbox.max_lon, maxy=bbox.max_lat)
    if parent is not None:
        conditions.append("a.parent_pcode = :parent")
        params["parent"] = parent
    return " AND ".join(conditions), params


def area_page(
    *,
    session: Session,
    level: int,
    bbox: BBox | None,
    parent: str | None,
    limit: int,
    cursor: Position | None,
) -> tuple[Page, int]:
    """A page of areas in P-code order, and how many match in all (a few dozen at most)."""
    condition, params = _area_conditions(level, bbox, parent)
    after, after_params = AREA_ORDER.after(cursor, "a")
    sql = f"""
        WITH page AS MATERIALIZED (
            SELECT a.* FROM admin_areas a
            WHERE {condition} AND {after}
            ORDER BY {AREA_ORDER.order_by("a")} LIMIT :fetch
        ),
        numbered AS (SELECT page.*, row_number() OVER (ORDER BY page.pcode) AS k FROM page)
        SELECT count(*) AS fetched,
               coalesce(string_agg({_AREA_FEATURE}, ',' ORDER BY p.k)
                        FILTER (WHERE p.k <= :limit), '') AS features,
               (array_agg(p.pcode) FILTER (WHERE p.k = :limit))[1] AS last,
               (SELECT count(*) FROM admin_areas a WHERE {condition}) AS matched
        FROM numbered p
    """
    row = session.execute(
        text(sql), {**params, **after_params, "fetch": limit + 1, "limit": limit}
    ).one()
    next_cursor = AREA_ORDER.encode((row.last,)) if row.fetched > limit else None
    return Page(row.features.encode(), min(row.fetched, limit), next_cursor), row.matched


def area_feature(*, session: Session, level: int, pcode: str) -> str:
    feature = session.execute(
        text(
            f"SELECT {_AREA_FEATURE} FROM admin_areas p WHERE p.level = :level AND p.pcode = :pcode"
        ),
        {"level": level, "pcode": pcode},
    ).scalar()
    if feature is None:
        raise NotFound(f"no area {pcode!r} at level {level}")
    return feature


def area_extent(*, session: Session, level: int) -> dict[str, Any]:
    box = session.execute(
        text(
            "SELECT ST_XMin(b) AS x0, ST_YMin(b) AS y0, ST_XMax(b) AS x1, ST_YMax(b) AS y1"
            " FROM (SELECT ST_Extent(geom) AS b FROM admin_areas WHERE level = :level) t"
        ),
        {"level": level},
    ).one()
    return {"spatial": None if box.x0 is None else [[box.x0, box.y0, box.x1, box.y1]]}
