"""Digest benchmark: one day's build against the bare SQL giving the same numbers, measured
side by side in one run, and a backfill of every day of the data set's ceasefire years.

    .venv/bin/python -m bench.digest --database-url URL [--repeat 7] [--from D --to D]

The database holds a data set from the importer branch's generator (`bench/dataset.py`:
N incidents from 2016-01-01 to 2019-12-31). What is measured:

1. *build*: ``build_days`` for one day, as the scheduler runs it (compute, compare with the
   latest revision, store a revision), each time in a transaction rolled back afterwards,
   so every repetition writes revision 1 anew;
2. *bare SQL*: plain GROUP BY queries, one per figure family, theatre-wide and per
   governorate, that give every number of that digest. The run checks that they equal the
   digest's numbers, then reports medians and the ratio build / bare;
3. *backfill*: every day from --from to --to, 31 days per build (as `ceasefire digest
   backfill` does), into an emptied ``digest_revisions``; then the same again, when every day
   is unchanged. Time per chunk against the incidents in the chunk and the incidents before
   it shows how the cost scales.

Everything runs on loopback against the given database; nothing else is touched. The
backfill leaves its revisions in that database (it is a benchmark database).
"""

from __future__ import annotations

import argparse
import datetime as dt
import statistics
import sys
import time
from collections.abc import Callable
from typing import Any

from sqlalchemy import Engine, create_engine, text
from sqlalchemy.orm import Session

from service.config import sqlalchemy_url
from service.digest.compute import ALL, DigestSettings, day_window, first_day
from service.digest.service import build_days, digest_settings, get_revision, view
from service.theatre.terms import Terms, load_terms

COUNTED = "status NOT IN ('rejected', 'merged')"
FIGURES = """
    count(*) AS incidents,
    count(*) FILTER (WHERE ceasefire_status = 'violation') AS violations,
    count(*) FILTER (WHERE ceasefire_status = 'violation' AND status = 'verified') AS verified,
    count(*) FILTER (WHERE ceasefire_status = 'excluded') AS excluded,
    count(*) FILTER (WHERE ceasefire_status = 'not_party') AS not_party,
    coalesce(sum(killed), 0) AS killed, coalesce(sum(injured), 0) AS injured,
    coalesce(sum(civilians_killed), 0) AS civilians_killed
"""
FIGURE_NAMES = (
    "incidents",
    "violations",
    "verified",
    "excluded",
    "not_party",
    "killed",
    "injured",
    "civilians_killed",
)


