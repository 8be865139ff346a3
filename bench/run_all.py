"""`make bench`: every benchmark of the project on the standard data set, one results file.

Runs, in order, each as its own process so one failing does not hide the others:
1. ingest: batch ingest through submit() against the bare SQL floor (scratch database);
2. ingest POST: single-report POST p50/p99 at concurrency 8 against a real server;
3. map: OGC items, aggregates and tiles beside pygeoapi and tipg (their virtualenvs under
   ../peers are made on first use);
4. digest: one day's digest against the bare SQL aggregation, and a three-year backfill;
5. load: the mixed load, with its lost-writes check.

The standard data set is the deterministic 1,000,000-incident set of bench/dataset.py (and a
10,000-incident one for the choropleth's scaling), made once in databases named by
--database-url and --small-database-url and reused while complete. The results file holds
the versions, the machine's facts, each benchmark's own figures and ratios, and its command.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import platform
import subprocess
import sys
import time
from importlib import metadata
from pathlib import Path

from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from service.config import sqlalchemy_url
from tests.live import LiveServer, create_key

ROOT = Path(__file__).resolve().parents[1]
PYTHON = sys.executable
CEASEFIRE = str(Path(PYTHON).parent / "ceasefire")
PEERS = ROOT.parent / "peers"
PEER_PACKAGES = {
    "pygeoapi-venv": ["pygeoapi", "psycopg2-binary", "geoalchemy2", "gunicorn"],
    "tipg-venv": ["tipg", "uvicorn"],
}


def run(title: str, args: list[str], env: dict[str, str] | None = None) -> dict:
    print(f"\n=== {title}: {' '.join(args)}", flush=True)
    started = time.monotonic()
    done = subprocess.run(  # noqa: S603
        args,
        cwd=ROOT,
        env={**os.environ, **(env or {})},
        capture_output=True,
        text=True,
        check=False,
    )
    elapsed = time.monotonic() - started
    print(done.stdout[-4000:], flush=True)
    if done.returncode:
        print(done.stderr[-4000:], flush=True)
    return {"title": title, "command": " ".join(args), "seconds": elapsed, "rc": done.returncode,
            "stdout": done.stdout, "stderr": done.stderr[-3000:]}  # fmt: skip


def ensure_database(url: str, incidents: int) -> None:
    """Create, migrate and seed the database, then load the data set unless it is complete."""
    parsed = make_url(sqlalchemy_url(url))
    admin = create_engine(parsed.set(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        exists = conn.execute(
            text("SELECT 1 FROM pg_database WHERE datname = :n"), {"n": parsed.database}
        ).scalar()
        if not exists:
            conn.execute(text(f'CREATE DATABASE "{parsed.database}"'))
    admin.dispose()
    env = {"DATABASE_URL": url}
    for args in (["migrate"], ["seed"]):
        subprocess.run(  # noqa: S603 - our own command
            [CEASEFIRE, *args], env={**os.environ, **env}, check=True, capture_output=True
        )  # noqa: S603
    subprocess.run(  # noqa: S603 - the generator skips a complete data set
        [PYTHON, "-m", "bench.dataset", "--database-url", url, "--incidents", str(incidents)],
        cwd=ROOT,
        check=True,
    )
    engine = create_engine(sqlalchemy_url(url), isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.execute(text("VACUUM ANALYZE"))
    engine.dispose()


def ensure_peers() -> None:
    for venv, packages in PEER_PACKAGES.items():
        path = PEERS / venv
        if (path / "bin" / "python").exists():
            continue
        subprocess.run([sys.executable, "-m", "venv", str(path)], check=True)  # noqa: S603
        subprocess.run([str(path / "bin" / "pip"), "install", "-q", *packages], check=True)  # noqa: S603


def facts() -> list[str]:
    def version(name: str) -> str:
        try:
            return metadata.version(name)
        except metadata.PackageNotFoundError:
            return "not installed"

    engine = create_engine(
        sqlalchemy_url(
            os.environ.get("DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
        )
    )
    try:
        with engine.connect() as conn:
            postgres = conn.execute(text("SHOW server_version")).scalar()
            postgis = conn.execute(
                text("SELECT default_version FROM pg_available_extensions WHERE name = 'postgis'")
            ).scalar()
    finally:
        engine.dispose()
    meminfo = (
        Path("/proc/meminfo").read_text().splitlines()[0] if Path("/proc/meminfo").exists() else "?"
    )
    return [
        f"- date: {dt.datetime.now(dt.UTC).isoformat(timespec='seconds')}",
        f"- machine: {platform.machine()}, {os.cpu_count()} cores, {meminfo.split(':')[1].strip()}; load average at start {os.getloadavg()}",
        f"- Python {platform.python_version()}, PostgreSQL {postgres}, PostGIS {postgis}",
        "- " + ", ".join(f"{p} {version(p)}" for p in ("fastapi", "uvicorn", "sqlalchemy", "psycopg", "geoalchemy2", "apscheduler")),
    ]  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--database-url", default="postgresql://postgres@127.0.0.1:5432/ceasefire_bench_1m"
    )
    parser.add_argument(
        "--small-database-url", default="postgresql://postgres@127.0.0.1:5432/ceasefire_bench_10k"
    )
    parser.add_argument("--map-seconds", type=float, default=15.0)
    parser.add_argument("--load-seconds", type=float, default=60.0)
    parser.add_argument("--skip-peers", action="store_true")
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "latest.md")
    args = parser.parse_args()

    lines = ["# Benchmarks: every figure of one `make bench` run", "", *facts(), ""]
    ensure_database(args.database_url, 1_000_000)
    ensure_database(args.small_database_url, 10_000)
    if not args.skip_peers:
        ensure_peers()
    results = [
        run("ingest: batch through submit() vs the bare SQL floor", [PYTHON, "-m", "bench.ingest"])
    ]

    server = LiveServer(
        sqlalchemy_url(args.database_url),
        workers=2,
        env={"CEASEFIRE_RATE_LIMIT_REQUESTS": "0", "CEASEFIRE_RATE_LIMIT_ANONYMOUS_REQUESTS": "0"},
    )
    secret = create_key(sqlalchemy_url(args.database_url), "reporter", "bench POST")
    server.start()
    try:
        # The secret travels in the environment, never on a command line or in the results.
        results.append(run("ingest: single-report POST at concurrency 8",
                           [PYTHON, "-m", "bench.ingest", "--post-url", server.url],
                           env={"CEASEFIRE_BENCH_KEY": secret}))  # fmt: skip
    finally:
        server.stop()
    map_args = [PYTHON, "-m", "bench.map", "--database-url", args.database_url,
                "--small-database-url", args.small_database_url, "--seconds", str(args.map_seconds)]  # fmt: skip
    if args.skip_peers:
        map_args.append("--skip-peers")
    results.append(run("map: OGC items, aggregates and tiles beside the peers", map_args))
    results.append(run("digest: one day vs bare SQL, three-year backfill",
                       [PYTHON, "-m", "bench.digest", "--database-url", args.database_url]))  # fmt: skip
    results.append(run("load: mixed reporters, monitors and map clients",
                       [PYTHON, "-m", "bench.load", "--database-url", args.database_url,
                        "--duration", str(args.load_seconds)]))  # fmt: skip

    for r in results:
        status = "ok" if r["rc"] == 0 else f"FAILED (exit {r['rc']})"
        lines += [f"## {r['title']}", "", f"`{r['command']}` — {r['seconds']:.0f} s, {status}", "",
                  "```", r["stdout"].strip()[-6000:] or r["stderr"].strip(), "```", ""]  # fmt: skip
    args.out.write_text("\n".join(lines) + "\n")
    print(f"\nresults written to {args.out}")
    sys.exit(1 if any(r["rc"] for r in results) else 0)


if __name__ == "__main__":
    main()
