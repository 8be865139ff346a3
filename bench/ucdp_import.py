"""UCDP import figures: ``ceasefire import ucdp``'s own function on the real extract and on a
bigger generated GED file, first import and re-import, rows/s.

The generated file copies the real rows (``--rows``, default 50,000) under new ids, each
point moved by up to 1 km and each date shifted by whole weeks, in the GED's own format (so
the same mapping reads it). Each file goes into a scratch database (recreated, migrated,
seeded): imported once (everything new), then again (everything already stored). Each
import's client CPU seconds (all its threads) are printed beside its rows/s: on a shared
machine they move far less than the clock.

With ``--batch-api``, the same file's rows also go through the batch API's path into a
scratch database of their own: read and mapped by the importer's own reader and written as
the JSON bodies a client would send, 500 reports each (``POST /v1/reports/batch``'s limit),
outside the clock; then, per body, what the route does but HTTP and the key check (the body
parsed and validated, ``intake.create_batch``: each item validated, ``submit()``, the answer
built) and the commit. The import's clock holds its reading and mapping, as this lane's
holds the body's parsing and validation. The lanes alternate file by file, and the ratio of
reports stored per second (the import's first import over the batch API's) is printed
(issue 14: the import at least as fast as the batch API, so at least 1.00x).

With ``--against REV`` the importer as it was at git revision REV (its
``service/importer/service.py``, loaded beside this one; the mapping and the rest are this
checkout's) imports each file too, into its own scratch database, and the ratios of the two
(medians over ``--rounds``) are printed. The lanes take turns going first, round by round.

    .venv/bin/python -m bench.ucdp_import [--database-url URL] [--rows 50000] [--against REV]
        [--rounds N] [--batch-api]
"""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import importlib.util
import math
import os
import random
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from sqlalchemy import create_engine
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session

from bench.ingest import DEFAULT_EVENTS, KM_PER_DEGREE, prepare
from service.config import get_settings, sqlalchemy_url
from service.importer.service import ImportSummary, import_ucdp

Importer = Callable[..., ImportSummary]


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


