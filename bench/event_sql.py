"""The event's SQL at service level (no HTTP): one process per code version, same database.

    PYTHONPATH=CHECKOUT .venv/bin/python bench/event_sql.py DATABASE_URL [--rounds 5]

prints, as JSON, milliseconds per call of each case (after three warm calls each), so two
checkouts (e.g. main and a branch) can be run alternately against one data set
(``python -m bench.dataset --incidents 100000``) and their medians compared side by side.
With ``--explain`` it prints each case's plans (``EXPLAIN (COSTS OFF)`` of the statements it
ran, with their parameters) instead, for checking that a change keeps them.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import time
from collections.abc import Callable
from typing import Any
from zoneinfo import ZoneInfo

import psycopg
from sqlalchemy import create_engine, text
from sqlalchemy.orm import Session

from service.config import sqlalchemy_url
from service.event.filters import BBox, EventFilters
from service.incident.service import list_incidents
from service.maps.view import COUNTED_STATUSES, IncidentView
from service.ogc.service import incident_feature, incident_page
from service.report.reads import list_reports
from service.stats.service import province_counts, timeseries
from service.tiles.service import tile

TZ = ZoneInfo("Asia/Damascus")
FULL = IncidentView(public=False, cell=0.1, timezone=TZ)
PUBLIC = IncidentView(public=True, cell=0.1, timezone=TZ)
BOX = BBox(36.6, 35.8, 36.8, 36.0)  # some 2,000 of 100,000 incidents
MARCH = EventFilters(
    since=dt.datetime(2017, 3, 1, tzinfo=dt.UTC), until=dt.datetime(2017, 4, 1, tzinfo=dt.UTC)
)


def cases(session: Session) -> dict[str, Callable[[], Any]]:
    feature_id = str(
        session.execute(
            text("SELECT id FROM incidents WHERE status = 'verified' ORDER BY id LIMIT 1")
        ).scalar_one()
    )

    def page(view: IncidentView, limit: int, **given: Any) -> Callable[[], Any]:
        filters = view.restrict(EventFilters(**given))
        return lambda: incident_page(
            session=session, view=view, filters=filters, limit=limit, cursor=None
        )

    def tile_at(view: IncidentView, z: int, x: int, y: int, **given: Any) -> Callable[[], Any]:
        filters = view.restrict(EventFilters(**given), default_statuses=COUNTED_STATUSES)
        return lambda: tile(
            session=session, view=view, filters=filters, z=z, x=x, y=y,
            point_min_zoom=8, max_points=20_000,
        )  # fmt: skip

    counted = PUBLIC.restrict(MARCH, default_statuses=COUNTED_STATUSES)
    return {
        "items 10 (full)": page(FULL, 10),
        "items 1000 in box (full)": page(FULL, 1000, bbox=BOX),
        "items 1000 in box (public)": page(PUBLIC, 1000, bbox=BOX),
        "item by id (full)": lambda: incident_feature(
            session=session, view=FULL, feature_id=feature_id
        ),
        "item by id (public)": lambda: incident_feature(
            session=session, view=PUBLIC, feature_id=feature_id
        ),
        "tile z5 (public, rollup)": tile_at(PUBLIC, 5, 19, 12),
        "tile z5 (full, type filter: live)": tile_at(
            FULL, 5, 19, 12, violation_types=("shelling",)
        ),
        "tile z10 points (full)": tile_at(FULL, 10, 615, 408),
        "tile z10 points (public)": tile_at(PUBLIC, 10, 615, 408),
        "stats provinces Z window (public)": lambda: province_counts(
            session=session,
            filters=counted,
            view=PUBLIC,
            simplify=0.01,
            areas_version="1",
            min_count=3,
        ),  # fmt: skip
        "stats timeseries (full)": lambda: timeseries(
            session=session,
            view=FULL,
            interval="month",
            min_count=1,
            filters=FULL.restrict(EventFilters(), default_statuses=COUNTED_STATUSES),
        ),  # fmt: skip
        "list_incidents 10": lambda: list_incidents(
            session=session, filters=EventFilters(), cursor=None, limit=10
        ),
        "list_incidents 100 province+box": lambda: list_incidents(
            session=session,
            filters=EventFilters(provinces=("SY02",), bbox=BOX),
            cursor=None,
            limit=100,
        ),  # fmt: skip
        "list_reports 10": lambda: list_reports(
            session=session, filters=EventFilters(), cursor=None, limit=10, with_reporter=False
        ),
    }


def explain(session: Session, run: dict[str, Callable[[], Any]]) -> dict[str, list[str]]:
    """The plans of the statements each case runs (settings and small look-ups aside)."""
    recorded: list[tuple[Any, Any]] = []
    original = psycopg.Cursor.execute

    def execute(self, query, params=None, **kw):  # noqa: ANN001, ANN202
        recorded.append((query, params))
        return original(self, query, params, **kw)

    plans: dict[str, list[str]] = {}
    for name, call in run.items():
        recorded.clear()
        psycopg.Cursor.execute = execute  # type: ignore[method-assign]
        try:
            call()
        finally:
            psycopg.Cursor.execute = original  # type: ignore[method-assign]
        connection = session.connection().connection.dbapi_connection
        plans[name] = []
        for query, params in recorded:
            sql = query if isinstance(query, str) else query.as_string(connection)
            if not sql.lstrip().upper().startswith(("SELECT", "WITH")) or "set_config" in sql:
                continue
            with connection.cursor() as cursor:  # type: ignore[union-attr]
                cursor.execute("EXPLAIN (COSTS OFF) " + sql, params)
                plans[name].append("\n".join(row[0] for row in cursor.fetchall()))
        session.rollback()
    return plans


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("database_url")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--only", default="", help="only the cases whose name holds this")
    parser.add_argument("--explain", action="store_true")
    args = parser.parse_args()
    engine = create_engine(sqlalchemy_url(args.database_url))
    with Session(engine) as session:
        run = {k: v for k, v in cases(session).items() if args.only in k}
        if args.explain:
            print(json.dumps(explain(session, run)))
            return
        for call in run.values():  # warm: caches, prepared statements
            for _ in range(3):
                call()
                session.rollback()
        times: dict[str, list[float]] = {name: [] for name in run}
        for _ in range(args.rounds):
            for name, call in run.items():
                started = time.perf_counter()
                call()
                times[name].append((time.perf_counter() - started) * 1000)
                session.rollback()
    engine.dispose()
    print(json.dumps(times))


if __name__ == "__main__":
    main()
