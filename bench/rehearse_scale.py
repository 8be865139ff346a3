"""The scale rehearsal (`make rehearse-scale`): the multi-node topology on this machine,
under the mixed load of ``bench/load.py``, beside one API process, then with faults.

Builds (``bench/scale/topology.sh``, Debian's packages, never the shared cluster on 5432):
a primary PostgreSQL (5440) and its streaming replica (5441), PgBouncer in transaction mode
(6440) in front of the primary, two API processes (8301, 8302; writes through PgBouncer,
public and monitor map reads on the replica) behind nginx (8300, caching public map
answers). The baseline is one API process (8310) straight to the primary.

Three runs of the same mix, each ``--duration`` seconds: the single process; the topology;
the topology while, one after the other, the replica is stopped and started again, the
primary crashes (``-m immediate``) and restarts, and one API process is killed (SIGKILL).
Prints them side by side, with ``acknowledged writes lost`` (every 201 against the rows
stored on the primary) and what was checked through PgBouncer; appends the table to
bench/results/scale.md. The topology is taken down at the end, also on failure or Ctrl-C.
Not part of the tests.

    .venv/bin/python -m bench.rehearse_scale [--duration 45] [--users 16] [--incidents 100000]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import datetime as dt
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import psycopg

from bench.load import CEASEFIRE, MIX, Stats, percentile, user

ROOT = Path(__file__).resolve().parents[1]
TOPOLOGY = ROOT / "bench" / "scale" / "topology.sh"
RESULTS = ROOT / "bench" / "results" / "scale.md"
PG_BIN = "/usr/lib/postgresql/15/bin"

PRIMARY = "postgresql://postgres@127.0.0.1:5440/ceasefire"
REPLICA = "postgresql://postgres@127.0.0.1:5441/ceasefire"
BOUNCER = "postgresql://postgres@127.0.0.1:6440/ceasefire"
NGINX_PORT, API_PORTS, SINGLE_PORT = 8300, (8301, 8302), 8310
PUBLIC_KINDS = ("items page (public)", "tile (public)", "digest feed (public)")
EVENTS = "events/ucdp_ged_syria_2016-01_2017-01.csv"


def say(message: str) -> None:
    print(f"[rehearse] {message}", flush=True)


def sh(*args: str) -> None:
    subprocess.run(args, check=True, cwd=ROOT)  # noqa: S603 - our own commands


def console(database_url: str, *args: str) -> str:
    done = subprocess.run(  # noqa: S603
        [CEASEFIRE, *args],
        env={**os.environ, "DATABASE_URL": database_url},
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode:
        raise RuntimeError(f"ceasefire {' '.join(args)} failed:\n{done.stderr[-2000:]}")
    return done.stdout


def pg_ctl(cluster: Path, *args: str) -> None:
    sh("runuser", "-u", "postgres", "--", f"{PG_BIN}/pg_ctl", "-D", str(cluster), *args)


@dataclass
class Api:
    """One `ceasefire serve` process (its own process group, so a kill takes it whole)."""

    port: int
    env: dict[str, str]
    log: Path
    process: subprocess.Popen | None = field(default=None, repr=False)

    def start(self) -> None:
        out = self.log.open("ab")
        self.process = subprocess.Popen(  # noqa: S603
            [CEASEFIRE, "serve", "--port", str(self.port), "--workers", "1"],
            env={**os.environ, **self.env},
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        for _ in range(300):
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(f"http://127.0.0.1:{self.port}/readyz", timeout=1).status_code == 200:
                    return
            if self.process.poll() is not None:
                raise RuntimeError(f"API on {self.port} exited; see {self.log}")
            time.sleep(0.2)
        raise RuntimeError(f"API on {self.port} not ready; see {self.log}")

    def kill(self, sig: int = signal.SIGKILL) -> None:
        if self.process is not None and self.process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, sig)
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.process.wait(timeout=20)
        self.process = None


def api_env(*, port: int, database_url: str, pooled: bool, replica: str | None) -> dict[str, str]:
    env = {
        "DATABASE_URL": database_url,
        "CEASEFIRE_DB_POOLED": "true" if pooled else "false",
        "CEASEFIRE_RATE_LIMIT_REQUESTS": "0",
        "CEASEFIRE_RATE_LIMIT_ANONYMOUS_REQUESTS": "0",
        "CEASEFIRE_RATE_LIMIT_NAMESPACE": "ceasefire-rehearsal",
        # Behind nginx every client has its address: no per-address bound in the API.
        "CEASEFIRE_MAX_CONCURRENT_PER_CLIENT": "0",
        "CEASEFIRE_LOG_LEVEL": "WARNING",
        "CEASEFIRE_PUBLIC_BASE_URL": f"http://127.0.0.1:{port}",
    }
    if replica:
        env["CEASEFIRE_REPLICA_URL"] = replica
    return env


# ---- data ----


def load_data(data_dir: Path, incidents: int) -> dict[str, str]:
    with psycopg.connect(PRIMARY.replace("/ceasefire", "/postgres"), autocommit=True) as conn:
        conn.execute("CREATE DATABASE ceasefire")
    started = time.monotonic()
    console(PRIMARY, "migrate")
    console(PRIMARY, "seed")
    console(PRIMARY, "import", "ucdp", str(data_dir / EVENTS), "--no-progress")
    console(PRIMARY, "digest", "backfill", "--from", "2016-12-30", "--to", "2017-01-31")
    sh(sys.executable, "-m", "bench.dataset", "--database-url", PRIMARY,
       "--incidents", str(incidents))  # fmt: skip
    with psycopg.connect(PRIMARY) as conn:
        count = conn.execute("SELECT count(*) FROM incidents").fetchone()[0]
    say(f"data set: {count} incidents in {time.monotonic() - started:.0f} s")
    return {
        role: console(PRIMARY, "keys", "create", "--role", role, "--name", f"rehearsal {role}")
        .strip()
        .splitlines()[-1]
        for role in ("reporter", "monitor")
    }


def wait_for_replica(timeout_s: float = 120) -> float:
    """Seconds until the replica has replayed everything the primary has written."""
    started = time.monotonic()
    with psycopg.connect(PRIMARY, autocommit=True) as primary:
        target = primary.execute("SELECT pg_current_wal_lsn()").fetchone()[0]
    while time.monotonic() - started < timeout_s:
        with (
            contextlib.suppress(psycopg.Error),
            psycopg.connect(REPLICA, autocommit=True, connect_timeout=2) as replica,
        ):
            done = replica.execute(
                "SELECT pg_last_wal_replay_lsn() >= %s::pg_lsn", (target,)
            ).fetchone()[0]
            if done:
                return time.monotonic() - started
        time.sleep(0.2)
    raise RuntimeError("the replica did not catch up")


# ---- what PgBouncer (transaction mode) keeps of PostgreSQL's session features ----


def pooler_checks() -> list[tuple[str, str]]:
    rows = []
    with (
        psycopg.connect(BOUNCER, autocommit=True) as a,
        psycopg.connect(BOUNCER, autocommit=True) as b,
    ):
        got_a = a.execute("SELECT pg_try_advisory_lock(7, 1)").fetchone()[0]
        got_b = b.execute("SELECT pg_try_advisory_lock(7, 1)").fetchone()[0]
        released = b.execute("SELECT pg_advisory_unlock(7, 1)").fetchone()[0]
        rows.append((
            "session advisory lock (scheduler's run_guarded)",
            f"client A took it: {got_a}; client B also took it: {got_b}; B could release"
            f" A's lock: {released} -> not a mutex: the scheduler connects directly",
        ))  # fmt: skip
        with a.transaction(), b.transaction():
            a.execute("SELECT pg_advisory_xact_lock(7, 2)")
            other = b.execute("SELECT pg_try_advisory_xact_lock(7, 2)").fetchone()[0]
        rows.append((
            "transaction advisory lock (digests, curation, import)",
            f"client B got it while A's transaction held it: {other}"
            f" -> {'works' if not other else 'BROKEN'}",
        ))  # fmt: skip
    outcome = "no error"
    try:
        with (
            psycopg.connect(BOUNCER, autocommit=True, prepare_threshold=0) as a,
            psycopg.connect(BOUNCER, autocommit=True, prepare_threshold=0) as b,
        ):
            for _ in range(3):
                a.execute("SELECT 1 + %s", (1,))
                b.execute("SELECT 1 + %s", (1,))
    except psycopg.Error as exc:
        outcome = f"{type(exc).__name__}: {str(exc).strip().splitlines()[0]}"
    rows.append(("psycopg auto-prepare through PgBouncer 1.18", outcome))
    with (
        psycopg.connect(BOUNCER, autocommit=True, prepare_threshold=None) as a,
        psycopg.connect(BOUNCER, autocommit=True, prepare_threshold=None) as b,
    ):
        for _ in range(10):
            a.execute("SELECT 1 + %s", (1,))
            b.execute("SELECT 1 + %s", (1,))
    rows.append(("the same with prepare_threshold=None (CEASEFIRE_DB_POOLED)", "no error"))
    try:
        with psycopg.connect(BOUNCER, options="-c statement_timeout=1000"):
            outcome = "accepted"
    except psycopg.Error as exc:
        outcome = f"refused: {str(exc).strip().splitlines()[-1]}"
    rows.append(("startup option statement_timeout", outcome))
    with psycopg.connect(BOUNCER) as conn:
        timeout = conn.execute("SHOW statement_timeout").fetchone()[0]
    rows.append(("statement_timeout through PgBouncer (its connect_query)", timeout))
    return rows


# ---- a run ----


@dataclass
class Run:
    name: str
    elapsed_s: float = 0.0
    stats: Stats = field(default_factory=Stats)
    transport_errors: int = 0
    lags_s: list[float] = field(default_factory=list)
    events: list[str] = field(default_factory=list)
    lost: int | None = None
    missing_on_replica: int | None = None

    def public(self) -> list[float]:
        return [v for kind in PUBLIC_KINDS for v in self.stats.latencies.get(kind, [])]

    def server_errors(self) -> int:
        return sum(n for c in self.stats.statuses.values() for s, n in c.items() if s >= 500)


async def _steady_user(base: str, keys: dict[str, str], run: Run, deadline: float, seed: int):
    """bench/load.py's user, started again after a dropped connection (a killed process)."""
    attempt = 0
    while time.monotonic() < deadline:
        try:
            await user(base, keys, run.stats, deadline, seed + 1000 * attempt)
        except (httpx.HTTPError, ValueError, KeyError):
            run.transport_errors += 1
            await asyncio.sleep(0.2)
        attempt += 1


