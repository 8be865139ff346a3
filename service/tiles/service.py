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

from sqlalchemy import text
from sqlalchemy.orm import Session

from service.errors import BadRequest
from service.event.filters import EventFilters
from service.maps.models import CELL_ROLLUP_DEG
from service.maps.view import IncidentView

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


# The buffered envelope is clipped to the world before it is transformed: a tile at the
# antimeridian (1/1/0 holds the eastern hemisphere) would otherwise wrap to the other side
# and find nothing.
_BOUNDS = """
    bounds AS (
        SELECT ST_TileEnvelope(:z, :x, :y) AS merc,
               ST_Transform(ST_ClipByBox2D(ST_TileEnvelope(:z, :x, :y, margin => :margin),
                                           ST_TileEnvelope(0, 0, 0)), 4326) AS geo
    )
"""


def _points_in_tile(view: IncidentView) -> str:
    """Incidents whose shown position is in the tile (with its buffer), found by index."""
    if not view.public:
        return "i.geom && bounds.geo"
    return f"i.geom && ST_Expand(bounds.geo, {view.cell!r}) AND {view.geom_sql('i')} && bounds.geo"


def _cells_near_tile(size: float) -> str:
    """Incidents whose cell of ``size`` degrees may overlap the tile: whole cells are counted
    even where the tile cuts them, so neighbouring tiles agree on a cell's count."""
    return f"i.geom && ST_Expand(bounds.geo, {size!r})"


def _point_properties(view: IncidentView) -> str:
    when = (
        f"to_char({view.local_day_sql('i')}, 'YYYY-MM-DD')"
        if view.public
        else "to_char(i.occurred_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"')"
    )
    return f"""
        i.id::text AS id, {when} AS occurred_at, i.violation_type, i.ceasefire_status,
        i.status, i.province_pcode AS province, i.killed, i.civilians_killed,
        array_to_string(i.responsible_guarantors, ',') AS guarantors
    """


def _points_sql(view: IncidentView, condition: str) -> str:
    return f"""
        WITH {_BOUNDS},
        candidates AS (
            SELECT i.* FROM incidents i, bounds
            WHERE i.geom IS NOT NULL AND {_points_in_tile(view)} AND {condition}
            LIMIT :max_points + 1
        ),
        shaped AS (
            SELECT ST_AsMVTGeom(ST_Transform({view.geom_sql("i")}, 3857), bounds.merc,
                                {EXTENT}, {BUFFER}, true) AS geom,
                   {_point_properties(view)}
            FROM candidates i, bounds
        )
        SELECT (SELECT count(*) FROM candidates) AS n,
               CASE WHEN (SELECT count(*) FROM candidates) <= :max_points THEN
                   (SELECT ST_AsMVT(shaped, 'incidents', {EXTENT}, 'geom') FROM shaped
                    WHERE geom IS NOT NULL)
               END AS tile
    """


# ST_AsMVT types a property by its column's type and sends numeric (what sum() of a bigint
# and a decimal literal are) as a string, which MapLibre's numeric styling ignores: the
# counts go as integers and the side as a double.
_CELL_PROPERTIES = """
    CAST(incidents AS bigint) AS incidents, CAST(violations AS bigint) AS violations,
    CAST(killed AS bigint) AS killed, CAST({s} AS float8) AS cell_deg
"""


def _cells_sql(view: IncidentView, condition: str, factor: int) -> str:
    size = view.cell * factor
    col, row = view.cell_index_sql("i")
    s = repr(size)
    return f"""
        WITH {_BOUNDS},
        cells AS (
            SELECT floor({col} / {factor}) AS ci, floor({row} / {factor}) AS cj,
                   count(*) AS incidents,
                   count(*) FILTER (WHERE i.ceasefire_status = 'violation') AS violations,
                   sum(i.killed) AS killed
            FROM incidents i, bounds
            WHERE i.geom IS NOT NULL AND {_cells_near_tile(size)} AND {condition}
            GROUP BY 1, 2
        ),
        shaped AS (
            SELECT ST_AsMVTGeom(
                       ST_Transform(ST_MakeEnvelope(ci * {s}, cj * {s}, (ci + 1) * {s},
                                                    (cj + 1) * {s}, 4326), 3857),
                       bounds.merc, {EXTENT}, {BUFFER}, true) AS geom,
                   {_CELL_PROPERTIES.format(s=s)}
            FROM cells, bounds
        )
        SELECT ST_AsMVT(shaped, 'cells', {EXTENT}, 'geom') FROM shaped WHERE geom IS NOT NULL
    """


