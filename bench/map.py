"""Map serving, side by side with pygeoapi and tipg, on one machine in one run.

    .venv/bin/python -m bench.map --database-url URL_1M --small-database-url URL_10K \\
        [--peers-dir /work/peers] [--seconds 15] [--out bench/results/map.md]

Both databases are migrated, seeded and loaded with the deterministic data set
(``bench/dataset.py`` of the importer: ``python -m bench.dataset --incidents N``). The
service runs on ports 8301/8302, pygeoapi on 8311, tipg on 8321, all on loopback; every
server gets the same number of workers. Workloads (all against the incidents table; the
service is called with a monitor key, so it serves exact data like the peers):

- W1  ``items?limit=10``
- W2  1,000 features in a 0.5 x 0.5 degree box around a real event (50 fixed boxes)
- W2 dense: the same around the 20 real places whose box holds the most incidents (each
  far more than 1,000: the page is read through the time index, not the box)
- W3  10,000 features (``limit=10000``)
- W4  a W2 box plus a 30-day ``datetime``
- W6  the 100th page of 100 by following ``next`` (page 1 measured alongside)
- W7  one item by id (50 fixed ids)

plus the SQL floor of W2 and of W2 dense (the service's own statement on a warm
connection), the 30-day province choropleth on 1,000,000 and on 10,000 incidents, the z5
tile sizes, low-zoom filtered tiles (every tile of z3 to z7 over the theatre, under filter
combinations, monitor key) and the resident memory of each server's workers through W3.
Every workload of the service runs with a monitor key (as monitors and QGIS call it); only
the line "W2 public" goes without one. Figures are medians (p50), 99th percentiles and
requests per second at concurrency 1 and 8; the goals of issue 10 are printed at the end.
"""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import json
import math
import platform
import shutil
import statistics
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote, urlsplit

from sqlalchemy import create_engine, text
from sqlalchemy.orm import Session

from bench import loadgen, servers
from service.config import sqlalchemy_url

REPO = Path(__file__).resolve().parents[1]
EVENTS = REPO.parent / "shared" / "data" / "events" / "ucdp_ged_syria_2016-01_2017-01.csv"
BOX = 0.5
BOXES = 50
DENSE_BOXES = 20
CONCURRENCY = (1, 8)
# Requests per measurement (each also stops after --seconds): W2 and W4 go twice through
# the 50 boxes, W7 several times through the 50 ids.
BUDGET = {
    "W1": 200,
    "W2": 100,
    "W2 dense": 60,
    "W3": 30,
    "W4": 100,
    "W6 p1": 100,
    "W6": 100,
    "W7": 300,
}
# Low-zoom filtered tiles: zooms, the theatre's box (lon/lat) they cover, and the filter
# combinations (each on every tile of every zoom, monitor key).
TILE_ZOOMS = (3, 4, 5, 6, 7)
THEATRE_BOX = (35.6, 32.3, 42.4, 37.4)
TILE_FILTERS = (
    "datetime={month}",
    "province=Aleppo",
    "violation_type=shelling,airstrike",
    "guarantor=TUR",
    "party=Islamic State",
    "datetime={month}&province=Idleb",
    "violation_type=airstrike&guarantor=RUS",
    "datetime={month}&party=Syrian Government Forces&violation_type=airstrike",
    "province=Aleppo,Idleb&guarantor=RUS&violation_type=shelling",
)
TILE_MONTH = "2018-03-01T00:00:00Z/2018-03-31T00:00:00Z"


@dataclass(frozen=True)
class Target:
    """How one server spells each workload."""

    server: servers.Server
    items: str  # path of the incidents items
    item: str  # path prefix of one item
    extra: str  # query suffix every request needs (pygeoapi: f=json)
    headers: dict[str, str]


def boxes(session: Session) -> list[tuple[float, float, float, float, dt.date]]:
    """The first 50 real events (by UCDP id) whose 0.5-degree box holds 1,000+ incidents."""
    with EVENTS.open(newline="", encoding="utf-8") as f:
        events = sorted(csv.DictReader(f), key=lambda r: int(r["id"]))
    chosen, seen = [], set()
    for event in events:
        lon, lat = float(event["longitude"]), float(event["latitude"])
        key = (round(lon, 1), round(lat, 1))
        if key in seen:
            continue
        seen.add(key)
        box = (lon - BOX / 2, lat - BOX / 2, lon + BOX / 2, lat + BOX / 2)
        n = session.execute(
            text(
                "SELECT count(*) FROM (SELECT 1 FROM incidents WHERE geom &&"
                " ST_MakeEnvelope(:a, :b, :c, :d, 4326) LIMIT 1000) x"
            ),
            dict(zip("abcd", box, strict=True)),
        ).scalar_one()
        if n >= 1000:
            chosen.append((*box, dt.date.fromisoformat(event["date_start"][:10])))
        if len(chosen) == BOXES:
            break
    return chosen


