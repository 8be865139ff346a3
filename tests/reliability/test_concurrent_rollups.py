"""Eight batch writers at once leave every rollup exact and never deadlock (issue 14).

Each writer is a real connection committing its own transactions: batches of reports
through ``submit`` (the batch API's path), and in every other transaction a second
statement re-verifying incidents other writers opened, so one transaction's statements
touch the same rollup keys as its neighbours' in no fixed order (what made the old triggers
take one global row first). Meanwhile the compaction job folds deltas in and a reader
checks that the version it reads never goes back. Afterwards every rollup read through its
view equals a GROUP BY over incidents (per key, and in sum), the folded tables alone equal
it after a last fold, and the test prints its figures. Run alone:
``pytest -s tests/reliability/test_concurrent_rollups.py`` (it never restarts PostgreSQL).
"""

from __future__ import annotations

import datetime as dt
import random
import threading
import time

from sqlalchemy import text
from sqlalchemy.orm import Session

from service.audit.service import CONSOLE
from service.auth.models import Role
from service.auth.service import Principal, create_key
from service.maps.state import data_state
from service.report.service import Submitter, submit
from tests.live import copied_database
from tests.map_incidents import AREA, report

WRITERS = 8
BATCHES = 6  # per writer
BATCH_SIZE = 100
DAYS = 3  # every writer writes the same few local days: the same rollup keys

# What each rollup holds, as a GROUP BY over incidents, and its view's columns.
_CELL = "floor(ST_X(geom) / 0.1)::int, floor(ST_Y(geom) / 0.1)::int"
_DAY = "(occurred_at AT TIME ZONE theatre_timezone())::date"
_CATEGORIES = (
    "province_pcode, status, ceasefire_status, violation_type, responsible_guarantors,"
    " coalesce(perpetrator_party_id, ''), coalesce(target_party_id, ''), confidence_band"
)
_VIEW_CATEGORIES = (
    "province_pcode, status, ceasefire_status, violation_type, responsible_guarantors,"
    " perpetrator_party_id, target_party_id, confidence_band"
)
ROLLUPS = {
    "incident_daily_counts": (
        f"{_DAY}, province_pcode, status, ceasefire_status, responsible_guarantors,"
        " confidence_band",
        "day, province_pcode, status, ceasefire_status, guarantors, confidence_band",
        "count(*), sum(killed), sum(injured), sum(civilians_killed)",
        "sum(incidents), sum(killed), sum(injured), sum(civilians_killed)",
        "",
    ),
    "incident_totals": ("status", "status", "count(*)", "sum(incidents)", ""),
    "incident_cell_counts": (
        f"{_CELL}, status, ceasefire_status",
        "cell_i, cell_j, status, ceasefire_status",
        "count(*), sum(killed)",
        "sum(incidents), sum(killed)",
        "WHERE geom IS NOT NULL",
    ),
    "incident_cell_days": (
        f"{_DAY}, {_CELL}, {_CATEGORIES}",
        f"day, cell_i, cell_j, {_VIEW_CATEGORIES}",
        "count(*), sum(killed)",
        "sum(incidents), sum(killed)",
        "WHERE geom IS NOT NULL",
    ),
    "incident_cell_months": (
        f"date_trunc('month', {_DAY}::timestamp)::date, {_CELL}, {_CATEGORIES}",
        f"month, cell_i, cell_j, {_VIEW_CATEGORIES}",
        "count(*), sum(killed)",
        "sum(incidents), sum(killed)",
        "WHERE geom IS NOT NULL",
    ),
}


def mismatches(session: Session, suffix: str) -> dict[str, int]:
    """Per rollup, the keys whose figures differ from a GROUP BY over incidents."""
    found = {}
    for table, (key, columns, counts, sums, where) in ROLLUPS.items():
        group = ", ".join(str(k) for k in range(1, len(columns.split(",")) + 1))
        sql = f"""
            WITH live AS (SELECT {key}, {counts} FROM incidents {where} GROUP BY {group}),
            kept AS (
                SELECT {columns}, {sums} FROM {table}{suffix} GROUP BY {group}
                HAVING {" OR ".join(f"{figure} <> 0" for figure in sums.split(", "))}
            )
            SELECT count(*) FROM ((TABLE live EXCEPT ALL TABLE kept)
                                  UNION ALL (TABLE kept EXCEPT ALL TABLE live)) d
        """
        found[table] = session.execute(text(sql)).scalar_one()
    return found


def totals(session: Session) -> tuple[int, int]:
    return (
        session.execute(text("SELECT count(*) FROM incidents")).scalar_one(),
        session.execute(
            text("SELECT coalesce(sum(incidents), 0) FROM incident_totals_now")
        ).scalar_one(),
    )


