"""The changes feed: what its triggers add to incident writes, and what a page costs to
read, side by side in one run (medians in milliseconds).

    .venv/bin/python -m bench.changes --database-url URL [--repeat 15] [--rows 500]

``URL`` is a migrated database holding incidents (e.g. the scratch database
``bench.ingest`` leaves behind, ``<DATABASE_URL's name>_bench_ingest_a``). Writes:

- an UPDATE of ``--rows`` incidents (a new review note each), and an INSERT of ``--rows``
  incidents copied from existing ones under new ids, with migration 0130's log triggers on
  and off (``ALTER TABLE ... DISABLE TRIGGER``), alternating; every write is rolled back.

Before the reads, if no log row is public, ``--verify`` (default 0.3) of the unverified
incidents are verified, committed (the public feed has nothing to read otherwise). Reads
(``service.changes.service.changes_page``, as the route calls it): the first page and a
page from the middle of the log, ``limit`` 100 and 1000, full and public views.
"""

from __future__ import annotations

import argparse
import os
import statistics
import time

from sqlalchemy import create_engine, text
from sqlalchemy.engine import Connection, make_url
from sqlalchemy.orm import Session

from service.changes.service import CHANGES_ORDER, changes_page
from service.config import get_settings, sqlalchemy_url
from service.incident.models import Incident
from service.maps.view import IncidentView
from service.theatre.terms import load_terms

_TRIGGERS = ("incidents_changes_log_insert", "incidents_changes_log_update")


def _timed(conn: Connection, sql: str, params: dict, *, logged: bool) -> float:
    with conn.begin() as tx:
        if not logged:
            for name in _TRIGGERS:
                conn.execute(text(f"ALTER TABLE incidents DISABLE TRIGGER {name}"))
        started = time.perf_counter()
        conn.execute(text(sql), params)
        elapsed = time.perf_counter() - started
        tx.rollback()
    return elapsed * 1000


def writes(conn: Connection, rows: int, repeat: int) -> None:
    columns = [c.name for c in Incident.__table__.columns if c.name != "id"]
    cases = {
        f"UPDATE {rows}": (
            "UPDATE incidents SET review_note = md5(random()::text), updated_at = clock_timestamp()"
            " WHERE id IN (SELECT id FROM incidents ORDER BY id LIMIT :n)"
        ),
        f"INSERT {rows}": (
            f"INSERT INTO incidents (id, {', '.join(columns)})"
            f" SELECT gen_random_uuid(), {', '.join(columns)} FROM incidents"
            " WHERE status <> 'merged' ORDER BY id LIMIT :n"
        ),
    }
    print(f"{'write':14} {'no log ms':>10} {'log ms':>10} {'ratio':>6}")
    for name, sql in cases.items():
        off: list[float] = []
        on: list[float] = []
        for n in range(repeat):
            order = (False, True) if n % 2 == 0 else (True, False)
            for logged in order:
                (on if logged else off).append(_timed(conn, sql, {"n": rows}, logged=logged))
        a, b = statistics.median(off), statistics.median(on)
        print(f"{name:14} {a:10.1f} {b:10.1f} {b / a:6.2f}")


def verify_some(engine, share: float) -> None:
    """Give the public feed something to read: verify ``share`` of the unverified incidents
    (committed: the database is a scratch one), once."""
    with engine.begin() as conn:
        public = conn.execute(text("SELECT count(*) FROM incident_changes WHERE public")).scalar()
        if public == 0 and share > 0:
            conn.execute(
                text(
                    "UPDATE incidents SET status = 'verified', reviewed_at = now()"
                    " WHERE status = 'unverified' AND random() < :share"
                ),
                {"share": share},
            )


def reads(session: Session, repeat: int) -> None:
    tz = load_terms(session).timezone
    cell = get_settings().public_cell_deg
    total, middle = session.execute(
        text(
            "SELECT count(*), (SELECT xid || ',' || seq FROM incident_changes ORDER BY xid, seq"
            " OFFSET (SELECT count(*) / 2 FROM incident_changes) LIMIT 1) FROM incident_changes"
        )
    ).one()
    mid = tuple(int(v) for v in middle.split(","))
    public_rows = session.execute(
        text("SELECT count(*) FROM incident_changes WHERE public")
    ).scalar()
    print(f"\n{total} log rows ({public_rows} public); page reads (median of {repeat}, ms):")
    print(f"{'view':8} {'limit':>6} {'first page':>11} {'middle':>8}")
    for public in (False, True):
        view = IncidentView(public=public, cell=cell, timezone=tz)
        for limit in (100, 1000):
            figures = []
            for since in (None, CHANGES_ORDER.decode(CHANGES_ORDER.encode(mid))):
                times = []
                for n in range(repeat + 1):  # the first run warms the caches, uncounted
                    started = time.perf_counter()
                    changes_page(session=session, view=view, since=since, limit=limit)
                    if n:
                        times.append((time.perf_counter() - started) * 1000)
                figures.append(statistics.median(times))
            name = "public" if public else "full"
            print(f"{name:8} {limit:6} {figures[0]:11.1f} {figures[1]:8.1f}")


def main() -> None:
    default = make_url(os.environ.get("DATABASE_URL", "postgresql://postgres@127.0.0.1/ceasefire"))
    parser = argparse.ArgumentParser(prog="python -m bench.changes", description=__doc__)
    parser.add_argument(
        "--database-url",
        default=default.set(database=f"{default.database}_bench_ingest_a").render_as_string(
            hide_password=False
        ),
    )
    parser.add_argument("--repeat", type=int, default=15)
    parser.add_argument("--rows", type=int, default=500)
    parser.add_argument(
        "--verify", type=float, default=0.3, help="share verified first if none is (public reads)"
    )
    args = parser.parse_args()
    engine = create_engine(sqlalchemy_url(args.database_url))
    with engine.connect() as conn:
        writes(conn, args.rows, args.repeat)
    verify_some(engine, args.verify)
    with Session(engine) as session:
        reads(session, args.repeat)
    engine.dispose()


if __name__ == "__main__":
    main()