def dense_boxes(session: Session) -> list[tuple[float, float, float, float, dt.date, int]]:
    """The 20 real places (events, centres at least a quarter of a degree apart) whose
    0.5-degree box holds the most incidents: ranked by a count over 0.1-degree cells, each
    chosen box then counted exactly."""
    with EVENTS.open(newline="", encoding="utf-8") as f:
        events = sorted(csv.DictReader(f), key=lambda r: int(r["id"]))
    cells = {
        (x, y): n
        for x, y, n in session.execute(
            text(
                "SELECT floor(ST_X(geom) * 10)::int, floor(ST_Y(geom) * 10)::int, count(*)"
                " FROM incidents WHERE geom IS NOT NULL GROUP BY 1, 2"
            )
        )
    }
    places: dict[tuple[float, float], tuple[int, dict]] = {}
    for event in events:
        lon, lat = float(event["longitude"]), float(event["latitude"])
        key = (round(lon, 1), round(lat, 1))
        if key in places:
            continue
        x0, y0 = int((lon - BOX / 2) * 10 // 1), int((lat - BOX / 2) * 10 // 1)
        around = sum(cells.get((x, y), 0) for x in range(x0, x0 + 6) for y in range(y0, y0 + 6))
        places[key] = (around, event)
    ranked = sorted(places.values(), key=lambda p: -p[0])
    chosen: list = []
    for _, event in ranked:
        lon, lat = float(event["longitude"]), float(event["latitude"])
        # Twenty places, not one place twenty times: centres half a box apart at least.
        if any(max(abs(lon - b[0] - BOX / 2), abs(lat - b[1] - BOX / 2)) < BOX / 2 for b in chosen):
            continue
        if len(chosen) == DENSE_BOXES:
            break
        box = (lon - BOX / 2, lat - BOX / 2, lon + BOX / 2, lat + BOX / 2)
        n = session.execute(
            text(
                "SELECT count(*) FROM incidents WHERE geom && ST_MakeEnvelope(:a, :b, :c, :d, 4326)"
            ),
            dict(zip("abcd", box, strict=True)),
        ).scalar_one()
        chosen.append((*box, dt.date.fromisoformat(event["date_start"][:10]), n))
    chosen.sort(key=lambda b: -b[5])
    return chosen[:DENSE_BOXES]


def theatre_tiles(zoom: int) -> list[tuple[int, int, int]]:
    """Every tile (z, x, y) of ``zoom`` that meets the theatre's box."""

    def tile(lon: float, lat: float) -> tuple[int, int]:
        n = 2**zoom
        y = (1 - math.asinh(math.tan(math.radians(lat))) / math.pi) / 2 * n
        return int((lon + 180) / 360 * n), int(y)

    x0, y0 = tile(THEATRE_BOX[0], THEATRE_BOX[3])
    x1, y1 = tile(THEATRE_BOX[2], THEATRE_BOX[1])
    return [(zoom, x, y) for x in range(x0, x1 + 1) for y in range(y0, y1 + 1)]


def tile_urls(zoom: int) -> list[str]:
    """Tile by tile, every filter combination on each: a run cut short by its time limit
    has still measured every combination."""
    return [
        f"/tiles/incidents/{z}/{x}/{y}.mvt?{quote(f.format(month=TILE_MONTH), safe='=&,')}"
        for z, x, y in theatre_tiles(zoom)
        for f in TILE_FILTERS
    ]


def bbox_param(box) -> str:  # noqa: ANN001
    return ",".join(f"{v:.6f}" for v in box[:4])


def month_in_2018(day: dt.date) -> str:
    start = dt.date(2018, day.month, min(day.day, 28))
    end = start + dt.timedelta(days=30)
    return f"{start.isoformat()}T00:00:00Z/{end.isoformat()}T00:00:00Z"


def follow_next(target: Target, first: str, pages: int) -> str:
    """The URL (path and query) of page ``pages``, reached through ``next`` links."""
    url = first
    for _ in range(pages - 1):
        status, body = loadgen.fetch(target.server.base, url, target.headers)
        assert status == 200, (target.server.name, status, body[:300])
        links = json.loads(body)["links"]
        nxt = [link for link in links if link["rel"] == "next"]
        nxt = [link for link in nxt if link.get("type") == "application/geo+json"] or nxt
        parts = urlsplit(nxt[0]["href"])
        url = parts.path + ("?" + parts.query if parts.query else "")
    return url


def workloads(target: Target, box_list, dense, ids) -> dict[str, list[str]]:  # noqa: ANN001
    items, x = target.items, target.extra
    return {
        "W1": [f"{items}?limit=10{x}"],
        "W2": [f"{items}?limit=1000&bbox={bbox_param(b)}{x}" for b in box_list],
        "W2 dense": [f"{items}?limit=1000&bbox={bbox_param(b)}{x}" for b in dense],
        "W3": [f"{items}?limit=10000{x}"],
        "W4": [
            f"{items}?limit=1000&bbox={bbox_param(b)}&datetime={month_in_2018(b[4])}{x}"
            for b in box_list
        ],
        "W6 p1": [f"{items}?limit=100{x}"],
        "W6": [follow_next(target, f"{items}?limit=100{x}", 100)],
        "W7": [f"{target.item}/{i}{'?' + x[1:] if x else ''}" for i in ids],
    }


def measure(target: Target, urls: list[str], budget: int, seconds: float, c: int):  # noqa: ANN201
    loadgen.run(
        target.server.base,
        urls[:4],
        concurrency=c,
        max_requests=min(8, budget),
        max_seconds=seconds,
        headers=target.headers,
    )  # warm-up
    return loadgen.run(
        target.server.base,
        urls,
        concurrency=c,
        max_requests=budget,
        max_seconds=seconds,
        headers=target.headers,
    )


class RssSampler:
    def __init__(self, server: servers.Server) -> None:
        self.server, self.peak, self._stop = server, 0.0, threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True)

    def _loop(self) -> None:
        while not self._stop.is_set():
            self.peak = max([self.peak, *self.server.worker_rss_mb()])
            time.sleep(0.2)

    def __enter__(self) -> RssSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