def _sample_lag(run: Run, stop: threading.Event) -> None:
    conn = None
    while not stop.wait(0.25):
        try:
            if conn is None or conn.closed:
                conn = psycopg.connect(PRIMARY, autocommit=True, connect_timeout=1)
            row = conn.execute(
                "SELECT EXTRACT(epoch FROM replay_lag)::float8 FROM pg_stat_replication"
            ).fetchone()
            if row is not None:
                run.lags_s.append(row[0] or 0.0)
        except psycopg.Error:
            conn = None
    if conn is not None:
        conn.close()


def measure(
    run: Run,
    base: str,
    keys: dict[str, str],
    *,
    users: int,
    duration: float,
    lag: bool,
    faults: list[tuple[float, str, object]] = (),
) -> Run:
    stop = threading.Event()
    threads = []
    if lag:
        threads.append(threading.Thread(target=_sample_lag, args=(run, stop), daemon=True))
    started = time.monotonic()

    def inject() -> None:
        for at, what, action in faults:
            if stop.wait(max(0.0, started + at * duration - time.monotonic())):
                return
            began = time.monotonic() - started
            try:
                action()
                outcome = ""
            except Exception as exc:  # noqa: BLE001 - reported, the run goes on
                outcome = f" FAILED: {exc}"
            took = time.monotonic() - started - began
            run.events.append(f"at {began:.1f} s: {what} (took {took:.1f} s){outcome}")
            say(run.events[-1])

    if faults:
        threads.append(threading.Thread(target=inject, daemon=True))
    for thread in threads:
        thread.start()
    deadline = started + duration

    async def go() -> None:
        await asyncio.gather(
            *(_steady_user(base, keys, run, deadline, seed) for seed in range(users))
        )

    asyncio.run(go())
    run.elapsed_s = time.monotonic() - started
    stop.set()
    for thread in threads:
        thread.join(timeout=60)
    return run