def bare_queries(settings: DigestSettings) -> dict[str, str]:
    """Plain SQL for every number of one day's digest, by the shortest route to each."""
    day = f"occurred_at >= :day_from AND occurred_at < :day_to AND {COUNTED}"
    return {
        "totals": f"SELECT province_pcode, {FIGURES} FROM incidents WHERE {day}"
        " GROUP BY ROLLUP (province_pcode)",
        "trailing": f"SELECT province_pcode, count(*) FROM incidents WHERE {COUNTED}"
        " AND ceasefire_status = 'violation'"
        " AND occurred_at >= :trail_from AND occurred_at < :day_from"
        " GROUP BY ROLLUP (province_pcode)",
        # A plain GROUP BY (parallel); the theatre-wide total is the sum of its 14 rows.
        "running": f"SELECT province_pcode, {FIGURES} FROM incidents WHERE {COUNTED}"
        " AND occurred_at >= :ceasefire_from AND occurred_at < :day_to"
        " GROUP BY province_pcode",
        # The latest verified violation per governorate, by a backward index scan each.
        "last_verified": "SELECT p.pcode, (SELECT CAST(i.occurred_at AT TIME ZONE :tz AS date)"
        " FROM incidents i WHERE i.province_pcode = p.pcode AND i.status = 'verified'"
        " AND i.ceasefire_status = 'violation' AND i.occurred_at >= :ceasefire_from"
        " AND i.occurred_at < :day_to ORDER BY i.occurred_at DESC LIMIT 1)"
        " FROM admin_areas p WHERE p.level = 1",
        "guarantors": "SELECT province_pcode, coalesce(g, '') AS g, count(*),"
        " count(*) FILTER (WHERE status = 'verified'), coalesce(sum(killed), 0)"
        " FROM incidents LEFT JOIN LATERAL unnest(responsible_guarantors) g ON true"
        f" WHERE {day} AND ceasefire_status = 'violation'"
        " GROUP BY GROUPING SETS ((province_pcode, g), (g))",
        "compliance": "SELECT province_pcode, g,"
        " count(DISTINCT CAST(occurred_at AT TIME ZONE :tz AS date))"
        " FILTER (WHERE status = 'verified'),"
        " count(*), count(*) FILTER (WHERE status = 'verified')"
        " FROM incidents CROSS JOIN LATERAL unnest(responsible_guarantors) g"
        f" WHERE {COUNTED} AND ceasefire_status = 'violation'"
        " AND occurred_at >= :window_from AND occurred_at < :day_to"
        " GROUP BY GROUPING SETS ((province_pcode, g), (g))",
        "parties": f"SELECT province_pcode, perpetrator_party_id, {FIGURES} FROM incidents"
        f" WHERE {day} GROUP BY GROUPING SETS ((province_pcode, perpetrator_party_id),"
        " (perpetrator_party_id))",
        "types": f"SELECT province_pcode, violation_type, {FIGURES} FROM incidents"
        f" WHERE {day} GROUP BY GROUPING SETS ((province_pcode, violation_type),"
        " (violation_type))",
        "districts": "SELECT province_pcode, district_pcode,"
        " count(*) FILTER (WHERE ceasefire_status = 'violation') AS violations"
        f" FROM incidents WHERE {day} AND district_pcode IS NOT NULL"
        " GROUP BY GROUPING SETS ((province_pcode, district_pcode), (district_pcode))"
        " HAVING count(*) FILTER (WHERE ceasefire_status = 'violation') > 0",
    }


def bare_params(terms: Terms, day: dt.date, settings: DigestSettings) -> dict[str, Any]:
    start = first_day(terms)
    trail_first = max(day - dt.timedelta(days=settings.trailing_days), start)
    window_first = max(day - dt.timedelta(days=settings.compliance_days - 1), start)
    return {
        "tz": terms.timezone.key,
        "day_from": day_window(terms, day)[0],
        "day_to": day_window(terms, day)[1],
        "trail_from": day_window(terms, trail_first)[0],
        "window_from": day_window(terms, window_first)[0],
        "ceasefire_from": day_window(terms, start)[0],
    }


def run_bare(session: Session, queries: dict[str, str], params: dict[str, Any]) -> dict:
    session.execute(text("SET LOCAL jit = off"))  # as the build does: a like-for-like baseline
    return {name: session.execute(text(sql), params).all() for name, sql in queries.items()}


