"""Mapbox Vector Tiles of incidents, built by PostGIS (``ST_AsMVT``).

From ``point_min_zoom`` up, a tile carries the incidents as points (layer ``incidents``);
below it, or when a tile would hold more than ``max_points``, square cells with counts
(layer ``cells``), so no tile grows with the number of incidents. Cells are unions of the
public grid's cells, so the public's cells reveal nothing its points do not.

The tile's envelope is transformed to the data's CRS, never the column, so the GiST index
on ``incidents.geom`` serves every tile.
"""

from __future__ import annotations

import math
from typing import Any

from sqlalchemy import (
    CTE,
    BigInteger,
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
    select,
    true,
)
from sqlalchemy.orm import Session
from sqlalchemy.sql.elements import ColumnElement

from service.errors import BadRequest
from service.event.filters import EventFilters, bind, category_conditions
from service.event.statements import cached, shape, values
from service.event.terms import CeasefireStatus
from service.incident.models import Incident
from service.maps.extent import THEATRES, extent
from service.maps.models import CELL_COUNTS_NOW, CELL_ROLLUP_DEG
from service.maps.tallies import GROUP_BY_FIRST
from service.maps.view import IncidentView, cell_square, divided, number

EXTENT = 4096
BUFFER = 64
CELLS_PER_TILE = 64  # roughly, across a tile


def check_tile(z: int, x: int, y: int, max_zoom: int) -> None:
    if not 0 <= z <= max_zoom:
        raise BadRequest(f"z: between 0 and {max_zoom}")
    if not (0 <= x < 2**z and 0 <= y < 2**z):
        raise BadRequest(f"x and y: between 0 and {2**z - 1} at zoom {z}")


def cell_factor(z: int, view: IncidentView) -> int:
    """Public cells per side of a tile cell at zoom ``z``: a power of two, so cells nest
    from zoom to zoom, chosen to give about CELLS_PER_TILE cells across a tile."""
    wanted = 360 / 2**z / CELLS_PER_TILE
    return 2 ** max(0, round(math.log2(wanted / view.cell)))


INCIDENTS = Incident.__table__.alias("i")
CELL_COUNTS = CELL_COUNTS_NOW.alias("c")  # with the deltas not yet folded in
VIOLATION = CeasefireStatus.violation.value


def _bounds() -> CTE:
    """The tile ``z``, ``x``, ``y`` (bound) in Web Mercator (``merc``), and with its buffer
    (``margin``, bound) in WGS 84 (``geo``).

    The buffered envelope is clipped to the world before it is transformed: a tile at the
    antimeridian (1/1/0 holds the eastern hemisphere) would otherwise wrap to the other side
    and find nothing."""
    zxy = (bind("z", type_=Integer), bind("x", type_=Integer), bind("y", type_=Integer))
    margin = literal_column("margin").op("=>")(bind("margin", type_=Float))
    world = func.ST_TileEnvelope(*(literal_column("0"),) * 3)
    return select(
        func.ST_TileEnvelope(*zxy).label("merc"),
        func.ST_Transform(
            func.ST_ClipByBox2D(func.ST_TileEnvelope(*zxy, margin), world), literal_column("4326")
        ).label("geo"),
    ).cte("bounds")


def _in_tile(view: IncidentView, table: FromClause, bounds: CTE) -> ColumnElement[bool]:
    """Incidents whose shown position is in the tile (with its buffer), found by index."""
    geom = table.c.geom
    if not view.public:
        return geom.bool_op("&&")(bounds.c.geo)
    return and_(
        geom.bool_op("&&")(func.ST_Expand(bounds.c.geo, number(view.cell))),
        view.geom(table).bool_op("&&")(bounds.c.geo),
    )


def _near_tile(table: FromClause, bounds: CTE, size: float) -> ColumnElement[bool]:
    """Incidents whose cell of ``size`` degrees may overlap the tile: whole cells are counted
    even where the tile cuts them, so neighbouring tiles agree on a cell's count."""
    return table.c.geom.bool_op("&&")(func.ST_Expand(bounds.c.geo, number(size)))


