"""Exports of incidents on the 1,000,000-incident data set: time and the server's memory.

    .venv/bin/python -m bench.export [--database-url URL] [--port 8220] [--runs 3]

The database is the standard data set (``bench/dataset.py``; ``bench.run_all``'s
``ensure_database(url, 1_000_000)`` makes it). One ``ceasefire serve`` process (one worker)
serves the exports; for each export (CSV and GeoPackage, full view with a monitor key and
the public's without one) the script streams the whole answer ``--runs`` times and prints
the medians of: time to the first byte, total time, rows and bytes, and the server's peak
resident memory during the run (VmRSS sampled every 20 ms; its high-water mark VmHWM
after the run is printed too). Side by side, in the same run, the floor: PostgreSQL's own
``COPY (<the export's statement>) TO STDOUT (FORMAT csv)`` of the same rows over one
connection, read and discarded by the client; ratios are the export's median over the
floor's median.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from zoneinfo import ZoneInfo

import httpx
import psycopg
from sqlalchemy import create_engine, text
from sqlalchemy.dialects import postgresql

from bench.servers import _children
from service.config import sqlalchemy_url
from service.event.filters import EventFilters
from service.export.service import prepare, restrict
from service.maps.view import IncidentView
from tests.live import LiveServer, create_key

DEFAULT_URL = "postgresql://postgres@127.0.0.1:5432/ceasefire_bench_1m"
GOAL_RSS_MB = 200


def _status(pid: int, field: str) -> float:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(f"{field}:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


def _server_pids(server: LiveServer) -> list[int]:
    assert server.process is not None
    return [server.process.pid, *_children(server.process.pid)]


@dataclass
class Run:
    first_byte_s: float
    total_s: float
    rows: int
    size: int
    peak_rss_mb: float
    hwm_mb: float


def stream(server: LiveServer, path: str, headers: dict[str, str], *, count_lines: bool) -> Run:
    """One export, read to the end, while a thread samples the server's resident memory."""
    pids = _server_pids(server)
    peak = [max(_status(p, "VmRSS") for p in pids)]
    done = threading.Event()

    def sample() -> None:
        while not done.is_set():
            peak[0] = max(peak[0], *(_status(p, "VmRSS") for p in pids))
            time.sleep(0.02)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    size = lines = 0
    first = None
    started = time.perf_counter()
    try:
        with httpx.stream(
            "GET", server.url + path, headers=headers, timeout=httpx.Timeout(600.0)
        ) as response:
            response.raise_for_status()
            for part in response.iter_raw(1 << 16):
                if first is None:
                    first = time.perf_counter() - started
                size += len(part)
                if count_lines:
                    lines += part.count(b"\n")
    finally:
        done.set()
        sampler.join()
    total = time.perf_counter() - started
    hwm = max(_status(p, "VmHWM") for p in pids)
    return Run(first or total, total, lines, size, peak[0], hwm)


def floor(url: str, *, public: bool) -> Run:
    """The export's own statement as PostgreSQL's COPY to CSV, read by the client."""
    engine = create_engine(sqlalchemy_url(url))
    with engine.connect() as conn:
        tz = ZoneInfo(conn.execute(text("SELECT theatre_timezone()")).scalar_one())
    engine.dispose()
    view = IncidentView(public=public, cell=0.1, timezone=tz)
    export = prepare(view=view, filters=restrict(view, EventFilters()), geometry=False)
    compiled = export.statement.compile(dialect=postgresql.psycopg.dialect())
    params = compiled.construct_params(export.params)
    size = lines = 0
    started = time.perf_counter()
    first = None
    statement = f"COPY ({compiled}) TO STDOUT (FORMAT csv)"
    with (
        psycopg.connect(url) as conn,
        psycopg.ClientCursor(conn) as cursor,
        cursor.copy(statement, params) as copy,
    ):
        for block in copy:
            if first is None:
                first = time.perf_counter() - started
            size += len(block)
            lines += bytes(block).count(b"\n")
    total = time.perf_counter() - started
    return Run(first or total, total, lines, size, 0.0, 0.0)