def check_same_numbers(doc: dict, bare: dict, day: dt.date, terms: Terms) -> int:
    """Compare the digest with the bare results; returns how many numbers were compared."""
    checked = 0

    def same(what: str, mine: Any, theirs: Any) -> None:
        nonlocal checked
        if mine != theirs:
            raise AssertionError(f"{what}: digest {mine!r} != bare SQL {theirs!r}")
        checked += 1

    scopes = {r[0] or ALL: r for r in bare["totals"]}
    same("totals", doc["totals"], dict(zip(FIGURE_NAMES, scopes[ALL][1:], strict=True)))
    for p in doc["by_province"]:
        row = scopes.get(p["pcode"])
        expected = (
            dict(zip(FIGURE_NAMES, row[1:], strict=True)) if row else dict.fromkeys(FIGURE_NAMES, 0)
        )
        same(f"{p['pcode']} figures", {f: p[f] for f in FIGURE_NAMES}, expected)
    trailing = {r[0] or ALL: r[1] for r in bare["trailing"]}
    for p in doc["by_province"]:
        if p["trailing_mean"] is not None:
            days = doc["comparison"]["days"]
            # Both rounded to 2 decimals, from a Decimal and from a float: allow the last.
            expected = trailing.get(p["pcode"], 0) / days
            same(f"{p['pcode']} trailing mean", abs(p["trailing_mean"] - expected) < 0.0051, True)
    running = [sum(column) for column in zip(*(r[1:] for r in bare["running"]), strict=True)]
    same(
        "running total",
        {f: doc["running_total"][f] for f in FIGURE_NAMES},
        dict(zip(FIGURE_NAMES, running, strict=True)),
    )
    last = {r[0]: r[1] for r in bare["last_verified"] if r[1] is not None}
    for p in doc["by_province"]:
        expected = (day - last[p["pcode"]]).days if p["pcode"] in last else None
        same(f"{p['pcode']} days since", p["days_since_last_verified_violation"], expected)
    guarantors = {(r[1] or None): r for r in bare["guarantors"] if r[0] is None}
    compliance = {r[1]: r for r in bare["compliance"] if r[0] is None}
    for g in doc["by_guarantor"]:
        row = guarantors.get(g["guarantor"])
        same(
            f"guarantor {g['guarantor']}",
            (g["violations"], g["verified"], g["killed"]),
            (row[2], row[3], row[4]) if row else (0, 0, 0),
        )
        if g["compliance"]:
            c = compliance.get(g["guarantor"])
            days_with = c[2] if c else 0
            same(
                f"compliance {g['guarantor']}",
                (
                    g["compliance"]["violation_free_days"],
                    g["compliance"]["violations"],
                    g["compliance"]["verified_violations"],
                ),
                (g["compliance"]["days"] - days_with, c[3] if c else 0, c[4] if c else 0),
            )
    parties = {r[1]: r for r in bare["parties"] if r[0] is None}
    for p in doc["by_party"]:
        row = parties[p["party_id"]]
        same(f"party {p['party_id']}", (p["incidents"], p["violations"]), (row[2], row[3]))
    same("parties listed", len(doc["by_party"]), len(parties))
    types = {r[1]: r for r in bare["types"] if r[0] is None}
    for t in doc["by_type"]:
        row = types.get(t["violation_type"])
        same(
            f"type {t['violation_type']}",
            (t["incidents"], t["violations"]),
            (row[2], row[3]) if row else (0, 0),
        )
    districts = sorted((-r[2], r[1]) for r in bare["districts"] if r[0] is None)
    same(
        "hotspots",
        [h["violations"] for h in doc["hotspots"]],
        [-v for v, _ in districts[: len(doc["hotspots"])]],
    )
    return checked


def median_s(func: Callable[[], Any], repeat: int) -> tuple[float, list[float]]:
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        func()
        times.append(time.perf_counter() - started)
    return statistics.median(times), times


def incidents_per_day(engine: Engine, terms: Terms, first: dt.date, last: dt.date) -> dict:
    with engine.connect() as conn:
        rows = conn.execute(
            text(
                f"SELECT CAST(occurred_at AT TIME ZONE :tz AS date) AS day, count(*) AS n"
                f" FROM incidents WHERE {COUNTED} AND occurred_at >= :a AND occurred_at < :b"
                " GROUP BY 1"
            ),
            {
                "tz": terms.timezone.key,
                "a": day_window(terms, first)[0],
                "b": day_window(terms, last)[1],
            },
        )
        return {row.day: row.n for row in rows}


def bench_day(engine: Engine, terms: Terms, day: dt.date, repeat: int) -> dict[str, Any]:
    settings = digest_settings()
    queries = bare_queries(settings)
    params = bare_params(terms, day, settings)

    def build() -> None:
        with Session(engine) as session:
            build_days(session=session, first=day, last=day, notify=False)
            session.rollback()

    def bare() -> None:
        with Session(engine) as session:
            run_bare(session, queries, params)
            session.rollback()

    with Session(engine) as session:  # warm caches and check the numbers first
        build_days(session=session, first=day, last=day, notify=False)
        doc = view(get_revision(session=session, day=day), None)
        checked = check_same_numbers(doc, run_bare(session, queries, params), day, terms)
        session.rollback()
    # Interleaved, so both see the same machine load.
    build_times, bare_times = [], []
    for _ in range(repeat):
        build_times.append(median_s(build, 1)[0])
        bare_times.append(median_s(bare, 1)[0])
    return {
        "day": day,
        "incidents": doc["totals"]["incidents"],
        "checked": checked,
        "build": statistics.median(build_times),
        "bare": statistics.median(bare_times),
    }