def _rollup_answers(view: IncidentView, filters: EventFilters) -> bool:
    """Whether the cell rollup holds exactly what a cell tile needs: the same grid, and no
    filter but statuses."""
    return view.cell == CELL_ROLLUP_DEG and filters == EventFilters(
        statuses=filters.statuses, ceasefire_statuses=filters.ceasefire_statuses
    )


def _cells_from_rollup_sql(view: IncidentView, factor: int) -> str:
    size = view.cell * factor
    s, c = repr(size), repr(CELL_ROLLUP_DEG)
    return f"""
        WITH {_BOUNDS},
        cells AS (
            SELECT floor(c.cell_i::float8 / {factor}) AS ci, floor(c.cell_j::float8 / {factor}) AS cj,
                   sum(c.incidents) AS incidents,
                   sum(c.incidents) FILTER (WHERE c.ceasefire_status = 'violation') AS violations,
                   sum(c.killed) AS killed
            FROM incident_cell_counts c, bounds
            WHERE c.cell_i BETWEEN floor((ST_XMin(bounds.geo) - {s}) / {c})
                               AND floor((ST_XMax(bounds.geo) + {s}) / {c})
              AND c.cell_j BETWEEN floor((ST_YMin(bounds.geo) - {s}) / {c})
                               AND floor((ST_YMax(bounds.geo) + {s}) / {c})
              AND (CAST(:statuses AS text[]) IS NULL OR c.status = ANY(:statuses))
              AND (CAST(:cstatuses AS text[]) IS NULL OR c.ceasefire_status = ANY(:cstatuses))
              AND c.incidents <> 0
            GROUP BY 1, 2
        ),
        shaped AS (
            SELECT ST_AsMVTGeom(
                       ST_Transform(ST_MakeEnvelope(ci * {s}, cj * {s}, (ci + 1) * {s},
                                                    (cj + 1) * {s}, 4326), 3857),
                       bounds.merc, {EXTENT}, {BUFFER}, true) AS geom,
                   {_CELL_PROPERTIES.format(s=s)}
            FROM cells, bounds
        )
        SELECT ST_AsMVT(shaped, 'cells', {EXTENT}, 'geom') FROM shaped WHERE geom IS NOT NULL
    """


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
    condition, params = view.where(filters, "i")
    params.update(z=z, x=x, y=y, margin=BUFFER / EXTENT, v_tz=str(view.timezone))
    if z >= point_min_zoom:
        row = session.execute(
            text(_points_sql(view, condition)), {**params, "max_points": max_points}
        ).one()
        if row.tile is not None or row.n == 0:
            return bytes(row.tile or b"")
    factor = cell_factor(z, view)
    from service.tiles import rollup  # (it imports this module's constants)

    if _rollup_answers(view, filters):
        rollup_params = {
            **params,
            "statuses": list(filters.statuses) if filters.statuses is not None else None,
            "cstatuses": (
                list(filters.ceasefire_statuses) if filters.ceasefire_statuses is not None else None
            ),
        }
        body = session.execute(text(_cells_from_rollup_sql(view, factor)), rollup_params)
    elif rollup.answers(view, filters):  # any other filters: the per-category rollups
        return rollup.cells_tile(
            session=session, view=view, filters=filters, z=z, x=x, y=y, factor=factor
        )
    else:
        body = session.execute(text(_cells_sql(view, condition, factor)), params)
    return bytes(body.scalar_one() or b"")


def theatre_bounds(*, session: Session) -> tuple[float, float, float, float] | None:
    row = session.execute(
        text(
            "SELECT ST_XMin(b) AS x0, ST_YMin(b) AS y0, ST_XMax(b) AS x1, ST_YMax(b) AS y1"
            " FROM (SELECT ST_Extent(aoi) AS b FROM theatres) t"
        )
    ).one()
    return None if row.x0 is None else (row.x0, row.y0, row.x1, row.y1)