def sql_floor(database_url: str, box_list, rounds: int) -> list[float]:  # noqa: ANN001
    """W2's statement run in-process on one warm connection: the service's own SQL."""
    from zoneinfo import ZoneInfo

    from service.event.filters import BBox, EventFilters
    from service.maps.view import IncidentView
    from service.ogc.service import incident_page

    view = IncidentView(public=False, cell=0.1, timezone=ZoneInfo("Asia/Damascus"))
    engine = create_engine(sqlalchemy_url(database_url))
    times = []
    with Session(engine) as session:
        for _ in range(rounds):
            for b in box_list:
                filters = view.restrict(EventFilters(bbox=BBox(*b[:4])))
                t0 = time.perf_counter()
                page = incident_page(
                    session=session, view=view, filters=filters, limit=1000, cursor=None
                )
                times.append(time.perf_counter() - t0)
                assert page.returned == 1000
    engine.dispose()
    return times


def monitor_key(database_url: str) -> str:
    from service.audit.service import CONSOLE
    from service.auth.service import create_key

    engine = create_engine(sqlalchemy_url(database_url))
    with Session(engine) as session:
        servers.create_peer_view(session)
        _, secret = create_key(session=session, role="monitor", name="bench map", actor=CONSOLE)
        session.execute(text("ANALYZE incidents"))
        session.commit()
        ids = list(
            session.execute(
                text(
                    "SELECT id FROM incidents WHERE geom IS NOT NULL ORDER BY md5(id::text) LIMIT 50"
                )
            ).scalars()
        )
    engine.dispose()
    return secret, ids