def count_stored(url: str, ids: list[str]) -> int:
    with psycopg.connect(url) as conn:
        return conn.execute(
            "SELECT count(*) FROM reports WHERE id = ANY(%s::uuid[])", (ids,)
        ).fetchone()[0]


# ---- output ----


def _ms(values: list[float], q: float) -> str:
    return f"{percentile(values, q) * 1000:.0f}" if values else "-"


def table(runs: list[Run]) -> list[str]:
    def line(label: str, cells: list[str]) -> str:
        return f"| {label} | " + " | ".join(cells) + " |"

    lines = [
        line("", [r.name for r in runs]),
        "|---|" + "---:|" * len(runs),
        line("public reads/s", [f"{len(r.public()) / r.elapsed_s:.1f}" for r in runs]),
        line("public read p50 / p99 ms",
             [f"{_ms(r.public(), 50)} / {_ms(r.public(), 99)}" for r in runs]),
        line("report writes/s (acknowledged)",
             [f"{len(r.stats.acknowledged) / r.elapsed_s:.1f}" for r in runs]),
        line("report POST p99 ms",
             [_ms(r.stats.latencies.get("report POST", []), 99) for r in runs]),
        line("all requests/s",
             [f"{sum(map(len, r.stats.latencies.values())) / r.elapsed_s:.1f}" for r in runs]),
        line("replica lag p50 / p99 ms",
             [f"{statistics.median(r.lags_s) * 1000:.0f} / {_ms(r.lags_s, 99)}"
              if r.lags_s else "-" for r in runs]),
        line("5xx answers / dropped connections",
             [f"{r.server_errors()} / {r.transport_errors}" for r in runs]),
        line("acknowledged writes lost", [str(r.lost) for r in runs]),
        line("acknowledged, missing on the replica after catch-up",
             [str(r.missing_on_replica) if r.missing_on_replica is not None else "-"
              for r in runs]),
    ]  # fmt: skip
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=float, default=45.0, help="seconds per run")
    parser.add_argument("--users", type=int, default=16)
    parser.add_argument("--incidents", type=int, default=100_000, help="generated incidents")
    parser.add_argument("--dir", type=Path, default=None, help="default: a new temp dir")
    parser.add_argument("--output", type=Path, default=RESULTS)
    args = parser.parse_args()
    data_dir = Path(os.environ.get("CEASEFIRE_DATA_DIR") or ROOT.parent / "shared" / "data")
    scale_dir = args.dir or Path(tempfile.mkdtemp(prefix="ceasefire-scale-"))
    if args.dir and scale_dir.exists():
        sh("bash", str(TOPOLOGY), "down", str(scale_dir))
    logs = Path(tempfile.mkdtemp(prefix="ceasefire-scale-logs-"))

    def interrupted(signum, frame) -> None:  # noqa: ANN001
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, interrupted)
    began = time.monotonic()
    apis: list[Api] = []
    try:
        sh("bash", str(TOPOLOGY), "install")
        sh("bash", str(TOPOLOGY), "up", str(scale_dir))
        keys = load_data(data_dir, args.incidents)
        say(f"replica caught up in {wait_for_replica():.1f} s")
        checks = pooler_checks()
        for what, outcome in checks:
            say(f"{what}: {outcome}")

        single = Api(SINGLE_PORT, api_env(port=SINGLE_PORT, database_url=PRIMARY, pooled=False,
                                          replica=None), logs / "single.log")  # fmt: skip
        apis.append(single)
        single.start()
        say(f"run 1: one API process, {args.duration:.0f} s")
        runs = [measure(Run("one process"), f"http://127.0.0.1:{SINGLE_PORT}", keys,
                        users=args.users, duration=args.duration, lag=False)]  # fmt: skip
        single.kill(signal.SIGTERM)

        for port in API_PORTS:
            api = Api(port, api_env(port=NGINX_PORT, database_url=BOUNCER, pooled=True,
                                    replica=REPLICA), logs / f"api-{port}.log")  # fmt: skip
            apis.append(api)
            api.start()
        sh("bash", str(TOPOLOGY), "nginx", str(scale_dir), str(NGINX_PORT),
           *map(str, API_PORTS))  # fmt: skip
        base = f"http://127.0.0.1:{NGINX_PORT}"
        say(f"run 2: nginx + {len(API_PORTS)} API processes + PgBouncer + replica")
        runs.append(measure(Run(f"nginx + {len(API_PORTS)} APIs + replica"), base, keys,
                            users=args.users, duration=args.duration, lag=True))  # fmt: skip

        faults = [
            (0.10, "replica stopped", lambda: pg_ctl(scale_dir / "replica", "-m", "fast", "stop")),
            (0.25, "replica started again",
             lambda: pg_ctl(scale_dir / "replica", "-l", str(scale_dir / "replica.log"),
                            "-w", "start")),
            (0.45, "primary crashed (immediate) and restarted",
             lambda: (pg_ctl(scale_dir / "primary", "-m", "immediate", "stop"),
                      pg_ctl(scale_dir / "primary", "-l", str(scale_dir / "primary.log"),
                             "-w", "start"))),
            (0.70, f"API process {API_PORTS[1]} killed (SIGKILL)", apis[-1].kill),
        ]  # fmt: skip
        with psycopg.connect(PRIMARY, autocommit=True) as conn:
            # Crash recovery replays the WAL since the last checkpoint: the data load's
            # would make the restart last as long as the run.
            conn.execute("CHECKPOINT")
        say("run 3: the same, with faults")
        runs.append(measure(Run("the same, with faults"), base, keys, users=args.users,
                            duration=args.duration, lag=True, faults=faults))  # fmt: skip
        say(f"replica caught up in {wait_for_replica():.1f} s")
        for run in runs:
            run.lost = len(run.stats.acknowledged) - count_stored(PRIMARY, run.stats.acknowledged)
            if run.lags_s or run.events:
                run.missing_on_replica = len(run.stats.acknowledged) - count_stored(
                    REPLICA, run.stats.acknowledged
                )
        with httpx.Client(base_url=base) as http:
            first = http.get("/collections/incidents/items?limit=10")
            again = http.get("/collections/incidents/items?limit=10")
        cache = f"{first.headers.get('x-cache')} then {again.headers.get('x-cache')}"

        lines = table(runs)
        total = sum(len(r.stats.acknowledged) for r in runs)
        lost = sum(r.lost or 0 for r in runs)
        print()
        print("\n".join(lines))
        print()
        print("faults (run 3):")
        for event in runs[-1].events:
            print(f"  {event}")
        for run in runs:
            print(f"statuses, {run.name}:")
            for kind, statuses in run.stats.statuses.items():
                print(f"  {kind:28} {dict(sorted(statuses.items()))}")
        print(f"nginx cache on a repeated public page: {cache}")
        print(f"acknowledged writes lost: {lost} (of {total} acknowledged)")
        write_results(args, runs, lines, checks, cache, lost, total)
        say(f"done in {time.monotonic() - began:.0f} s")
        if lost or any(r.missing_on_replica for r in runs):
            sys.exit(1)
    finally:
        for api in apis:
            api.kill(signal.SIGTERM)
        subprocess.run(["bash", str(TOPOLOGY), "down", str(scale_dir)], check=False)  # noqa: S603, S607
        say(f"topology taken down; API logs in {logs}")