def median(runs: list[Run], field: str) -> float:
    return statistics.median(getattr(r, field) for r in runs)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database-url", default=DEFAULT_URL)
    parser.add_argument("--port", type=int, default=8220)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--chunk-rows", type=int, help="CEASEFIRE_EXPORT_CHUNK_ROWS of the server")
    args = parser.parse_args()

    key = create_key(args.database_url, "monitor", "bench export")
    # Uncompressed, as curl asks by default (the service gzips for clients that ask).
    plain = {"Accept-Encoding": "identity"}
    monitor = {**plain, "Authorization": f"Bearer {key}"}
    logs = Path(tempfile.gettempdir()) / f"bench-export-{args.port}.log"
    env = {"CEASEFIRE_EXPORT_CHUNK_ROWS": str(args.chunk_rows)} if args.chunk_rows else {}
    server = LiveServer(args.database_url, port=args.port, workers=1, log_path=logs, env=env)
    cases = [
        ("CSV, full view (monitor)", "/v1/exports/incidents.csv", monitor, False),
        ("CSV+HXL, public view", "/v1/exports/incidents.csv?hxl=true", plain, True),
        ("GeoPackage, full view (monitor)", "/v1/exports/incidents.gpkg", monitor, False),
        ("GeoPackage, public view", "/v1/exports/incidents.gpkg", plain, True),
    ]
    results: dict[str, list[Run]] = {name: [] for name, *_ in cases}
    floors: dict[bool, list[Run]] = {False: [], True: []}
    server.start()
    try:
        idle = max(_status(p, "VmRSS") for p in _server_pids(server))
        print(f"server idle RSS after start: {idle:.0f} MB", flush=True)
        for run in range(args.runs):
            for name, path, headers, _ in cases:
                result = stream(server, path, headers, count_lines=".csv" in path)
                results[name].append(result)
                print(
                    f"run {run + 1} {name}: {result.total_s:.1f} s, {result.rows:,} lines,"
                    f" {result.size / 1e6:.0f} MB, peak RSS {result.peak_rss_mb:.0f} MB",
                    flush=True,
                )
            for public in (False, True):
                result = floor(args.database_url, public=public)
                floors[public].append(result)
                print(
                    f"run {run + 1} COPY floor (public={public}): {result.total_s:.1f} s",
                    flush=True,
                )
    finally:
        server.stop()

    chunk = args.chunk_rows or "default"
    print(f"\n{args.database_url}, medians of {args.runs} runs, one worker, chunk rows {chunk}")
    print(
        f"{'export':34} {'1st byte s':>10} {'total s':>8} {'lines':>10} {'MB':>6}"
        f" {'peak RSS MB':>11} {'VmHWM MB':>9} {'x COPY':>7}"
    )
    for name, _, _, public in cases:
        runs = results[name]
        ratio = median(runs, "total_s") / median(floors[public], "total_s")
        print(
            f"{name:34} {median(runs, 'first_byte_s'):10.2f} {median(runs, 'total_s'):8.1f}"
            f" {int(median(runs, 'rows')):10,} {median(runs, 'size') / 1e6:6.0f}"
            f" {median(runs, 'peak_rss_mb'):11.0f} {max(r.hwm_mb for r in runs):9.0f}"
            f" {ratio:7.2f}"
        )
    for public in (False, True):
        runs = floors[public]
        name = f"COPY floor ({'public' if public else 'full'} statement)"
        print(
            f"{name:34} {median(runs, 'first_byte_s'):10.2f} {median(runs, 'total_s'):8.1f}"
            f" {int(median(runs, 'rows')):10,} {median(runs, 'size') / 1e6:6.0f}"
        )
    peak = max(r.peak_rss_mb for runs in results.values() for r in runs)
    verdict = "met" if peak < GOAL_RSS_MB else "NOT met"
    print(
        f"\ngoal: server RSS under {GOAL_RSS_MB} MB at 1M incidents: {verdict} (peak {peak:.0f} MB)"
    )


if __name__ == "__main__":
    main()