def _mvt_geom(geom: ColumnElement[Any], bounds: CTE) -> ColumnElement[Any]:
    """A WGS 84 geometry in the tile's coordinates."""
    return func.ST_AsMVTGeom(
        func.ST_Transform(geom, literal_column("3857")),
        bounds.c.merc,
        literal_column(str(EXTENT)),
        literal_column(str(BUFFER)),
        true(),
    ).label("geom")


def _mvt(shaped: CTE, layer: str) -> Select:
    """The tile of one layer: the rows of ``shaped`` that fall in it."""
    name = literal_column(f"'{layer}'")
    return (
        select(func.ST_AsMVT(shaped.table_valued(), name, literal_column(str(EXTENT)), _GEOM))
        .select_from(shaped)
        .where(shaped.c.geom.is_not(None))
    )


_GEOM = literal_column("'geom'")


# What a point tile reads of an incident.
_POINT_COLUMNS = (
    "id",
    "geom",
    "occurred_at",
    "violation_type",
    "ceasefire_status",
    "status",
    "province_pcode",
    "killed",
    "civilians_killed",
    "responsible_guarantors",
)


def _point_properties(view: IncidentView, i: FromClause) -> list[ColumnElement[Any]]:
    if view.public:
        when = func.to_char(view.local_day(i), literal_column("'YYYY-MM-DD'"))
    else:
        utc = i.c.occurred_at.op("AT TIME ZONE")(literal_column("'UTC'"))
        when = func.to_char(utc, literal_column("""'YYYY-MM-DD"T"HH24:MI:SS"Z"' """.strip()))
    return [
        cast(i.c.id, Text).label("id"),
        when.label("occurred_at"),
        i.c.violation_type,
        i.c.ceasefire_status,
        i.c.status,
        i.c.province_pcode.label("province"),
        i.c.killed,
        i.c.civilians_killed,
        func.array_to_string(i.c.responsible_guarantors, literal_column("','")).label("guarantors"),
    ]


def _points(view: IncidentView, condition: ColumnElement[bool]) -> Select:
    """The ``incidents`` layer (``tile``, None when the tile holds more than ``max_points``,
    bound) and how many incidents it holds (``n``, up to ``max_points`` + 1)."""
    i, bounds = INCIDENTS, _bounds()
    candidates = (
        select(*(i.c[name] for name in _POINT_COLUMNS))
        .where(i.c.geom.is_not(None), _in_tile(view, i, bounds), condition)
        .limit(bind("max_points", type_=Integer) + literal_column("1"))
        .cte("candidates")
    )
    found = candidates.alias("i")
    shaped = (
        select(_mvt_geom(view.geom(found), bounds), *_point_properties(view, found))
        .select_from(found.join(bounds, true()))
        .cte("shaped")
    )
    n = select(func.count()).select_from(candidates).scalar_subquery()
    return select(
        n.label("n"),
        case(
            (n <= bind("max_points", type_=Integer), _mvt(shaped, "incidents").scalar_subquery())
        ).label("tile"),
    )


def _cells_tile(cells: CTE, bounds: CTE, size: float) -> Select:
    """The ``cells`` layer of counted cells (columns ci, cj, incidents, violations, killed)
    of ``size`` degrees.

    ST_AsMVT types a property by its column's type and sends numeric (what sum() of a bigint
    and a decimal literal are) as a string, which MapLibre's numeric styling ignores: the
    counts go as integers and the side as a double."""
    c = cells.c
    shaped = (
        select(
            _mvt_geom(cell_square(c.ci, c.cj, number(size)), bounds),
            cast(c.incidents, BigInteger).label("incidents"),
            cast(c.violations, BigInteger).label("violations"),
            cast(c.killed, BigInteger).label("killed"),
            cast(number(size), Float).label("cell_deg"),
        )
        .select_from(cells.join(bounds, true()))
        .cte("shaped")
    )
    return _mvt(shaped, "cells")


