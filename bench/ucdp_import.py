"""UCDP import figures: ``ceasefire import ucdp``'s own function on the real extract and on a
bigger generated GED file, first import and re-import, rows/s.

The generated file copies the real rows (``--rows``, default 50,000) under new ids, each
point moved by up to 1 km and each date shifted by whole weeks, in the GED's own format (so
the same mapping reads it). Each file goes into a scratch database (recreated, migrated,
seeded): imported once (everything new), then again (everything already stored).

    .venv/bin/python -m bench.ucdp_import [--database-url URL] [--rows 50000]
"""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import math
import os
import random
import sys
import tempfile
import time
from pathlib import Path

from sqlalchemy import create_engine
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session

from bench.ingest import DEFAULT_EVENTS, KM_PER_DEGREE, prepare
from service.config import get_settings, sqlalchemy_url
from service.importer.service import import_ucdp


def generate(source: Path, target: Path, rows: int, seed: int = 1) -> None:
    """``rows`` GED rows copied from ``source`` under new ids, moved a little in space and
    by whole weeks in time (within the source's years)."""
    rng = random.Random(seed)  # noqa: S311 - reproducible, not secret
    csv.field_size_limit(10 * 1024 * 1024)
    with source.open(newline="", encoding="utf-8-sig") as handle:
        reader = csv.reader(handle)
        header = next(reader)
        real = list(reader)
    col = {name: header.index(name) for name in header}
    with target.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(header)
        for i in range(rows):
            row = list(real[i % len(real)])
            row[col["id"]] = str(10_000_000 + i)
            try:
                lat, lon = float(row[col["latitude"]]), float(row[col["longitude"]])
            except ValueError:
                writer.writerow(row)
                continue
            distance, angle = math.sqrt(rng.random()), rng.random() * 2 * math.pi
            lat2 = lat + distance * math.sin(angle) / KM_PER_DEGREE
            lon2 = lon + distance * math.cos(angle) / (KM_PER_DEGREE * math.cos(math.radians(lat)))
            row[col["latitude"]], row[col["longitude"]] = f"{lat2:.6f}", f"{lon2:.6f}"
            weeks = dt.timedelta(weeks=rng.randrange(-20, 20))
            for name in ("date_start", "date_end"):
                try:
                    day = dt.date.fromisoformat(row[col[name]][:10]) + weeks
                except ValueError:
                    continue
                row[col[name]] = day.isoformat()
            writer.writerow(row)


def run(url: str, path: Path) -> tuple[float, float, int]:
    """(rows/s first import, rows/s re-import, rows) of ``path`` into a fresh ``url``."""
    prepare(url)
    engine = create_engine(sqlalchemy_url(url))
    figures = []
    with Session(engine, expire_on_commit=False) as session:
        for _ in range(2):
            t0 = time.perf_counter()
            summary = import_ucdp(session=session, path=path)
            seconds = time.perf_counter() - t0
            figures.append(summary.rows / seconds)
            print(
                f"  {path.name}: {summary.rows} rows in {seconds:.1f} s ({summary.rows / seconds:,.0f}"
                f" rows/s): imported {summary.imported}, already present"
                f" {summary.already_present}, refused {sum(summary.refused.values())}",
                file=sys.stderr,
                flush=True,
            )
    engine.dispose()
    return figures[0], figures[1], summary.rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench.ucdp_import", description=__doc__.split("\n")[0]
    )
    default_url = os.environ.get("DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/ceasefire")
    parser.add_argument(
        "--database-url",
        default=make_url(default_url)
        .set(database=f"{make_url(default_url).database}_bench_ucdp")
        .render_as_string(hide_password=False),
        help="scratch database, dropped and recreated",
    )
    parser.add_argument("--rows", type=int, default=50_000)
    parser.add_argument("--events", type=Path, default=get_settings().data_dir / DEFAULT_EVENTS)
    parser.add_argument(
        "--work-dir", type=Path, default=Path(tempfile.gettempdir()), help="for the generated file"
    )
    args = parser.parse_args(argv)
    generated = args.work_dir / f"ucdp_generated_{args.rows}.csv"
    if not generated.exists():
        generate(args.events, generated, args.rows)
    print(f"{'file':34} {'rows':>8} {'import rows/s':>14} {'re-import rows/s':>17}")
    for path in (args.events, generated):
        first, again, rows = run(args.database_url, path)
        print(f"{path.name:34} {rows:8} {first:14,.0f} {again:17,.0f}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
