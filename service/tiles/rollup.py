"""Low-zoom cell tiles for any filters, read from the per-category cell rollups.

``incident_cell_days`` and ``incident_cell_months`` (``service/maps/models.py``, migration
0080; read through their ``_now`` views, which add the deltas not yet folded in, migration
0120) count incidents per 0.1-degree cell and every category a filter names: province,
status, ceasefire status, violation type, responsible guarantors, perpetrator, target and
confidence band. A cells tile for any of those filters and any window is then:

- the whole local months inside the window, from ``incident_cell_months``;
- the whole local days outside those months (at most two partial months), from
  ``incident_cell_days``;
- the partial days at the window's edges (an exact ``Z`` window of a monitor; the public's
  windows are whole local days already), counted from incidents through the time index, as
  ``service/maps/tallies.py`` does for the daily rollup;

summed per tile cell. The cells, their properties and their types are those the live count
of ``service.tiles.service`` gives: the same grid (the rollup's cells are the public grid's
when it is 0.1 degrees; another grid is counted live), the same envelopes, the same clipping.
A box (``bbox``) is answered live: the public tests it on cell centres and the full view on
exact points, which a cell cannot tell.

Why this grain (measured with ``bench.dataset``): on 300,000 incidents (272,395 with a
position, 755 occupied cells) the distinct keys are 97,641 per local day, 61,090 per local
month, 30,589 per year and 17,351 with no period; adding perpetrator and target to the key
adds 0.2% (day) and 1.7% (month) rows, because the 35 pairs follow type, place and time.
On 1,000,000 incidents (907,787 with a position) the full key has 144,019 day rows and 86,725
month rows: the rollups grow with the categories met, far slower than incidents. Parties are
therefore in the key: answering a party filter live would count up to 75% of the incidents
(the largest perpetrator's share). Without the violation type the months would hold a third
fewer rows, and the type filter would be live. Months are what a window without ends or of
many months reads (a few tens of thousands of rows); days only serve the partial months at a
window's ends. A yearly or all-time level would cut the open-window reads again, at the cost
of a third upsert per written statement. See the README (Maps) for the tile timings and the
write cost.
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass, replace
from zoneinfo import ZoneInfo

from sqlalchemy import (
    BigInteger,
    ColumnElement,
    Float,
    Integer,
    Select,
    Table,
    cast,
    func,
    literal,
    or_,
    select,
    union_all,
)
from sqlalchemy.orm import Session

from service.event.filters import EventFilters, TimeRange, category_conditions
from service.incident.models import Incident
from service.maps.models import CELL_DAYS_NOW, CELL_MONTHS_NOW, CELL_ROLLUP_DEG
from service.maps.view import ALL_STATUSES, IncidentView
from service.tiles.service import BUFFER, EXTENT

# The rollups with the deltas not yet folded in (exact whether or not the job has run).
DAYS: Table = CELL_DAYS_NOW
MONTHS: Table = CELL_MONTHS_NOW
INCIDENTS: Table = Incident.__table__


def answers(view: IncidentView, filters: EventFilters) -> bool:
    """Whether the rollups hold exactly what the view's cells tile needs for ``filters``:
    the same grid, and no box (nor a reporter, which incidents never take)."""
    return view.cell == CELL_ROLLUP_DEG and filters.bbox is None and filters.reporter_key_id is None


# ---- the window: whole months, whole days, partial days ----


@dataclass(frozen=True)
class Periods:
    """A window split into the rollups' periods: local months ``[first, end)`` (None: no
    month; an end None: open), local days ``[first, end)`` ranges, and the partial days at
    the edges as instants."""

    months: tuple[dt.date | None, dt.date | None] | None
    days: tuple[tuple[dt.date, dt.date], ...]
    edges: tuple[TimeRange, ...]


def _month_after(day: dt.date) -> dt.date:
    """The first day of the month after ``day``'s (``day`` itself if it is a first)."""
    if day.day == 1:
        return day
    return (day.replace(day=1) + dt.timedelta(days=32)).replace(day=1)