def at_revision(revision: str) -> Importer:
    """``import_ucdp`` as it was at git ``revision``: its ``service/importer/service.py``,
    loaded as a module of its own beside this checkout's."""
    root = Path(__file__).resolve().parent.parent
    source = subprocess.run(  # noqa: S603 - a revision named on the command line, to git
        ["git", "show", f"{revision}:service/importer/service.py"],  # noqa: S607 - git on PATH
        cwd=root,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    copy = Path(tempfile.mkdtemp()) / "importer_service.py"
    copy.write_text(source, encoding="utf-8")
    name = f"service.importer.service_at_{revision}"
    spec = importlib.util.spec_from_file_location(name, copy)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # dataclasses look their module up while it loads
    spec.loader.exec_module(module)
    return module.import_ucdp


def _cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def run(
    url: str, path: Path, importer: Importer = import_ucdp, lane: str = ""
) -> tuple[float, float, int, float]:
    """(rows/s first import, rows/s re-import, rows, reports stored/s by the first import) of
    ``path`` into a fresh ``url``."""
    prepare(url)
    engine = create_engine(sqlalchemy_url(url))
    figures, stored = [], []
    with Session(engine, expire_on_commit=False) as session:
        for _ in range(2):
            t0, cpu0 = time.perf_counter(), _cpu_seconds()
            summary = importer(session=session, path=path)
            seconds, cpu = time.perf_counter() - t0, _cpu_seconds() - cpu0
            figures.append(summary.rows / seconds)
            stored.append(summary.imported / seconds)
            print(
                f"  {lane}{path.name}: {summary.rows} rows in {seconds:.1f} s"
                f" ({summary.rows / seconds:,.0f} rows/s, client CPU {cpu:.2f} s): imported"
                f" {summary.imported}, already present {summary.already_present}, refused"
                f" {sum(summary.refused.values())}",
                file=sys.stderr,
                flush=True,
            )
    engine.dispose()
    return figures[0], figures[1], summary.rows, stored[0]


def via_batch_api(url: str, path: Path, batch: int = 500) -> tuple[float, int]:
    """(reports/s, rows) of ``path``'s rows stored through the batch API's path into a fresh
    ``url``: the bodies written outside the clock, then per body what the route does."""
    import orjson

    from service.audit.service import CONSOLE
    from service.auth.service import create_key
    from service.importer.service import read_ucdp
    from service.importer.ucdp import Mapped
    from service.report.intake import create_batch
    from service.report.schemas import ReportBatch
    from service.report.service import Submitter
    from service.theatre.terms import load_terms

    prepare(url)
    engine = create_engine(sqlalchemy_url(url))
    with Session(engine, expire_on_commit=False) as session:
        timezone = load_terms(session).timezone
        mapped = list(read_ucdp(path, timezone=timezone))
        reports = [
            m.report.model_dump(mode="json", exclude_none=True)
            for m in mapped
            if isinstance(m, Mapped)
        ]
        bodies = [
            orjson.dumps({"reports": reports[start : start + batch]})
            for start in range(0, len(reports), batch)
        ]
        key, _ = create_key(session=session, role="reporter", name="batch api", actor=CONSOLE)
        session.commit()
        submitter = Submitter(key_id=key["id"], actor=CONSOLE)
        t0, cpu0 = time.perf_counter(), _cpu_seconds()
        stored = 0
        for body in bodies:
            answer = create_batch(
                session=session,
                submitter=submitter,
                items=ReportBatch.model_validate_json(body).reports,
                idempotency_key=None,
            )
            session.commit()
            stored += orjson.loads(answer.body)["accepted"]
        seconds, cpu = time.perf_counter() - t0, _cpu_seconds() - cpu0
    engine.dispose()
    print(
        f"  batch API: {path.name}: {len(mapped)} rows, {stored} stored in {seconds:.1f} s"
        f" ({stored / seconds:,.0f} reports/s, client CPU {cpu:.2f} s)",
        file=sys.stderr,
        flush=True,
    )
    return stored / seconds, len(mapped)


def _batch_lane(figures: dict[str, list[float]], url, path: Path) -> None:
    rate, rows = via_batch_api(url.render_as_string(hide_password=False), path)
    figures.setdefault(path.name, []).append(rate)
    print(f"{path.name:34} {'batch API':>8} {rows:8} {rate:14,.0f} {'':>17}", flush=True)


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
    parser.add_argument(
        "--against", metavar="REV", help="also run the importer of this git revision, alternating"
    )
    parser.add_argument(
        "--rounds", type=int, default=1, help="each file imported twice this many times, per lane"
    )
    parser.add_argument(
        "--batch-api",
        action="store_true",
        help="also store each file's rows through submit() in batches of 500, alternating",
    )
    parser.add_argument("--events", type=Path, default=get_settings().data_dir / DEFAULT_EVENTS)
    parser.add_argument(
        "--work-dir", type=Path, default=Path(tempfile.gettempdir()), help="for the generated file"
    )
    args = parser.parse_args(argv)
    generated = args.work_dir / f"ucdp_generated_{args.rows}.csv"
    if not generated.exists():
        generate(args.events, generated, args.rows)
    lanes: dict[str, tuple[str, Importer]] = {"this": (args.database_url, import_ucdp)}
    if args.against:
        other = make_url(args.database_url)
        other = other.set(database=f"{other.database}_against")
        lanes[args.against] = (
            other.render_as_string(hide_password=False),
            at_revision(args.against),
        )
    print(f"{'file':34} {'lane':>8} {'rows':>8} {'import rows/s':>14} {'re-import rows/s':>17}")
    figures: dict[tuple[str, str], list[tuple[float, float]]] = {}
    stored: dict[str, list[float]] = {}  # this lane's first imports, reports stored/s
    batch_api: dict[str, list[float]] = {}
    batch_url = make_url(args.database_url)
    batch_url = batch_url.set(database=f"{batch_url.database}_batch_api")
    for round_ in range(args.rounds):
        # The lanes take turns going first, round by round.
        order = list(lanes.items())[:: -1 if round_ % 2 else 1]
        for path in (args.events, generated):
            if args.batch_api and round_ % 2 == 0:
                _batch_lane(batch_api, batch_url, path)
            for lane, (url, importer) in order:
                first, again, rows, stored_rate = run(url, path, importer, f"{lane}: ")
                figures.setdefault((path.name, lane), []).append((first, again))
                if lane == "this":
                    stored.setdefault(path.name, []).append(stored_rate)
                print(
                    f"{path.name:34} {lane:>8} {rows:8} {first:14,.0f} {again:17,.0f}", flush=True
                )
            if args.batch_api and round_ % 2 == 1:
                _batch_lane(batch_api, batch_url, path)
    for path in (args.events, generated) if args.batch_api else ():
        imported = statistics.median(stored[path.name])
        through_api = statistics.median(batch_api[path.name])
        print(
            f"ratio import/batch API, {path.name}, medians of {args.rounds}:"
            f" {imported / through_api:.2f}x (reports stored/s, first import:"
            f" {imported:,.0f} against {through_api:,.0f})",
            flush=True,
        )
    if args.against:
        for path in (args.events, generated):
            this, then = (figures[path.name, lane] for lane in lanes)
            medians = [
                statistics.median(f[i] for f in this) / statistics.median(f[i] for f in then)
                for i in (0, 1)
            ]
            print(
                f"ratio this/{args.against}, {path.name}, medians of {args.rounds}:"
                f" import {medians[0]:.2f}x, re-import {medians[1]:.2f}x",
                flush=True,
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