def _cells(view: IncidentView, condition: ColumnElement[bool], factor: int) -> Select:
    size = view.cell * factor
    i, bounds = INCIDENTS, _bounds()
    col, row = view.cell_index(i)
    cells = (
        select(
            func.floor(divided(col, factor), type_=Float).label("ci"),
            func.floor(divided(row, factor), type_=Float).label("cj"),
            func.count().label("incidents"),
            func.count()
            .filter(i.c.ceasefire_status == bind("violation", VIOLATION))
            .label("violations"),
            func.sum(i.c.killed).label("killed"),
        )
        .where(i.c.geom.is_not(None), _near_tile(i, bounds, size), condition)
        .group_by(*GROUP_BY_FIRST[:2])
        .cte("cells")
    )
    return _cells_tile(cells, bounds, size)


def _rollup_answers(view: IncidentView, filters: EventFilters) -> bool:
    """Whether the cell rollup holds exactly what a cell tile needs: the same grid, and no
    filter but statuses."""
    return view.cell == CELL_ROLLUP_DEG and filters == EventFilters(
        statuses=filters.statuses, ceasefire_statuses=filters.ceasefire_statuses
    )


def _rollup_condition(filters: EventFilters) -> ColumnElement[bool]:
    c = CELL_COUNTS.c
    found = category_conditions(
        filters,
        province=None,
        status=c.status,
        ceasefire_status=c.ceasefire_status,
        guarantors=None,
    )
    return and_(true(), *found)


def _cells_from_rollup(view: IncidentView, condition: ColumnElement[bool], factor: int) -> Select:
    size = view.cell * factor
    c = CELL_COUNTS.c
    bounds = _bounds()
    geo = bounds.c.geo

    def keys(low: ColumnElement[float], high: ColumnElement[float]) -> tuple:
        return (
            func.floor(divided(low - number(size), CELL_ROLLUP_DEG)),
            func.floor(divided(high + number(size), CELL_ROLLUP_DEG)),
        )

    def edge(name: str) -> ColumnElement[float]:
        return getattr(func, f"ST_{name}")(geo, type_=Float)

    cells = (
        select(
            func.floor(divided(cast(c.cell_i, Float), factor), type_=Float).label("ci"),
            func.floor(divided(cast(c.cell_j, Float), factor), type_=Float).label("cj"),
            func.sum(c.incidents).label("incidents"),
            func.sum(c.incidents)
            .filter(c.ceasefire_status == bind("violation", VIOLATION))
            .label("violations"),
            func.sum(c.killed).label("killed"),
        )
        .where(
            c.cell_i.between(*keys(edge("XMin"), edge("XMax"))),
            c.cell_j.between(*keys(edge("YMin"), edge("YMax"))),
            condition,
            c.incidents != literal_column("0"),
        )
        .group_by(*GROUP_BY_FIRST[:2])
        .cte("cells")
    )
    return _cells_tile(cells, bounds, size)


def tile(
    *,
    session: Session,
    view: IncidentView,
    filters: EventFilters,
    z: int,
    x: int,
    y: int,
    point_min_zoom: int,
    max_points: int,
) -> bytes:
    """One tile; ``filters`` already restricted to the view (and without a bbox)."""
    condition = view.conditions(filters, INCIDENTS)
    params = {**values(condition), "z": z, "x": x, "y": y, "margin": BUFFER / EXTENT}
    if z >= point_min_zoom:
        points = cached(("tiles.points", view, shape(condition)), lambda: _points(view, condition))
        row = session.execute(points, {**params, "max_points": max_points}).one()
        if row.tile is not None or row.n == 0:
            return bytes(row.tile or b"")
    factor = cell_factor(z, view)
    from service.tiles import rollup as categories  # (it imports this module's constants)

    if _rollup_answers(view, filters):
        rollup = _rollup_condition(filters)
        key = ("tiles.rollup", view, factor, shape(rollup))
        cells = cached(key, lambda: _cells_from_rollup(view, rollup, factor))
        params.update(values(rollup))
    elif categories.answers(view, filters):  # any other filters: the per-category rollups
        return categories.cells_tile(
            session=session, view=view, filters=filters, z=z, x=x, y=y, factor=factor
        )
    else:
        key = ("tiles.cells", view, factor, shape(condition))
        cells = cached(key, lambda: _cells(view, condition, factor))
    return bytes(session.execute(cells, params).scalar_one() or b"")


def theatre_bounds(*, session: Session) -> tuple[float, float, float, float] | None:
    return extent(session, THEATRES.c.aoi)