def periods(since: dt.datetime | None, until: dt.datetime | None, tz: ZoneInfo) -> Periods:
    """``[since, until)`` as whole local months, whole local days and partial days, which
    together cover it exactly (``TimeRange.whole_local_days`` gives the days and edges)."""
    whole, edges = TimeRange(since, until).whole_local_days(tz)
    if whole is None:
        return Periods(None, (), edges)
    first = None if whole.since is None else whole.since.astimezone(tz).date()
    end = None if whole.until is None else whole.until.astimezone(tz).date()
    month_first = None if first is None else _month_after(first)
    month_end = None if end is None else end.replace(day=1)
    if month_first is not None and month_end is not None and month_first >= month_end:
        return Periods(None, ((first, end),) if first < end else (), edges)  # type: ignore[operator]
    days = []
    if first is not None and month_first is not None and first < month_first:
        days.append((first, month_first))
    if end is not None and month_end is not None and month_end < end:
        days.append((month_end, end))
    return Periods((month_first, month_end), tuple(days), edges)


# ---- conditions, over a rollup or over incidents (their columns share names) ----


def _categories(filters: EventFilters, table: Table) -> list[ColumnElement[bool]]:
    """The filters but time and box, over ``table``: a rollup or incidents (their columns
    share names)."""
    c = table.c
    if filters.statuses is not None and set(ALL_STATUSES) <= set(filters.statuses):
        filters = replace(filters, statuses=None)  # every status: no condition needed
    return category_conditions(
        filters,
        province=c.province_pcode,
        status=c.status,
        ceasefire_status=c.ceasefire_status,
        guarantors=c.responsible_guarantors,
        violation_type=c.violation_type,
        parties=(c.perpetrator_party_id, c.target_party_id),
        confidence_band=c.confidence_band,
    )


@dataclass(frozen=True)
class CellRange:
    """The rollup cells ``[i0, i1] x [j0, j1]`` to read for a tile: whole tile cells (of
    ``factor`` rollup cells a side) reaching into the tile and its buffer, and one more
    around, so every tile cell the tile shows is counted whole."""

    i0: int
    i1: int
    j0: int
    j1: int

    @classmethod
    def for_tile(cls, z: int, x: int, y: int, factor: int) -> CellRange:
        n = 2**z
        margin = BUFFER / EXTENT

        def lat(row: float) -> float:
            row = min(max(row, 0.0), float(n))  # the buffer is clipped to the world
            return math.degrees(math.atan(math.sinh(math.pi * (1 - 2 * row / n))))

        west = max(-180.0, (x - margin) / n * 360 - 180)
        east = min(180.0, (x + 1 + margin) / n * 360 - 180)
        south, north = lat(y + 1 + margin), lat(y - margin)
        size = CELL_ROLLUP_DEG * factor

        def span(low: float, high: float) -> tuple[int, int]:
            first = math.floor(low / size) - 1
            last = math.floor(high / size) + 1
            return first * factor, (last + 1) * factor - 1

        (i0, i1), (j0, j1) = span(west, east), span(south, north)
        return cls(i0, i1, j0, j1)


def _rollup_rows(
    table: Table, period: str, span: tuple, filters: EventFilters, cells: CellRange
) -> Select:
    c = table.c
    first, end = span
    conditions = [
        *_categories(filters, table),
        c.cell_i.between(cells.i0, cells.i1),
        c.cell_j.between(cells.j0, cells.j1),
        # A delta of an update may move killed alone (incidents 0): keep it.
        or_(c.incidents != 0, c.killed != 0),
    ]
    if first is not None:
        conditions.append(c[period] >= first)
    if end is not None:
        conditions.append(c[period] < end)
    return select(c.cell_i, c.cell_j, c.ceasefire_status, c.incidents, c.killed).where(*conditions)


