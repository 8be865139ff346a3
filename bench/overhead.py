"""What a map request pays before and after its own query: the small requests of issue 10.

One server process of this checkout (and, with ``--against CHECKOUT``, one of another
checkout beside it, on the same database) answers in turn, at concurrency 1 and a monitor
key: ``/healthz`` (no database), W7 (one incident by id, 50 fixed ids) and W1 (ten items).
Rounds alternate between the servers so that both see the same machine; each figure is the
median over every round's requests. The goals (issue 10: W7 <= 4 ms, W1 <= 5 ms p50) are
absolute and need a quiet machine; the ratios to ``/healthz`` and between the servers are
what a noisy one can still tell.

    python -m bench.overhead --database-url postgresql://postgres@127.0.0.1:5432/ceasefire_bench_1m
    python -m bench.overhead --database-url ... --against /path/to/other/checkout
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
from pathlib import Path

from bench import loadgen, servers
from bench.map import monitor_key

REPO = Path(__file__).resolve().parents[1]
WORKLOADS = ("healthz", "W7", "W1")


def _targets(ids: list[str]) -> dict[str, list[str]]:
    return {
        "healthz": ["/healthz"],
        "W7": [f"/collections/incidents/items/{i}" for i in ids],
        "W1": ["/collections/incidents/items?limit=10"],
    }


def _server(name: str, checkout: Path, database_url: str, port: int, logs: Path) -> servers.Server:
    server = servers.ours(name=name, database_url=database_url, port=port, workers=1, logs=logs)
    # ``python -m`` from the checkout's folder imports that checkout's ``service`` (the
    # current directory comes before the editable install's finder), with its own venv if
    # it has one.
    python = checkout / ".venv/bin/python"
    server.command[:1] = [str(python if python.exists() else sys.executable), "-m", "service.cli"]
    server.cwd = checkout
    return server


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database-url", required=True)
    parser.add_argument("--against", type=Path, help="another checkout, served beside this one")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--requests", type=int, default=200, help="per workload and round")
    parser.add_argument("--port", type=int, default=8411)
    args = parser.parse_args()

    secret, ids = monitor_key(args.database_url)
    headers = {"Authorization": f"Bearer {secret}"}
    targets = _targets([str(i) for i in ids])
    logs = Path(tempfile.mkdtemp(prefix="bench-overhead-"))
    checkouts = {"this": REPO}
    if args.against:
        checkouts["against"] = args.against.resolve()
    started = [
        _server(name, path, args.database_url, args.port + n, logs)
        for n, (name, path) in enumerate(checkouts.items())
    ]
    latencies: dict[tuple[str, str], list[float]] = {}
    try:
        for server in started:
            server.start()
            for workload in WORKLOADS:  # warm every connection and cache once
                loadgen.run(
                    server.base, targets[workload], concurrency=1, max_requests=50,
                    max_seconds=10, headers=headers,
                )  # fmt: skip
        for _ in range(args.rounds):
            for server in started:
                for workload in WORKLOADS:
                    result = loadgen.run(
                        server.base, targets[workload], concurrency=1,
                        max_requests=args.requests, max_seconds=30, headers=headers,
                    )  # fmt: skip
                    if result.errors:
                        raise SystemExit(f"{server.name} {workload}: errors {result.errors}")
                    latencies.setdefault((server.name, workload), []).extend(result.latencies_s)
    finally:
        for server in started:
            server.stop()

    print(f"{'':8} {'workload':8} {'n':>6} {'p50 ms':>8} {'p90 ms':>8} {'/healthz':>9}")
    for server in started:
        health = statistics.median(latencies[(server.name, "healthz")])
        for workload in WORKLOADS:
            values = sorted(latencies[(server.name, workload)])
            p50 = statistics.median(values)
            p90 = values[int(0.9 * (len(values) - 1))]
            print(
                f"{server.name:8} {workload:8} {len(values):6d} {p50 * 1000:8.2f}"
                f" {p90 * 1000:8.2f} {p50 / health:8.1f}x"
            )
    if args.against:
        for workload in WORKLOADS:
            ratio = statistics.median(latencies[("this", workload)]) / statistics.median(
                latencies[("against", workload)]
            )
            print(f"ratio this/against {workload}: {ratio:.2f}x")


if __name__ == "__main__":
    main()