def write_results(args, runs, lines, checks, cache, lost, total) -> None:  # noqa: ANN001, PLR0913
    mix = ", ".join(f"{k} {v}%" for k, v in MIX.items())
    text = [
        f"\n## {dt.datetime.now(dt.UTC):%Y-%m-%d %H:%M} UTC: `make rehearse-scale`",
        "",
        f"{os.cpu_count()} cores (load average {os.getloadavg()[0]:.1f} at the end, shared"
        f" with other work), {args.users} users, {args.duration:.0f} s per run,"
        f" {args.incidents} generated incidents + the UCDP extract; mix: {mix}.",
        "",
        *lines,
        "",
        "Faults in the third run: " + "; ".join(e.strip() for e in runs[-1].events) + ".",
        "",
        "Answers by kind in the third run: "
        + "; ".join(
            f"{kind} {dict(sorted(statuses.items()))}"
            for kind, statuses in runs[-1].stats.statuses.items()
        )
        + ".",
        "",
        f"nginx cache on a repeated public page: {cache}.",
        f"**acknowledged writes lost: {lost}** (of {total} acknowledged).",
        "",
        "Through PgBouncer 1.18 (transaction mode):",
        "",
        "| check | outcome |",
        "|---|---|",
        *(f"| {what} | {outcome.replace('|', '/')} |" for what, outcome in checks),
        "",
    ]
    args.output.parent.mkdir(parents=True, exist_ok=True)
    if not args.output.exists():
        args.output.write_text(
            "# Scale rehearsal results\n\nAppended by `make rehearse-scale`"
            " (bench/rehearse_scale.py); see docs/scaling.md.\n"
        )
    with args.output.open("a") as out:
        out.write("\n".join(text))


if __name__ == "__main__":
    main()
