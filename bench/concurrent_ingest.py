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
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

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
    for r in range(args.rounds):
        order = lanes if r % 2 == 0 else list(reversed(lanes))
        for name, checkout, url, figures in order:
            seed = 1000 * (r + 1)
            figures["one"].append(one_round(checkout, url, 1, args, seed))
            figures["many"].append(one_round(checkout, url, args.clients, args, seed + 100))
            print(
                f"  round {r + 1} {name}: 1 client {figures['one'][-1]:.0f} reports/s,"
                f" {args.clients} clients {figures['many'][-1]:.0f} reports/s",
                file=sys.stderr,
                flush=True,
            )
    print(
        f"{'':12} {'1 client r/s':>13} {f'{args.clients} clients r/s':>15} {'ratio':>7}"
        f"   (medians of {args.rounds} rounds, {args.reports} reports per client, batches of"
        f" {args.batch})"
    )
    for name, _, _, figures in lanes:
        one, many = statistics.median(figures["one"]), statistics.median(figures["many"])
        print(f"{name:12} {one:13.0f} {many:15.0f} {many / one:6.2f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
