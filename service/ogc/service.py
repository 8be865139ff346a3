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

from sqlalchemy import (
    Executable,
    FromClause,
    Integer,
    Select,
    String,
    Uuid,
    any_,
    func,
    literal_column,
    select,
)
from sqlalchemy.dialects.postgresql import ARRAY, array_agg
from sqlalchemy.orm import Session
from sqlalchemy.sql.elements import ColumnElement, Grouping

from service.errors import NotFound
from service.event.filters import BBox, EventFilters, bind, envelope
from service.event.paging import Keyset, Kind, Position
from service.event.statements import cached, compiled, shape, values
from service.geography.models import AdminArea
from service.geography.service import DISTRICT_LEVEL, PROVINCE_LEVEL
from service.incident.models import Incident
from service.maps.extent import THEATRES, extent
from service.maps.models import DAILY_NOW
from service.maps.view import IncidentView

INCIDENTS = Incident.__table__.alias("i")
DAILY = DAILY_NOW  # with the deltas not yet folded in


@dataclass(frozen=True)
class Page:
    features: bytes  # the features' GeoJSON texts, comma-separated, UTF-8
    returned: int
    next_cursor: str | None
    matched: int | None = None  # how many match, when counted with the page


def _one_binary(
    session: Session,
    statement: Executable,
    params: dict[str, Any],
    count: tuple[Executable, dict[str, Any]] | None = None,
) -> tuple[tuple, int | None]:
    """Run one page statement after ``_PAGE_SETTINGS`` and read its row in PostgreSQL's
    binary format: a page sent as bytea arrives as the bytes it is (not as hex to decode,
    nor as text to encode again), which keeps a worker's memory flat under 10,000-feature
    pages. With ``count`` (a statement and its values: how many match), that is run too
    and its number returned beside the row. The statements go in one pipeline: one round
    trip, not two or three (bench/overhead.py, W1: a first page of ten items with its
    ``numberMatched``)."""
    connection = session.connection()
    dbapi = connection.connection.dbapi_connection
    sql = compiled(statement, connection.dialect)
    with (
        dbapi.cursor() as settings,  # type: ignore[union-attr]
        dbapi.cursor(binary=True) as cursor,  # type: ignore[union-attr]
        dbapi.cursor(binary=True) as counter,  # type: ignore[union-attr]
    ):
        with dbapi.pipeline():  # type: ignore[union-attr]
            settings.execute(_PAGE_SETTINGS)
            cursor.execute(str(sql), sql.construct_params(params))
            if count is not None:
                counting = compiled(count[0], connection.dialect)
                counter.execute(str(counting), counting.construct_params(count[1]))
        matched = None if count is None else int(counter.fetchone()[0])  # type: ignore[index]
        return cursor.fetchone(), matched  # type: ignore[return-value]


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


def feature_sql(view: IncidentView, *, many: bool = True) -> str:
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


def _page(
    view: IncidentView,
    order: Keyset,
    condition: ColumnElement[bool],
    after: ColumnElement[bool],
    *,
    many: bool,
) -> Select:
    """A page's features (``fetch`` rows read, the first ``limit`` shown: both bound), how
    many were read and the last shown row's key.

    FROM, WHERE, ORDER and LIMIT are Core; each feature's text is the hand-written
    ``feature_sql`` fragment, joined by one ``string_agg`` and read as bytes (a worker's
    memory stays flat under 10,000-feature pages: map-serving.md). Measured on 100,000
    incidents, 1,000 features in a box (median of 25, full view): this statement 72.5 ms;
    the same rows fetched with ``ST_AsGeoJSON`` and properties and joined in Python 58.4 ms.
    So at 1,000 features the aggregate does not pay in time; it stays for memory."""
    i = INCIDENTS
    page = (
        select(
            i.c.occurred_at, i.c.id, literal_column(feature_sql(view, many=many)).label("feature")
        )
        .where(condition, after)
        .order_by(*order.order_by(i))
        .limit(bind("fetch", type_=Integer))
        .subquery("page")
    )
    k = func.row_number().over(order_by=order.order_by(page)).label("k")
    p = select(page, k).subquery("p").c
    shown = bind("limit", type_=Integer)
    return select(
        func.count().label("fetched"),
        func.convert_to(
            func.coalesce(
                func.string_agg(p.feature, literal_column("','"))
                .aggregate_order_by(p.k)
                .filter(p.k <= shown),
                literal_column("''"),
            ),
            literal_column("'UTF8'"),
        ).label("features"),
        _last(p.occurred_at, p.k == shown).label("last_at"),
        _last(p.id, p.k == shown).label("last_id"),
    )


def incident_page(
    *,
    session: Session,
    view: IncidentView,
    filters: EventFilters,
    limit: int,
    cursor: Position | None,
    count: tuple[Executable, dict[str, Any]] | None = None,
) -> Page:
    """One page of incidents as this view shows them; ``filters`` already restricted. With
    ``count`` (a statement counting the same incidents, and its values), its number too, read
    in the same round trip."""
    order = incident_order(view)
    condition = view.conditions(filters, INCIDENTS)
    after = order.after(cursor, INCIDENTS)
    many = limit >= 20
    key = ("ogc.page", view, many, shape(condition, after))
    statement = cached(key, lambda: _page(view, order, condition, after, many=many))
    (fetched, features, last_at, last_id), matched = _one_binary(
        session, statement, {**values(condition, after), "fetch": limit + 1, "limit": limit}, count
    )
    next_cursor = None
    if fetched > limit:
        next_cursor = order.encode((last_id,) if view.public else (last_at, last_id))
    return Page(features, min(fetched, limit), next_cursor, matched)


