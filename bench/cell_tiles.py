"""Low-zoom filtered cells tiles: counted live (before migration 0080's rollups) against read
from the per-category rollups (``service/tiles/rollup.py``), side by side in one run.

    .venv/bin/python -m bench.cell_tiles --database-url URL [--zooms 3,4,5,6,7]
        [--before-reps 3] [--after-reps 7]

Each case is one tile per zoom, the tile holding Aleppo (the densest place), built by
``service.tiles.service.tile`` as a request builds it, for the full view (a monitor: exact
windows, so partial days are counted live) and the public view; "before" switches the
rollups off (``rollup.answers`` false). Runs are interleaved; medians in milliseconds. Read
only: the database is never written. Both answers are checked equal, feature for feature.
"""

from __future__ import annotations

import argparse
import datetime as dt
import math
import statistics
import sys
import time
from zoneinfo import ZoneInfo

import mapbox_vector_tile
from sqlalchemy import create_engine, func, select
from sqlalchemy.orm import Session

from service.config import sqlalchemy_url
from service.event.filters import EventFilters
from service.maps.view import IncidentView
from service.theatre.terms import load_terms
from service.tiles import rollup, service

DENSE = (37.16, 36.2)  # Aleppo
SINCE = dt.datetime(2017, 3, 1, 6, 15, tzinfo=dt.UTC)
UNTIL = SINCE + dt.timedelta(days=30)
CASES = {
    "30 days": EventFilters(since=SINCE, until=UNTIL),
    "province": EventFilters(provinces=("SY02",)),
    "type": EventFilters(violation_types=("airstrike",)),
    "guarantor": EventFilters(guarantor="RUS"),
    "party": EventFilters(party="syrian-government-forces"),
    "province+type+30 days": EventFilters(
        provinces=("SY02", "SY07"),
        violation_types=("airstrike", "shelling"),
        since=SINCE,
        until=UNTIL,
    ),
    "party+guarantor+type": EventFilters(
        party="free-syrian-army", guarantor="RUS", violation_types=("airstrike",)
    ),
}


def tile_of(lon: float, lat: float, z: int) -> tuple[int, int]:
    n = 2**z
    return int((lon + 180) / 360 * n), int(
        (1 - math.asinh(math.tan(math.radians(lat))) / math.pi) / 2 * n
    )


def build(session: Session, view: IncidentView, filters: EventFilters, z: int) -> bytes:
    x, y = tile_of(*DENSE, z)
    return service.tile(
        session=session,
        view=view,
        filters=filters,
        z=z,
        x=x,
        y=y,
        point_min_zoom=99,
        max_points=20_000,
    )


def cells(body: bytes) -> list:
    layers = mapbox_vector_tile.decode(body) if body else {}
    features = layers.get("cells", {"features": []})["features"]
    return sorted((repr(f["geometry"]), sorted(f["properties"].items())) for f in features)


def timed(session: Session, view, filters, z: int, *, live: bool) -> tuple[float, bytes]:
    original = rollup.answers
    if live:
        rollup.answers = lambda view, filters: False  # type: ignore[assignment]
    try:
        start = time.perf_counter()
        body = build(session, view, filters, z)
        return (time.perf_counter() - start) * 1000, body
    finally:
        rollup.answers = original  # type: ignore[assignment]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database-url", required=True)
    parser.add_argument("--zooms", default="3,4,5,6,7")
    parser.add_argument("--before-reps", type=int, default=3)
    parser.add_argument("--after-reps", type=int, default=7)
    args = parser.parse_args(argv)
    engine = create_engine(sqlalchemy_url(args.database_url))
    zooms = [int(z) for z in args.zooms.split(",")]
    with Session(engine) as session:
        tz: ZoneInfo = load_terms(session).timezone
        count = session.execute(select(func.count()).select_from(rollup.INCIDENTS))
        print(f"incidents: {count.scalar_one():,}; zooms {zooms}; medians in ms")
        print(f"{'case':24} {'view':6} {'z':>2} {'before':>9} {'after':>8} {'ratio':>7} cells")
        afters = []
        for name, asked in CASES.items():
            for view in (IncidentView(False, 0.1, tz), IncidentView(True, 0.1, tz)):
                filters = view.restrict(asked)
                for z in zooms:
                    before, after, bodies = [], [], {}
                    for k in range(max(args.before_reps, args.after_reps)):
                        if k < args.before_reps:
                            ms, bodies["live"] = timed(session, view, filters, z, live=True)
                            before.append(ms)
                        if k < args.after_reps:
                            ms, bodies["rollup"] = timed(session, view, filters, z, live=False)
                            after.append(ms)
                        session.rollback()
                    shown = cells(bodies["rollup"])
                    if "live" in bodies and cells(bodies["live"]) != shown:
                        print(f"MISMATCH {name} {view.name} z{z}", file=sys.stderr)
                        return 1
                    b = statistics.median(before) if before else float("nan")
                    a = statistics.median(after)
                    afters.append(a)
                    label = "public" if view.public else "full"
                    print(
                        f"{name:24} {label:6} {z:>2} {b:9.1f} {a:8.1f} {b / a:6.1f}x {len(shown)}",
                        flush=True,
                    )
        print(
            f"after: median of the cases' medians {statistics.median(afters):.1f} ms,"
            f" slowest {max(afters):.1f} ms"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