def versions(database_url: str, peers_dir: Path) -> dict[str, str]:
    engine = create_engine(sqlalchemy_url(database_url))
    with engine.connect() as conn:
        pg = conn.execute(text("SHOW server_version")).scalar_one()
        postgis = conn.execute(text("SELECT postgis_lib_version()")).scalar_one()
    engine.dispose()

    def pip_version(venv: Path, package: str) -> str:
        out = subprocess.run(  # noqa: S603
            [str(venv / "bin" / "pip"), "show", package],
            capture_output=True,
            text=True,
            check=False,
        ).stdout
        return next(
            (
                line.split(":", 1)[1].strip()
                for line in out.splitlines()
                if line.startswith("Version:")
            ),
            "?",
        )

    commit = subprocess.run(  # noqa: S603
        [shutil.which("git") or "git", "rev-parse", "--short", "HEAD"],
        capture_output=True,
        text=True,
        cwd=REPO,
        check=False,
    ).stdout.strip()
    return {
        "ceasefire-monitor": commit,
        "Python": platform.python_version(),
        "PostgreSQL": pg,
        "PostGIS": postgis,
        "FastAPI": pip_version(REPO / ".venv", "fastapi"),
        "uvicorn": pip_version(REPO / ".venv", "uvicorn"),
        "pygeoapi": pip_version(peers_dir / "pygeoapi-venv", "pygeoapi"),
        "gunicorn": pip_version(peers_dir / "pygeoapi-venv", "gunicorn"),
        "tipg": pip_version(peers_dir / "tipg-venv", "tipg"),
        "CPU": f"{platform.machine()}, {len(open('/proc/cpuinfo').read().split('processor')) - 1} cores",  # noqa: SIM115
    }


