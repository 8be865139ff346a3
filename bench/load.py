"""Mixed load on loopback: reporters posting and batching, monitors pulling digests, map
clients paging items and fetching tiles, in fixed proportions, for a bounded time.

Prints throughput, p50 and p99 per endpoint and every non-2xx status; afterwards checks that
every report acknowledged with 201 is stored (lost writes must be 0) and that no request got a
5xx. Not part of the tests.

    .venv/bin/python -m bench.load --duration 60 --users 16
    .venv/bin/python -m bench.load --database-url URL   # a database already holding data

Without --database-url a scratch database is made (migrated, seeded, the demo events
imported and their digests built). The server runs with the per-key rate limit off: this
measures the service, not the limiter.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import json
import math
import os
import platform
import random
import statistics
import subprocess
import sys
import time
import uuid
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path

import httpx
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from service.config import get_settings, sqlalchemy_url

ROOT = Path(__file__).resolve().parents[1]
CEASEFIRE = str(Path(sys.executable).parent / "ceasefire")
RESULTS = ROOT / "bench" / "results"

# Share of each kind of request (a map-heavy day: most traffic reads, a fifth writes).
MIX = {
    "items page (public)": 30,
    "items next page (monitor)": 10,
    "items (monitor)": 5,
    "tile (public)": 15,
    "digest (monitor)": 10,
    "digest feed (public)": 5,
    "report POST": 20,
    "report batch of 20": 5,
}
# Boxes around places with real events (0.5 x 0.5 degrees).
BOXES = [(36.4, 35.7), (36.9, 36.0), (37.0, 36.0), (36.1, 33.3), (36.2, 32.5), (40.0, 35.2),
         (36.6, 34.6), (38.9, 35.8), (36.2, 35.4), (36.5, 36.1)]  # fmt: skip
DIGEST_DAYS = [dt.date(2016, 12, 30) + dt.timedelta(days=n) for n in range(33)]


def _console(database_url: str, *args: str) -> str:
    done = subprocess.run(  # noqa: S603
        [CEASEFIRE, *args],
        env={**os.environ, "DATABASE_URL": database_url},
        capture_output=True,
        text=True,
        check=True,
    )
    return done.stdout


def scratch_database() -> str:
    base = make_url(get_settings().database_url)
    url = base.set(database=f"{base.database}_bench_load")
    admin = create_engine(base.set(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{url.database}" WITH (FORCE)'))
        conn.execute(text(f'CREATE DATABASE "{url.database}"'))
    admin.dispose()
    rendered = url.render_as_string(hide_password=False)
    events = get_settings().data_dir / "events" / "ucdp_ged_syria_2016-01_2017-01.csv"
    for args in (
        ("migrate",),
        ("seed",),
        ("import", "ucdp", str(events), "--no-progress"),
        ("digest", "backfill", "--from", "2016-12-30", "--to", "2017-01-31"),
    ):
        _console(rendered, *args)
    return rendered


def report_body(rng: random.Random) -> dict:
    lon, lat = rng.choice(BOXES)
    return {
        "occurred_at": (
            dt.datetime.now(dt.UTC) - dt.timedelta(hours=rng.randint(1, 72))
        ).isoformat(),
        "location": {
            "type": "Point",
            "coordinates": [lon + rng.random() * 0.5, lat + rng.random() * 0.5],
        },
        "violation_type": rng.choice(["shelling", "airstrike", "small_arms", "sniper"]),
        "perpetrator": rng.choice(
            ["Syrian Arab Army", "Free Syrian Army", "HTS", "Hezbollah", "unknown"]
        ),
        "casualties": {
            "killed": rng.randint(0, 3),
            "injured": rng.randint(0, 5),
            "civilians_killed": 0,
        },
        "client_report_id": str(uuid.uuid4()),
    }


@dataclass
class Stats:
    latencies: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    statuses: dict[str, Counter] = field(default_factory=lambda: defaultdict(Counter))
    acknowledged: list[str] = field(default_factory=list)


async def user(base: str, keys: dict[str, str], stats: Stats, deadline: float, seed: int) -> None:
    rng = random.Random(seed)  # noqa: S311 - a reproducible mix, not a secret
    kinds, weights = zip(*MIX.items(), strict=True)
    monitor = {"Authorization": f"Bearer {keys['monitor']}"}
    reporter = {"Authorization": f"Bearer {keys['reporter']}"}
    async with httpx.AsyncClient(base_url=base, timeout=60) as http:
        while time.monotonic() < deadline:
            kind = rng.choices(kinds, weights)[0]
            lon, lat = rng.choice(BOXES)
            bbox = f"{lon},{lat},{lon + 0.5},{lat + 0.5}"
            started = time.perf_counter()
            if kind == "items page (public)":
                response = await http.get(
                    "/collections/incidents/items", params={"bbox": bbox, "limit": 100}
                )
            elif kind == "items next page (monitor)":
                first = await http.get(
                    "/collections/incidents/items", params={"limit": 100}, headers=monitor
                )
                nxt = next(
                    (
                        link["href"]
                        for link in first.json().get("links", [])
                        if link["rel"] == "next"
                    ),
                    None,
                )
                started = time.perf_counter()
                response = await http.get(nxt, headers=monitor) if nxt else first
            elif kind == "items (monitor)":
                response = await http.get(
                    "/collections/incidents/items",
                    params={"bbox": bbox, "limit": 100},
                    headers=monitor,
                )
            elif kind == "tile (public)":
                z = rng.choice([6, 7, 8])
                x, y = _tile(lon + 0.25, lat + 0.25, z)
                response = await http.get(f"/tiles/incidents/{z}/{x}/{y}.mvt")
            elif kind == "digest (monitor)":
                response = await http.get(
                    f"/v1/digests/daily/{rng.choice(DIGEST_DAYS)}", headers=monitor
                )
            elif kind == "digest feed (public)":
                response = await http.get("/v1/digests/feed.atom")
            elif kind == "report POST":
                response = await http.post("/v1/reports", json=report_body(rng), headers=reporter)
                if response.status_code == 201:
                    stats.acknowledged.append(response.json()["id"])
            else:
                batch = {"reports": [report_body(rng) for _ in range(20)]}
                response = await http.post("/v1/reports/batch", json=batch, headers=reporter)
                if response.status_code == 200:
                    stats.acknowledged += [
                        r["report"]["id"] for r in response.json()["results"] if r["status"] == 201
                    ]
            stats.latencies[kind].append(time.perf_counter() - started)
            stats.statuses[kind][response.status_code] += 1


def _tile(lon: float, lat: float, z: int) -> tuple[int, int]:
    n = 2**z
    x = int((lon + 180) / 360 * n)
    y = int((1 - math.asinh(math.tan(math.radians(lat))) / math.pi) / 2 * n)
    return x, y


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q / 100 * len(ordered)))] if ordered else float("nan")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database-url", default=None)
    parser.add_argument("--duration", type=float, default=60.0)
    parser.add_argument("--users", type=int, default=16)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--port", type=int, default=8711)
    parser.add_argument("--output", type=Path, default=RESULTS / "load.json")
    args = parser.parse_args()

    database_url = sqlalchemy_url(args.database_url) if args.database_url else scratch_database()
    keys = {
        role: _console(database_url, "keys", "create", "--role", role, "--name", f"load {role}")
        .strip()
        .splitlines()[-1]
        for role in ("reporter", "monitor")
    }
    server = subprocess.Popen(  # noqa: S603
        [CEASEFIRE, "serve", "--port", str(args.port), "--workers", str(args.workers)],
        env={**os.environ, "DATABASE_URL": database_url, "CEASEFIRE_RATE_LIMIT_REQUESTS": "0",
             "CEASEFIRE_RATE_LIMIT_ANONYMOUS_REQUESTS": "0", "CEASEFIRE_LOG_LEVEL": "WARNING",
             # next links name the configured base URL (default port 8000): this server's
             "CEASEFIRE_PUBLIC_BASE_URL": f"http://127.0.0.1:{args.port}"},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )  # fmt: skip
    base = f"http://127.0.0.1:{args.port}"
    try:
        for _ in range(200):
            try:
                if httpx.get(base + "/readyz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        stats = Stats()
        started = time.monotonic()
        deadline = started + args.duration

        async def run() -> None:
            await asyncio.gather(
                *(user(base, keys, stats, deadline, seed) for seed in range(args.users))
            )

        asyncio.run(run())
        elapsed = time.monotonic() - started
    finally:
        server.terminate()
        server.wait(timeout=30)

    engine = create_engine(database_url)
    with engine.connect() as conn:
        stored = conn.execute(
            text("SELECT count(*) FROM reports WHERE id = ANY(CAST(:ids AS uuid[]))"),
            {"ids": stats.acknowledged},
        ).scalar_one()
    engine.dispose()
    lost = len(stats.acknowledged) - stored
    server_errors = sum(n for c in stats.statuses.values() for s, n in c.items() if s >= 500)
    rows = []
    total = 0
    for kind in MIX:
        lat = stats.latencies.get(kind, [])
        total += len(lat)
        rows.append(
            {
                "endpoint": kind,
                "requests": len(lat),
                "rps": round(len(lat) / elapsed, 1),
                "p50_ms": round(statistics.median(lat) * 1000, 1) if lat else None,
                "p99_ms": round(percentile(lat, 99) * 1000, 1) if lat else None,
                "statuses": dict(sorted(stats.statuses[kind].items())),
            }
        )
    result = {
        "when": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "machine": {
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
            "platform": platform.platform(),
        },
        "duration_s": round(elapsed, 1),
        "users": args.users,
        "server_workers": args.workers,
        "requests": total,
        "throughput_rps": round(total / elapsed, 1),
        "reports_acknowledged": len(stats.acknowledged),
        "lost_writes": lost,
        "server_errors": server_errors,
        "endpoints": rows,
    }
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(result, indent=2) + "\n")
    print(
        f"{total} requests in {elapsed:.0f} s: {total / elapsed:.1f} req/s, {args.users} users, {args.workers} workers"
    )
    print(f"{'endpoint':28} {'req':>6} {'req/s':>7} {'p50 ms':>8} {'p99 ms':>8}  statuses")
    for row in rows:
        print(
            f"{row['endpoint']:28} {row['requests']:>6} {row['rps']:>7} {row['p50_ms']!s:>8} {row['p99_ms']!s:>8}  {row['statuses']}"
        )
    print(
        f"reports acknowledged {len(stats.acknowledged)}, lost {lost}; 5xx responses {server_errors}"
    )
    if lost or server_errors:
        sys.exit(1)


if __name__ == "__main__":
    main()