def test_eight_batch_writers_leave_exact_rollups_without_deadlock(engine):
    with copied_database(engine, "rollups_concurrent") as (_, copy):
        with Session(copy) as session:
            made = [
                create_key(session=session, role="reporter", name=f"writer {n}", actor=CONSOLE)
                for n in range(WRITERS)
            ]
            session.commit()
            version_before = int(data_state(session=session).version("incidents"))
        principals = [Principal(key["id"], key["name"], Role(key["role"])) for key, _ in made]
        submitters = [Submitter(key_id=p.key_id, actor=p.actor) for p in principals]
        start = dt.datetime(2017, 3, 1, 8, tzinfo=dt.UTC)
        errors: list[str] = []
        commits: list[int] = [0] * WRITERS
        lock = threading.Lock()
        done = threading.Event()

        def writer(n: int) -> None:
            rng = random.Random(n)  # noqa: S311 - test data
            try:
                for b in range(BATCHES):
                    reports = [
                        report(
                            round(rng.uniform(AREA[0], AREA[2]), 5),
                            round(rng.uniform(AREA[1], AREA[3]), 5),
                            start + dt.timedelta(minutes=rng.randint(0, DAYS * 1440)),
                            violation_type=rng.choice(["shelling", "airstrike", "sniper"]),
                            casualties={"killed": rng.randint(0, 3), "injured": 1},
                        )
                        for _ in range(BATCH_SIZE)
                    ]
                    with Session(copy) as session:
                        outcomes = submit(
                            session=session, submitter=submitters[n], reports_in=reports
                        )
                        ids = [str(o.report["incident_id"]) for o in outcomes if o.report]
                        if b % 2:
                            # A second statement on the incidents this transaction opened
                            # (no one else can lock them yet): the same days and cells as
                            # the neighbours' batches, after them in this transaction.
                            session.execute(
                                text(
                                    "UPDATE incidents SET status = :s, killed = killed + 1"
                                    " WHERE id::text = ANY(:ids) AND report_count = 1"
                                    " AND status = 'unverified'"
                                ),
                                {"s": rng.choice(["verified", "disputed"]), "ids": ids[::2]},
                            )
                        session.commit()
                    with lock:
                        commits[n] += 1
            except Exception as exc:  # a deadlock would land here
                errors.append(f"writer {n}: {type(exc).__name__}: {exc}"[:3000])

        folds = [0]

        def compactor() -> None:
            while not done.is_set():
                try:
                    with Session(copy) as session:
                        session.execute(text("SELECT compact_incident_rollups()"))
                        session.commit()
                        folds[0] += 1
                except Exception as exc:
                    errors.append(f"compactor: {type(exc).__name__}: {exc}"[:3000])
                time.sleep(0.3)

        seen: list[int] = []

        def reader() -> None:
            while not done.is_set():
                with Session(copy) as session:
                    seen.append(int(data_state(session=session).version("incidents")))
                time.sleep(0.05)

        threads = [threading.Thread(target=writer, args=(n,)) for n in range(WRITERS)]
        helpers = [threading.Thread(target=compactor), threading.Thread(target=reader)]
        began = time.perf_counter()
        for t in (*threads, *helpers):
            t.start()
        for t in threads:
            t.join(timeout=120)
        elapsed = time.perf_counter() - began
        done.set()
        for t in helpers:
            t.join(timeout=30)

        with Session(copy) as session:
            pending = session.execute(
                text("SELECT count(*) FROM incident_rollup_deltas")
            ).scalar_one()
            before_fold = mismatches(session, "_now")
            incidents, summed = totals(session)
            version_after = int(data_state(session=session).version("incidents"))
            session.execute(text("SELECT compact_incident_rollups()"))
            session.commit()
            after_fold = mismatches(session, "")
            left = session.execute(text("SELECT count(*) FROM incident_rollup_deltas")).scalar_one()

        reports = WRITERS * BATCHES * BATCH_SIZE
        print(
            f"\nwriters {WRITERS}, reports {reports}, committed transactions {sum(commits)},"
            f" incidents {incidents}, {elapsed:.1f} s, {reports / elapsed:.0f} reports/s"
        )
        print(f"compactions during the run {folds[0]}, deltas pending at the end {pending}")
        print(f"rollup keys differing from live (views): {sum(before_fold.values())} {before_fold}")
        print(f"rollup keys differing from live (folded tables): {sum(after_fold.values())}")
        print(f"sum of incident_totals {summed} = count of incidents {incidents}")
        print(f"deadlocks or errors: {len(errors)}")
        assert errors == [], errors
        assert sum(commits) == WRITERS * BATCHES
        assert summed == incidents > 0
        assert before_fold == dict.fromkeys(ROLLUPS, 0)
        assert after_fold == dict.fromkeys(ROLLUPS, 0)
        assert left == 0
        # Every commit moved the version; a reader never saw it go back.
        assert version_after >= version_before + sum(commits)
        assert seen == sorted(seen)