def fmt(value: float) -> str:
    return f"{value:.1f}" if value < 100 else f"{value:.0f}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database-url", required=True, help="the 1,000,000-incident database")
    parser.add_argument("--small-database-url", required=True, help="the 10,000-incident one")
    parser.add_argument("--peers-dir", type=Path, default=REPO.parent / "peers")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--seconds", type=float, default=15.0)
    parser.add_argument("--skip-peers", action="store_true")
    parser.add_argument("--out", type=Path, default=REPO / "bench" / "results" / "map.md")
    args = parser.parse_args(argv)

    logs = args.peers_dir / "logs"
    secret, ids = monitor_key(args.database_url)
    small_secret, _ = monitor_key(args.small_database_url)
    engine = create_engine(sqlalchemy_url(args.database_url))
    with Session(engine) as session:
        box_list = boxes(session)
        dense = dense_boxes(session)
        total = session.execute(text("SELECT count(*) FROM incidents")).scalar_one()
    engine.dispose()
    print(
        f"{total} incidents; {len(box_list)} boxes; {len(dense)} dense boxes holding"
        f" {min(b[5] for b in dense):,} to {max(b[5] for b in dense):,} incidents",
        flush=True,
    )
    args.out.parent.mkdir(parents=True, exist_ok=True)
    (args.out.parent / "map-boxes.json").write_text(
        json.dumps([[*b[:4], b[4].isoformat()] for b in box_list], indent=0) + "\n"
    )
    (args.out.parent / "map-dense-boxes.json").write_text(
        json.dumps([[*b[:4], b[4].isoformat(), b[5]] for b in dense], indent=0) + "\n"
    )

    ours = servers.ours(
        name="ceasefire", database_url=args.database_url, port=8301, workers=args.workers, logs=logs
    )
    ours_small = servers.ours(
        name="ceasefire-10k", database_url=args.small_database_url, port=8302, workers=1, logs=logs
    )
    started = [ours, ours_small]
    targets = [
        Target(
            ours,
            "/collections/incidents/items",
            "/collections/incidents/items",
            "",
            {"Authorization": f"Bearer {secret}"},
        ),
    ]
    if not args.skip_peers:
        tipg = servers.tipg(
            peers_dir=args.peers_dir,
            database_url=args.database_url,
            port=8321,
            workers=args.workers,
            logs=logs,
        )
        pygeoapi = servers.pygeoapi(
            peers_dir=args.peers_dir,
            database_url=args.database_url,
            port=8311,
            workers=args.workers,
            logs=logs,
        )
        started += [tipg, pygeoapi]
        targets += [
            Target(
                tipg,
                "/collections/peers.incidents/items",
                "/collections/peers.incidents/items",
                "",
                {},
            ),
            Target(
                pygeoapi,
                "/collections/incidents/items",
                "/collections/incidents/items",
                "&f=json",
                {},
            ),
        ]
    results: dict[tuple[str, str, int], loadgen.Result] = {}
    rss: dict[str, float] = {}
    loads: list[str] = []
    try:
        for server in started:
            server.start(timeout_s=120)
        urls = {t.server.name: workloads(t, box_list, dense, ids) for t in targets}
        loads.append(_loadavg())
        floor: list[float] = []
        dense_floor: list[float] = []
        for workload in BUDGET:
            if workload == "W6 p1":
                continue  # measured with W6, in alternating rounds
            for target in targets:
                for c in CONCURRENCY:
                    sampler = RssSampler(target.server) if workload == "W3" else None
                    if sampler:
                        sampler.__enter__()
                    if workload == "W6":
                        pair = _alternating(target, urls[target.server.name], args.seconds, c)
                        measured = {"W6 p1": pair[0], "W6": pair[1]}
                    else:
                        measured = {
                            workload: measure(
                                target,
                                urls[target.server.name][workload],
                                BUDGET[workload],
                                args.seconds,
                                c,
                            )
                        }
                    if sampler:
                        sampler.__exit__()
                        rss[target.server.name] = max(rss.get(target.server.name, 0), sampler.peak)
                    for name, result in measured.items():
                        results[(name, target.server.name, c)] = result
                        _print(name, target.server.name, c, result)
                if workload == "W2" and target is targets[0]:
                    # The floor right after the service's own W2: same boxes, same moment.
                    floor = sql_floor(args.database_url, box_list, rounds=2)
                    print(f"W2 SQL floor p50={statistics.median(floor) * 1000:.1f} ms", flush=True)
                    public = loadgen.run(
                        target.server.base,
                        urls[target.server.name]["W2"],
                        concurrency=1,
                        max_requests=BUDGET["W2"],
                        max_seconds=args.seconds,
                    )
                    results[("W2 public", target.server.name, 1)] = public
                    _print("W2 public", target.server.name, 1, public)
                if workload == "W2 dense" and target is targets[0]:
                    dense_floor = sql_floor(args.database_url, dense, rounds=2)
                    print(
                        f"W2 dense SQL floor p50={statistics.median(dense_floor) * 1000:.1f} ms",
                        flush=True,
                    )
        loads.append(_loadavg())
        floor_p50 = statistics.median(floor) * 1000
        dense_floor_p50 = statistics.median(dense_floor) * 1000

        choropleth = {}
        days = "2018-03-01/2018-03-30"
        for server, key in ((ours, secret), (ours_small, small_secret)):
            url = f"/v1/stats/provinces?datetime={days}"
            for headers, view in (({"Authorization": f"Bearer {key}"}, "monitor"), ({}, "public")):
                r = loadgen.run(
                    server.base,
                    [url],
                    concurrency=1,
                    max_requests=8,
                    max_seconds=args.seconds,
                    headers=headers,
                )
                r = loadgen.run(
                    server.base,
                    [url],
                    concurrency=1,
                    max_requests=200,
                    max_seconds=args.seconds,
                    headers=headers,
                )
                choropleth[(server.name, view)] = r
                print(f"choropleth {server.name} {view} p50={r.p50_ms:.1f} ms", flush=True)

        tiles = {}
        for headers, view in (({"Authorization": f"Bearer {secret}"}, "monitor"), ({}, "public")):
            # 5/19/12 holds all of Syria; 8/154/100 is Aleppo and Idlib, as points.
            for x, y, z in ((19, 12, 5), (154, 100, 8)):
                url = f"/tiles/incidents/{z}/{x}/{y}.mvt"
                loadgen.run(
                    ours.base, [url], concurrency=1, max_requests=2, max_seconds=60, headers=headers
                )
                r = loadgen.run(
                    ours.base,
                    [url],
                    concurrency=1,
                    max_requests=20,
                    max_seconds=args.seconds,
                    headers=headers,
                )
                tiles[(view, z, x, y)] = r
                print(
                    f"tile {z}/{x}/{y} {view}: {r.mean_bytes / 1000:.1f} kB p50={r.p50_ms:.1f} ms",
                    flush=True,
                )
        low_zoom = low_zoom_tiles(ours, secret, args.seconds)
        ver = versions(args.database_url, args.peers_dir)
    finally:
        for server in started:
            server.stop()

    floors = {"W2": floor_p50, "W2 dense": dense_floor_p50}
    goals = goal_lines(results, floors, low_zoom, [t.server.name for t in targets])
    print("\n".join(["", "goals (issue 10):", *goals]), flush=True)
    write_report(
        args, ver, total, box_list, results, floors, choropleth, tiles, rss, targets, loads,
        low_zoom, goals,
    )  # fmt: skip
    return 0


