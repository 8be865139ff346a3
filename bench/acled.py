"""ACLED import throughput, beside the UCDP import of the same events in the same run.

Takes the first ``--rows`` (default 3,000) rows of the real UCDP extract that both importers
store (a day's date, a point) and writes them twice: as the GED CSV they are, and as an ACLED
export of the same events (the same dates, points, actors, deaths and headlines; sub-event
types cycling through the violation ones; ids ``SYR800000``...). Then, ``--rounds`` times
(default 3), on two fresh scratch databases (migrated and seeded; ``_a`` for ACLED, ``_b``
for UCDP), one after the other so both see the same machine:

- **first import** (every row a new report): ``import_acled`` on ``_a``, ``import_ucdp`` on
  ``_b``;
- **re-import** (nothing stored: already present): the same files again;
- **revision pass** (ACLED only): the file with every tenth row revised (a newer
  ``timestamp``, one more death), each revision through the report revision path.

It prints rows/s (medians over the rounds) and the ratio ACLED / UCDP:

    .venv/bin/python -m bench.acled [--database-url URL] [--rows 3000] [--rounds 3]
"""

from __future__ import annotations

import argparse
import csv
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from sqlalchemy import create_engine
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session

from bench.ingest import DEFAULT_EVENTS, prepare
from service.config import get_settings, sqlalchemy_url
from service.importer.service import ImportSummary, import_ucdp
from service.importer.versioned import import_acled

SUB_EVENTS = (
    ("Battles", "Armed clash"),
    ("Explosions/Remote violence", "Air/drone strike"),
    ("Explosions/Remote violence", "Shelling/artillery/missile attack"),
    ("Violence against civilians", "Attack"),
    ("Explosions/Remote violence", "Remote explosive/landmine/IED"),
    ("Battles", "Government regains territory"),
    ("Violence against civilians", "Abduction/forced disappearance"),
    ("Explosions/Remote violence", "Suicide bomb"),
)
ACLED_HEADER = [
    "event_id_cnty",
    "event_date",
    "year",
    "time_precision",
    "disorder_type",
    "event_type",
    "sub_event_type",
    "actor1",
    "assoc_actor_1",
    "inter1",
    "actor2",
    "assoc_actor_2",
    "inter2",
    "interaction",
    "civilian_targeting",
    "iso",
    "region",
    "country",
    "admin1",
    "admin2",
    "admin3",
    "location",
    "latitude",
    "longitude",
    "geo_precision",
    "source",
    "source_scale",
    "notes",
    "fatalities",
    "tags",
    "timestamp",
]
TIMESTAMP = 1_700_000_000


def usable(row: dict[str, str]) -> bool:
    """A row both importers store: a day's date and a point of its own."""
    return (
        row["where_prec"] in {"1", "2", "3"}
        and row["date_prec"] == "1"
        and row["date_start"] == row["date_end"]
        and int(row["deaths_civilians"] or 0) <= int(row["best"] or 0)
    )


