"""Concurrent batch writers: do N clients together store more than one (issue 14)?

For this checkout and, with ``--against CHECKOUT``, another one (e.g. a read-only copy of
main, with its own ``.venv`` or a link to this one's), each on its own scratch database
(recreated, migrated by that checkout, seeded), rounds alternate between the checkouts:

- one client alone stores ``--reports`` reports in batches of ``--batch`` (``submit`` +
  commit, as the batch API does), in a process of its own;
- ``--clients`` clients (processes, each its own key and its own reports) store as many each,
  started together: their total reports/s is all they stored over the wall time from the
  start signal to the last one's end.

It prints, per checkout, the medians over ``--rounds`` of one client's reports/s and of the
N clients' total, and their ratio (the goal of issue 14: four clients >= 1.5x one), side by
side:

    .venv/bin/python -m bench.concurrent_ingest --against /work/tmp-rollups/main \\
        [--clients 4] [--reports 1000] [--rounds 3]

With ``--sql SECONDS`` it measures the database's write path alone instead (what the rollup
triggers and version rows cost writers at once, without the Python of ``submit``): each
client is a connection committing, for SECONDS, transactions of two statements on the same
three days, cells and provinces as its neighbours (an INSERT of 100 incidents, then an
UPDATE verifying a third of them), first alone and then ``--clients`` at once; it prints
transactions/s (medians of the rounds) and the ratio.
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path

import psycopg
from sqlalchemy.engine import make_url

from bench.ingest import DEFAULT_EVENTS
from service.config import get_settings

HERE = Path(__file__).resolve().parent.parent
WORKER = HERE / "bench" / "concurrent_ingest_worker.py"


def _worker(checkout: Path, url: str, *args: str) -> subprocess.Popen:
    return subprocess.Popen(  # noqa: S603 - our own worker, arguments we built
        [str(checkout / ".venv" / "bin" / "python"), str(WORKER), "--database-url", url, *args],
        cwd=checkout,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, "DATABASE_URL": url},
    )


def one_round(checkout: Path, url: str, clients: int, args: argparse.Namespace, seed: int) -> float:
    """Total reports/s of ``clients`` clients started together."""
    workers = [
        _worker(
            checkout,
            url,
            *("--reports", str(args.reports), "--batch", str(args.batch)),
            *("--seed", str(seed + k), "--events", str(args.events)),
        )
        for k in range(clients)
    ]
    for w in workers:
        if w.stdout.readline().strip() != "ready":  # type: ignore[union-attr]
            raise SystemExit(f"a client of {checkout} did not start")
    began = time.perf_counter()
    for w in workers:
        w.stdin.write("go\n")  # type: ignore[union-attr]
        w.stdin.flush()  # type: ignore[union-attr]
    stored = 0
    for w in workers:
        _, count = w.stdout.readline().split()  # type: ignore[union-attr]
        stored += int(count)
        w.stdin.close()  # type: ignore[union-attr]
        w.wait()
    return stored / (time.perf_counter() - began)


_SQL_INSERT = """
INSERT INTO incidents (id, occurred_at, province_pcode, location_match, violation_type,
                       ceasefire_status, geom, killed)
SELECT gen_random_uuid(),
       timestamptz '2017-03-01 08:00Z' + make_interval(days => %(day)s, mins => g),
       'SY0' || (2 + g %% 3), 'inside', (ARRAY['shelling', 'airstrike', 'other'])[1 + g %% 3],
       'violation', ST_SetSRID(ST_MakePoint(36.5 + (g %% 7) * 0.1, 35.8 + (g %% 5) * 0.1), 4326),
       g %% 3
FROM generate_series(1, 100) g
"""
# The rows this transaction inserted (created_at is the transaction's now()), a third of them.
_SQL_UPDATE = """
UPDATE incidents SET status = 'verified', killed = killed + 1
WHERE created_at = now() AND killed = 1
  AND occurred_at >= '2017-03-01' AND occurred_at < '2017-03-05'
"""


def sql_round(url: str, clients: int, seconds: float) -> float:
    """Transactions/s of ``clients`` connections committing the two statements at once."""
    dsn = make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)
    counts = [0] * clients
    errors: list[str] = []
    stop = time.perf_counter() + seconds

    def client(k: int) -> None:
        rng = random.Random(k)  # noqa: S311 - reproducible, not secret
        try:
            with psycopg.connect(dsn) as conn:
                while time.perf_counter() < stop:
                    with conn.transaction():
                        conn.execute(_SQL_INSERT, {"day": rng.randint(0, 2)})
                        conn.execute(_SQL_UPDATE)
                    counts[k] += 1
        except psycopg.Error as exc:
            errors.append(f"{type(exc).__name__}: {exc}")

    began = time.perf_counter()
    threads = [threading.Thread(target=client, args=(k,)) for k in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    if errors:
        raise SystemExit(f"{len(errors)} client(s) failed: {errors[0]}")
    return sum(counts) / (time.perf_counter() - began)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    default_url = os.environ.get("DATABASE_URL", get_settings().database_url)
    parser.add_argument("--database-url", default=default_url)
    parser.add_argument("--against", type=Path, default=None)
    parser.add_argument("--clients", type=int, default=4)
    parser.add_argument("--reports", type=int, default=1000, help="per client and round")
    parser.add_argument("--batch", type=int, default=500)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--events", type=Path, default=None)
    parser.add_argument("--sql", type=float, default=None, metavar="SECONDS")
    args = parser.parse_args(argv)
    args.events = args.events or get_settings().data_dir / DEFAULT_EVENTS
    base = make_url(args.database_url)
    checkouts = [("this", HERE, "a")]
    if args.against:
        checkouts.append((args.against.resolve().name, args.against.resolve(), "b"))
    lanes = []
    for name, checkout, suffix in checkouts:
        url = base.set(database=f"{base.database}_bench_concurrent_{suffix}")
        url = url.render_as_string(hide_password=False)
        if _worker(checkout, url, "--prepare").wait() != 0:
            raise SystemExit(f"could not prepare {url}")
        lanes.append((name, checkout, url, {"one": [], "many": []}))
    unit = "transactions/s" if args.sql else "reports/s"
    for r in range(args.rounds):
        order = lanes if r % 2 == 0 else list(reversed(lanes))
        for name, checkout, url, figures in order:
            seed = 1000 * (r + 1)
            if args.sql:
                figures["one"].append(sql_round(url, 1, args.sql))
                figures["many"].append(sql_round(url, args.clients, args.sql))
            else:
                figures["one"].append(one_round(checkout, url, 1, args, seed))
                figures["many"].append(one_round(checkout, url, args.clients, args, seed + 100))
            print(
                f"  round {r + 1} {name}: 1 client {figures['one'][-1]:.1f} {unit},"
                f" {args.clients} clients {figures['many'][-1]:.1f} {unit}",
                file=sys.stderr,
                flush=True,
            )
    what = (
        f"{args.sql:g} s per round, 100-incident INSERT + UPDATE per transaction"
        if args.sql
        else f"{args.reports} reports per client, batches of {args.batch}"
    )
    print(
        f"{'':12} {'1 client':>10} {f'{args.clients} clients':>11} {'ratio':>7}"
        f"   ({unit}, medians of {args.rounds} rounds, {what})"
    )
    for name, _, _, figures in lanes:
        one, many = statistics.median(figures["one"]), statistics.median(figures["many"])
        print(f"{name:12} {one:10.1f} {many:11.1f} {many / one:6.2f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