def low_zoom_tiles(
    server: servers.Server, secret: str, seconds: float
) -> dict[int, loadgen.Result]:
    """Every tile of z3..z7 over the theatre under each filter combination, once each
    (after one warm-up request per zoom), monitor key; at most ``4 x seconds`` per zoom."""
    headers = {"Authorization": f"Bearer {secret}"}
    measured = {}
    for zoom in TILE_ZOOMS:
        urls = tile_urls(zoom)
        loadgen.run(
            server.base, urls[:1], concurrency=1, max_requests=1, max_seconds=60, headers=headers
        )
        r = loadgen.run(
            server.base,
            urls,
            concurrency=1,
            max_requests=len(urls),
            max_seconds=4 * seconds,
            headers=headers,
        )
        measured[zoom] = r
        print(
            f"low-zoom filtered tiles z{zoom}: {len(urls)} tile-filter pairs, n={r.count}"
            f" p50={r.p50_ms:.1f} ms p99={r.p99_ms:.1f} ms errors={r.errors}",
            flush=True,
        )
    return measured


def goal_lines(results, floors, low_zoom, names) -> list[str]:  # noqa: ANN001
    """Issue 10's goals for map requests, each with the figure measured (c=1, monitor key)."""
    ours = names[0]

    def p50(workload: str, name: str = ours) -> float:
        return results[(workload, name, 1)].p50_ms

    def met(ok: bool) -> str:
        return "yes" if ok else "no"

    peers = list(names[1:])
    lines = [
        f"| W7 one item <= 4 ms p50 | {fmt(p50('W7'))} ms | {met(p50('W7') <= 4)} |",
        f"| W1 ten items <= 5 ms p50 | {fmt(p50('W1'))} ms | {met(p50('W1') <= 5)} |",
    ]
    for workload in ("W7", "W1"):
        for peer in peers:
            lines.append(
                f"| {workload} faster than {peer} | {fmt(p50(workload))} vs {fmt(p50(workload, peer))} ms"
                f" | {met(p50(workload) < p50(workload, peer))} |"
            )
    for workload, floor in floors.items():
        ratio = p50(workload) / floor
        lines.append(
            f"| {workload} within 1.3x of its SQL floor | {fmt(p50(workload))} vs {fmt(floor)} ms:"
            f" {ratio:.2f}x | {met(ratio <= 1.3)} |"
        )
    for peer in peers:
        ratio = p50("W3", peer) / p50("W3")
        lines.append(
            f"| W3 (10,000 features) at least 5x faster than {peer} | {fmt(p50('W3'))} vs"
            f" {fmt(p50('W3', peer))} ms: {ratio:.1f}x | {met(ratio >= 5)} |"
        )
    every = loadgen.Result()
    for zoom, r in low_zoom.items():
        every.latencies_s += r.latencies_s
        errors = f", errors {r.errors}" if r.errors else ""
        lines.append(
            f"| filtered tiles z{zoom} <= 300 ms p50 | {fmt(r.p50_ms)} ms (n={r.count}{errors})"
            f" | {met(r.p50_ms <= 300 and not r.errors)} |"
        )
    lines.append(
        f"| filtered tiles z3-z7 <= 300 ms p50 | {fmt(every.p50_ms)} ms (n={every.count})"
        f" | {met(every.p50_ms <= 300)} |"
    )
    return lines


COMMANDS = """
# two databases, migrated and seeded (URL_1M, URL_10K: postgresql://... of each)
createdb cf_maps_bench && createdb cf_maps_bench_10k
for url in $URL_1M $URL_10K; do
  DATABASE_URL=$url .venv/bin/ceasefire migrate && DATABASE_URL=$url .venv/bin/ceasefire seed
done
# the data (the importer's generator, from its worktree), then VACUUM ANALYZE
(cd ../wt-importer && .venv/bin/python -m bench.dataset --database-url $URL_1M --incidents 1000000)
(cd ../wt-importer && .venv/bin/python -m bench.dataset --database-url $URL_10K --incidents 10000)
psql $URL_1M -c 'VACUUM ANALYZE' && psql $URL_10K -c 'VACUUM ANALYZE'
# the peers, each in its own virtualenv outside the repository
python3 -m venv ../peers/pygeoapi-venv
../peers/pygeoapi-venv/bin/pip install pygeoapi psycopg2-binary geoalchemy2 gunicorn
python3 -m venv ../peers/tipg-venv && ../peers/tipg-venv/bin/pip install tipg uvicorn
# the run (starts and stops every server itself, on 127.0.0.1:8301, 8302, 8311, 8321)
"""