def _last(column: ColumnElement[Any], where: ColumnElement[bool]) -> ColumnElement[Any]:
    """``(array_agg(column) FILTER (WHERE where))[1]``: the value on the one row ``where``
    picks (the page's last)."""
    return Grouping(array_agg(column).filter(where))[literal_column("1")]


def count_incidents(*, session: Session, view: IncidentView, filters: EventFilters) -> int:
    """Exactly how many incidents this view shows for ``filters`` (a scan: on request only)."""
    condition = view.conditions(filters, INCIDENTS)
    statement = cached(
        ("ogc.count", shape(condition)),
        lambda: select(func.count()).select_from(INCIDENTS).where(condition),
    )
    return session.execute(statement, values(condition)).scalar_one()


def _feature(view: IncidentView, by_status: bool) -> Select:
    """One incident's GeoJSON text by ``id`` (and ``statuses``, bound)."""
    i = INCIDENTS
    query = select(literal_column(feature_sql(view, many=False))).select_from(i)
    query = query.where(i.c.id == bind("id", type_=Uuid))
    if by_status:
        query = query.where(i.c.status == any_(bind("statuses", type_=ARRAY(String))))
    return query


def incident_feature(*, session: Session, view: IncidentView, feature_id: str) -> str:
    """One incident's GeoJSON text; NotFound for what this view does not show."""
    try:
        ident = uuid.UUID(feature_id)
    except ValueError as exc:
        raise NotFound(f"no incident {feature_id!r}") from exc
    statuses = view.statuses(None, default=())
    statement = cached(("ogc.feature", view), lambda: _feature(view, bool(statuses)))
    feature = session.execute(statement, {"id": ident, "statuses": list(statuses)}).scalar()
    if feature is None:
        raise NotFound(f"no incident {feature_id!r}")
    return feature


def incident_extent(*, session: Session, view: IncidentView) -> dict[str, Any]:
    """The collection's extent: the theatre's box, and the first and last time shown."""
    box = extent(session, THEATRES.c.aoi)
    if view.public:
        d = DAILY.c
        statuses = bind("statuses", list(view.statuses(None, default=())), ARRAY(String))
        # Per day, summed: a day's deltas not yet folded in may cancel its rollup rows.
        shown = (
            select(d.day)
            .where(d.status == any_(statuses))
            .group_by(d.day)
            .having(func.sum(d.incidents) > 0)
            .subquery("shown")
        )
        days = session.execute(
            select(func.min(shown.c.day).label("first"), func.max(shown.c.day).label("last"))
        ).one()
        first = None if days.first is None else days.first.isoformat()
        last = None if days.last is None else days.last.isoformat()
    else:
        at = INCIDENTS.c.occurred_at
        times = session.execute(
            select(func.min(at).label("first"), func.max(at).label("last"))
        ).one()
        first, last = (_utc(times.first), _utc(times.last))
    spatial = None if box is None else [list(box)]
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


AREAS = AdminArea.__table__


def _area_conditions(
    areas: FromClause, level: int, bbox: BBox | None, parent: str | None
) -> list[ColumnElement[bool]]:
    a = areas.c
    found = [a.level == bind("level", level)]
    if bbox is not None:
        found.append(func.ST_Intersects(a.geom, envelope(bbox)))
    if parent is not None:
        found.append(a.parent_pcode == bind("parent", parent))
    return found


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
    a = AREAS.alias("a")
    found = _area_conditions(a, level, bbox, parent)
    page = (
        select(a)
        .where(*found, AREA_ORDER.after(cursor, a))
        .order_by(*AREA_ORDER.order_by(a))
        .limit(bind("fetch", limit + 1))
        .cte("page")
        .prefix_with("MATERIALIZED")
    )
    numbered = select(page, func.row_number().over(order_by=page.c.pcode).label("k")).cte(
        "numbered"
    )
    p = numbered.alias("p")
    shown = bind("limit", limit)
    feature = literal_column(_AREA_FEATURE)
    row = session.execute(
        select(
            func.count().label("fetched"),
            func.coalesce(
                func.string_agg(feature, literal_column("','"))
                .aggregate_order_by(p.c.k)
                .filter(p.c.k <= shown),
                literal_column("''"),
            ).label("features"),
            _last(p.c.pcode, p.c.k == shown).label("last"),
            select(func.count()).select_from(a).where(*found).scalar_subquery().label("matched"),
        ).select_from(p)
    ).one()
    next_cursor = AREA_ORDER.encode((row.last,)) if row.fetched > limit else None
    return Page(row.features.encode(), min(row.fetched, limit), next_cursor), row.matched


def area_feature(*, session: Session, level: int, pcode: str) -> str:
    p = AREAS.alias("p")
    feature = session.execute(
        select(literal_column(_AREA_FEATURE))
        .select_from(p)
        .where(p.c.level == bind("level", level), p.c.pcode == bind("pcode", pcode))
    ).scalar()
    if feature is None:
        raise NotFound(f"no area {pcode!r} at level {level}")
    return feature


def area_extent(*, session: Session, level: int) -> dict[str, Any]:
    box = extent(session, AREAS.c.geom, AREAS.c.level == bind("level", level))
    return {"spatial": None if box is None else [list(box)]}