def _live_rows(edge: TimeRange, filters: EventFilters, cells: CellRange) -> Select:
    """The incidents of one partial day, shaped as rollup rows (one incident each)."""
    i = INCIDENTS.c
    c = CELL_ROLLUP_DEG
    cell_i = cast(func.floor(func.ST_X(i.geom) / c), Integer)
    cell_j = cast(func.floor(func.ST_Y(i.geom) / c), Integer)
    box = func.ST_MakeEnvelope(
        cells.i0 * c - c, cells.j0 * c - c, (cells.i1 + 2) * c, (cells.j1 + 2) * c, 4326
    )
    conditions = [
        *_categories(filters, INCIDENTS),
        i.geom.isnot(None),
        i.geom.op("&&")(box),
        cell_i.between(cells.i0, cells.i1),
        cell_j.between(cells.j0, cells.j1),
    ]
    if edge.since is not None:
        conditions.append(i.occurred_at >= edge.since)
    if edge.until is not None:
        conditions.append(i.occurred_at < edge.until)
    return select(
        cell_i.label("cell_i"),
        cell_j.label("cell_j"),
        i.ceasefire_status,
        literal(1, Integer).label("incidents"),
        cast(i.killed, BigInteger).label("killed"),
    ).where(*conditions)


def cells_tile_query(
    view: IncidentView, filters: EventFilters, *, z: int, x: int, y: int, factor: int
) -> Select:
    """The statement building the ``cells`` layer of tile ``z/x/y`` (one bytea), with tile
    cells of ``factor`` public cells a side, for filters already restricted to the view."""
    cells = CellRange.for_tile(z, x, y, factor)
    split = periods(filters.since, filters.until, view.timezone)
    parts: list[Select] = []
    if split.months is not None:
        parts.append(_rollup_rows(MONTHS, "month", split.months, filters, cells))
    parts.extend(_rollup_rows(DAYS, "day", days, filters, cells) for days in split.days)
    parts.extend(_live_rows(edge, filters, cells) for edge in split.edges)
    if not parts:  # an empty window
        parts.append(_rollup_rows(DAYS, "day", (None, None), filters, cells).where(False))
    rows = (union_all(*parts) if len(parts) > 1 else parts[0]).subquery("rows")

    ci = func.floor(cast(rows.c.cell_i, Float) / float(factor))
    cj = func.floor(cast(rows.c.cell_j, Float) / float(factor))
    incidents = func.sum(rows.c.incidents)
    tile_cells = (
        select(
            ci.label("ci"),
            cj.label("cj"),
            incidents.label("incidents"),
            func.coalesce(incidents.filter(rows.c.ceasefire_status == "violation"), 0).label(
                "violations"
            ),
            func.sum(rows.c.killed).label("killed"),
        )
        .group_by(ci, cj)
        .having(incidents > 0)
        # Materialized: the test on each cell's clipped shape below would otherwise be pushed
        # down to every rollup row (the planner sees it depends on the group keys only).
        .cte("cells")
        .prefix_with("MATERIALIZED")
    )

    # As service.tiles.service._cells_sql: the same envelope, transformed and clipped alike,
    # and the same property types (ST_AsMVT types a property by its column's type).
    size = view.cell * factor
    t = tile_cells.c
    envelope = func.ST_MakeEnvelope(
        t.ci * size, t.cj * size, (t.ci + 1) * size, (t.cj + 1) * size, 4326
    )
    shaped = select(
        func.ST_AsMVTGeom(
            func.ST_Transform(envelope, 3857), func.ST_TileEnvelope(z, x, y), EXTENT, BUFFER, True
        ).label("geom"),
        cast(t.incidents, BigInteger).label("incidents"),
        cast(t.violations, BigInteger).label("violations"),
        cast(t.killed, BigInteger).label("killed"),
        cast(literal(size, Float), Float).label("cell_deg"),
    ).subquery("shaped")
    return select(func.ST_AsMVT(shaped.table_valued(), "cells", EXTENT, "geom")).where(
        shaped.c.geom.isnot(None)
    )


def cells_tile(
    *,
    session: Session,
    view: IncidentView,
    filters: EventFilters,
    z: int,
    x: int,
    y: int,
    factor: int,
) -> bytes:
    """The cells tile from the rollups (``answers`` must hold)."""
    query = cells_tile_query(view, filters, z=z, x=x, y=y, factor=factor)
    return bytes(session.execute(query).scalar_one() or b"")