READING = """
## Reading these figures

- The machine is shared (two cores, other work running; see the load average above): the
  absolute figures move from run to run, the ratios measured side by side much less.
- PostgreSQL runs with its default `shared_buffers` (128 MB), smaller than the incidents
  table (about 310 MB), and the data set's rows are stored in random order of time: a page
  of features reads about one table page per feature, from the operating system's cache.
  This weighs on every server alike and is most of W2's and W3's cost; with the table in
  shared buffers the same pages take a fraction of the time.
- tipg and pygeoapi count the matching rows on every page (`numberMatched`) and page with
  OFFSET; that is most of their W1 and W6 time. The service counts only when a maintained
  counter or the daily rollup can answer, and pages by keyset. pygeoapi's single-item
  read (W7) does no count and is as fast as the service's.
- The service orders incidents newest first (the peers by id); a dense box (up to a fifth
  of all incidents lie in one 0.5-degree box around Aleppo) is read through the time index
  until 1,000 features are found.
- W2's SQL floor is the service's own statement for the same 50 boxes, run in-process on
  one warm connection right after the service's W2, with the same settings the service
  uses (custom plans, in-memory sort).
- Bodies differ in size: tipg repeats the id in the properties and adds per-feature
  links; pygeoapi's W7 body includes links and collection metadata.
"""


def _loadavg() -> str:
    return " ".join(Path("/proc/loadavg").read_text().split(" ")[:3])


def _print(workload: str, name: str, c: int, result: loadgen.Result) -> None:
    print(
        f"{workload:9} {name:10} c={c} n={result.count:4} p50={result.p50_ms:8.1f} ms"
        f" p99={result.p99_ms:8.1f} ms {result.rps:7.1f} req/s"
        f" {result.mean_bytes / 1000:8.1f} kB errors={result.errors}",
        flush=True,
    )