def bench_backfill(
    engine: Engine, terms: Terms, first: dt.date, last: dt.date, chunk_days: int
) -> dict[str, Any]:
    per_day = incidents_per_day(engine, terms, first_day(terms), last)
    with engine.begin() as conn:
        conn.execute(
            text("DELETE FROM digest_revisions WHERE digest_date BETWEEN :a AND :b"),
            {"a": first, "b": last},
        )
    passes = []
    for label in ("empty table: every day new", "again: every day unchanged"):
        chunks = []
        started = time.perf_counter()
        day = first
        while day <= last:
            end = min(day + dt.timedelta(days=chunk_days - 1), last)
            t0 = time.perf_counter()
            with Session(engine) as session:
                outcomes = build_days(session=session, first=day, last=end, notify=False)
                session.commit()
            elapsed = time.perf_counter() - t0
            before = sum(n for d, n in per_day.items() if d < day)
            inside = sum(n for d, n in per_day.items() if day <= d <= end)
            chunks.append((day, end, elapsed, before, inside, sum(o.created for o in outcomes)))
            day = end + dt.timedelta(days=1)
        passes.append((label, time.perf_counter() - started, chunks))
    return {"days": (last - first).days + 1, "passes": passes}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--database-url", required=True)
    parser.add_argument("--repeat", type=int, default=7)
    parser.add_argument("--from", dest="first", type=dt.date.fromisoformat, default=None)
    parser.add_argument("--to", dest="last", type=dt.date.fromisoformat, default=None)
    parser.add_argument("--chunk-days", type=int, default=31)
    parser.add_argument("--skip-backfill", action="store_true")
    args = parser.parse_args(argv)

    engine = create_engine(sqlalchemy_url(args.database_url), pool_size=2)
    with Session(engine) as session:
        terms = load_terms(session)
        total = session.execute(text("SELECT count(*) FROM incidents")).scalar_one()
    first = args.first or first_day(terms) + dt.timedelta(days=2)  # 2017-01-01
    last = args.last or dt.date(first.year + 3, 1, 1) - dt.timedelta(days=1)
    per_day = incidents_per_day(engine, terms, first, last)
    volumes = sorted(per_day.items(), key=lambda kv: (kv[1], kv[0]))
    picks = {
        "quiet day": volumes[len(volumes) // 20][0],
        "median day": volumes[len(volumes) // 2][0],
        "busiest day": volumes[-1][0],
    }
    print(f"# Digest benchmark: {total:,} incidents; days {first} to {last}")
    print(f"counted incidents per day in that range: min {volumes[0][1]}, median"
          f" {volumes[len(volumes) // 2][1]}, max {volumes[-1][1]}")  # fmt: skip
    print()
    print("| day | incidents that day | numbers checked equal | build (median) |"
          " bare SQL (median) | build / bare |")  # fmt: skip
    print("|---|---:|---:|---:|---:|---:|")
    for label, day in picks.items():
        r = bench_day(engine, terms, day, args.repeat)
        print(
            f"| {label} {r['day']} | {r['incidents']} | {r['checked']} |"
            f" {r['build'] * 1000:.1f} ms | {r['bare'] * 1000:.1f} ms |"
            f" {r['build'] / r['bare']:.2f} |"
        )
        sys.stdout.flush()
    if args.skip_backfill:
        return 0
    result = bench_backfill(engine, terms, first, last, args.chunk_days)
    print()
    for label, seconds, chunks in result["passes"]:
        created = sum(c[5] for c in chunks)
        print(
            f"backfill {first}..{last} ({result['days']} days, {len(chunks)} chunks of"
            f" {args.chunk_days} days), {label}: {seconds:.1f} s"
            f" ({result['days'] / seconds:.1f} days/s, {created} revisions written)"
        )
    print()
    print("| chunk | incidents before it | incidents in it | time (first pass) |")
    print("|---|---:|---:|---:|")
    chunks = result["passes"][0][2]
    for c in chunks[:: max(1, len(chunks) // 8)] + [chunks[-1]]:
        print(f"| {c[0]}..{c[1]} | {c[3]:,} | {c[4]:,} | {c[2]:.2f} s |")
    engine.dispose()
    return 0


if __name__ == "__main__":
    sys.exit(main())