def write_files(events: Path, rows: int, folder: Path) -> tuple[Path, Path, Path]:
    """The GED file, the ACLED file of the same events, and the ACLED file revised."""
    with events.open(newline="", encoding="utf-8-sig") as handle:
        reader = csv.DictReader(handle)
        fields = list(reader.fieldnames or [])
        chosen = [row for row in reader if usable(row)][:rows]
    ucdp = folder / "ucdp.csv"
    with ucdp.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=fields)
        writer.writeheader()
        writer.writerows(chosen)
    acled_rows = []
    for i, row in enumerate(chosen):
        event_type, sub_event_type = SUB_EVENTS[i % len(SUB_EVENTS)]
        acled_rows.append(
            {
                **dict.fromkeys(ACLED_HEADER, ""),
                "event_id_cnty": f"SYR{800000 + i}",
                "event_date": row["date_start"],
                "year": row["date_start"][:4],
                "time_precision": "1",
                "event_type": event_type,
                "sub_event_type": sub_event_type,
                "actor1": row["side_a"],
                "actor2": row["side_b"],
                "country": "Syria",
                "admin1": row["adm_1"],
                "location": row["where_coordinates"],
                "latitude": row["latitude"],
                "longitude": row["longitude"],
                "geo_precision": "1" if row["where_prec"] == "1" else "2",
                "source": row["source_office"],
                "notes": row["source_headline"],
                "fatalities": row["best"],
                "timestamp": str(TIMESTAMP),
            }
        )
    acled = folder / "acled.csv"
    revised = folder / "acled_revised.csv"
    for path, rows_out in (
        (acled, acled_rows),
        (
            revised,
            [
                {
                    **row,
                    "timestamp": str(TIMESTAMP + 1000),
                    "fatalities": str(int(row["fatalities"] or 0) + 1),
                }
                if i % 10 == 0
                else row
                for i, row in enumerate(acled_rows)
            ],
        ),
    ):
        with path.open("w", newline="", encoding="utf-8") as handle:
            writer = csv.DictWriter(handle, fieldnames=ACLED_HEADER)
            writer.writeheader()
            writer.writerows(rows_out)
    return ucdp, acled, revised


def timed(url: str, run: Callable[..., ImportSummary], path: Path) -> tuple[float, ImportSummary]:
    engine = create_engine(sqlalchemy_url(url))
    try:
        with Session(engine) as session:
            started = time.perf_counter()
            summary = run(session=session, path=path)
            return time.perf_counter() - started, summary
    finally:
        engine.dispose()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench.acled", description=__doc__.split("\n")[0]
    )
    default_url = os.environ.get("DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/ceasefire")
    base = make_url(default_url)
    parser.add_argument(
        "--database-url",
        default=base.set(database=f"{base.database}_bench_acled").render_as_string(
            hide_password=False
        ),
        help="scratch databases URL_a and URL_b, dropped and recreated"
        " (default: $DATABASE_URL's name + _bench_acled)",
    )
    parser.add_argument("--rows", type=int, default=3000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--events", type=Path, default=get_settings().data_dir / DEFAULT_EVENTS)
    args = parser.parse_args(argv)
    scratch = make_url(args.database_url)
    url_a = scratch.set(database=f"{scratch.database}_a").render_as_string(hide_password=False)
    url_b = scratch.set(database=f"{scratch.database}_b").render_as_string(hide_password=False)

    figures: dict[str, list[float]] = {}
    with tempfile.TemporaryDirectory(prefix="bench-acled-") as folder:
        ucdp, acled, revised = write_files(args.events, args.rows, Path(folder))
        for round_ in range(1, args.rounds + 1):
            prepare(url_a)
            prepare(url_b)
            runs = (
                ("acled first import", url_a, import_acled, acled),
                ("ucdp first import", url_b, import_ucdp, ucdp),
                ("acled re-import", url_a, import_acled, acled),
                ("ucdp re-import", url_b, import_ucdp, ucdp),
                ("acled revision pass", url_a, import_acled, revised),
            )
            for name, url, run, path in runs:
                seconds, summary = timed(url, run, path)
                figures.setdefault(name, []).append(summary.rows / seconds)
                print(
                    f"round {round_}: {name:<20} {summary.rows} rows in {seconds:6.2f} s"
                    f" ({summary.rows / seconds:7.0f} rows/s): {summary.imported} imported,"
                    f" {summary.revised} revised, {summary.already_present} already present,"
                    f" {sum(summary.skipped.values())} skipped,"
                    f" {sum(summary.refused.values())} refused",
                    flush=True,
                )
    median = {name: statistics.median(values) for name, values in figures.items()}
    print(f"\nmedians of {args.rounds} round(s), {args.rows} rows:")
    for name, value in median.items():
        print(f"  {name:<20} {value:8.0f} rows/s")
    print(
        f"ratio acled/ucdp, first import: {median['acled first import'] / median['ucdp first import']:.2f}x"
    )
    print(
        f"ratio acled/ucdp, re-import:   {median['acled re-import'] / median['ucdp re-import']:.2f}x"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