def _alternating(target: Target, urls: dict[str, list[str]], seconds: float, c: int):  # noqa: ANN202
    """Page 1 and page 100 in alternating rounds, so both see the same load."""
    first, hundredth = loadgen.Result(), loadgen.Result()
    rounds = 5
    for _ in range(rounds):
        for pool, key in ((first, "W6 p1"), (hundredth, "W6")):
            r = measure(target, urls[key], BUDGET[key] // rounds, seconds / rounds, c)
            pool.latencies_s += r.latencies_s
            pool.bytes_read += r.bytes_read
            pool.elapsed_s += r.elapsed_s
            for status, n in r.errors.items():
                pool.errors[status] = pool.errors.get(status, 0) + n
    return first, hundredth


def write_report(  # noqa: PLR0913
    args,
    ver,
    total,
    box_list,
    results,
    floors,
    choropleth,
    tiles,
    rss,
    targets,
    loads,
    low_zoom,
    goals,
) -> None:  # noqa: ANN001
    floor_p50 = floors["W2"]
    names = [t.server.name for t in targets]
    lines = [
        "# Map serving: ceasefire-monitor, tipg and pygeoapi side by side",
        "",
        f"Measured {dt.datetime.now(dt.UTC).strftime('%Y-%m-%d %H:%M UTC')} on one machine"
        f" ({ver['CPU']}), every server on loopback with {args.workers} workers, against the"
        f" same table of {total:,} incidents (the importer's deterministic data set). Every"
        " workload calls the service with a monitor key (exact points and times, every status),"
        " as monitors and QGIS do, like the peers reading the same rows through a view (only"
        ' "W2 public" goes without a key); requests carry no Accept-Encoding (no gzip).',
        "",
        "| workload | server | c=1 p50 ms | c=1 p99 ms | c=1 req/s | c=8 p50 ms | c=8 p99 ms | c=8 req/s | body kB |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for workload in BUDGET:
        for name in names:
            one, eight = results[(workload, name, 1)], results[(workload, name, 8)]
            errors = {**one.errors, **eight.errors}
            note = f" (errors: {errors})" if errors else ""
            lines.append(
                f"| {workload} | {name}{note} | {fmt(one.p50_ms)} | {fmt(one.p99_ms)} | {fmt(one.rps)}"
                f" | {fmt(eight.p50_ms)} | {fmt(eight.p99_ms)} | {fmt(eight.rps)} | {fmt(one.mean_bytes / 1000)} |"
            )
    ours = names[0]

    def p50(workload: str, name: str) -> float:
        return results[(workload, name, 1)].p50_ms

    lines += ["", "## Goals", "", "| goal | measured | met |", "|---|---|---|", *goals]
    w2 = p50("W2", ours)
    lines.append(
        f"| W2 p50 within 1.5x of the SQL floor | {fmt(w2)} ms vs floor {fmt(floor_p50)} ms: {w2 / floor_p50:.2f}x | {'yes' if w2 <= 1.5 * floor_p50 else 'no'} |"
    )
    if "pygeoapi" in names:
        r = p50("W2", "pygeoapi") / w2
        lines.append(
            f"| W2 at least 5x faster than pygeoapi | pygeoapi {fmt(p50('W2', 'pygeoapi'))} ms: {r:.1f}x | {'yes' if r >= 5 else 'no'} |"
        )
    if "tipg" in names:
        r = p50("W2", "tipg") / w2
        lines.append(
            f"| W2 faster than tipg | tipg {fmt(p50('W2', 'tipg'))} ms: {r:.1f}x | {'yes' if r > 1 else 'no'} |"
        )
    w6 = p50("W6", ours) / p50("W6 p1", ours)
    lines.append(
        f"| W6 (page 100) within 1.5x of page 1 | {fmt(p50('W6', ours))} vs {fmt(p50('W6 p1', ours))} ms: {w6:.2f}x | {'yes' if w6 <= 1.5 else 'no'} |"
    )
    big = choropleth[("ceasefire", "monitor")].p50_ms
    small = choropleth[("ceasefire-10k", "monitor")].p50_ms
    lines.append(
        f"| 30-day province choropleth at 1M within 2x of 10k | {fmt(big)} vs {fmt(small)} ms: {big / small:.2f}x | {'yes' if big <= 2 * small else 'no'} |"
    )
    biggest = max(r.mean_bytes for (_, z, *_), r in tiles.items() if z == 5)
    lines.append(
        f"| z5 tile under 500 KB | largest {biggest / 1000:.1f} kB | {'yes' if biggest < 500_000 else 'no'} |"
    )
    lines.append(
        f"| RSS per worker under 300 MB through W3 | {', '.join(f'{n} {rss.get(n, 0):.0f} MB' for n in names)} | {'yes' if rss.get(ours, 0) < 300 else 'no'} |"
    )

    lines += ["", "## Other figures", ""]
    for (name, view), r in choropleth.items():
        lines.append(
            f"- choropleth `/v1/stats/provinces?datetime=2018-03-01/2018-03-30` on {name} ({view}): p50 {fmt(r.p50_ms)} ms, p99 {fmt(r.p99_ms)} ms, {r.mean_bytes / 1000:.0f} kB"
        )
    for (view, z, x, y), r in tiles.items():
        lines.append(
            f"- tile {z}/{x}/{y} ({view}): {r.mean_bytes / 1000:.1f} kB, p50 {fmt(r.p50_ms)} ms"
        )
    public = results[("W2 public", ours, 1)]
    lines.append(
        "- W2 in the public view (generalised points, verified only; c=1):"
        f" p50 {fmt(public.p50_ms)} ms, p99 {fmt(public.p99_ms)} ms"
    )
    lines.append(
        f"- load average (1, 5, 15 min) before and after the workloads: {loads[0]} / {loads[-1]}"
        " (the machine is shared with other work)"
    )
    lines.append(
        f"- W2 SQL floor (the service's statement on a warm connection, 50 boxes x 2): p50 {fmt(floor_p50)} ms"
    )
    lines.append(f"- W2 dense SQL floor (20 dense boxes x 2): p50 {fmt(floors['W2 dense'])} ms")
    for zoom, r in low_zoom.items():
        lines.append(
            f"- low-zoom filtered tiles z{zoom} ({len(tile_urls(zoom))} tile-filter pairs,"
            f" {len(TILE_FILTERS)} filter combinations, monitor key): p50 {fmt(r.p50_ms)} ms,"
            f" p99 {fmt(r.p99_ms)} ms, n={r.count}"
        )
    lines += READING.rstrip().splitlines()
    lines += ["", "## Versions", ""] + [f"- {k}: {v}" for k, v in ver.items()]
    lines += [
        "",
        "## Commands",
        "",
        "```sh",
        *COMMANDS.strip().splitlines(),
        " ".join([".venv/bin/python -m bench.map", *sys.argv[1:]]),
        "```",
        "",
        f"The 50 boxes are in `bench/results/map-boxes.json` (first: {bbox_param(box_list[0])});"
        " the 20 dense ones, with their counts, in `bench/results/map-dense-boxes.json`.",
    ]
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text("\n".join(lines) + "\n")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    sys.exit(main())
