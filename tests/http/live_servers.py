"""Real `ceasefire serve` processes for the tests that need several processes: a copy of the
test database (so their commits never reach the rolled-back test database), servers on
127.0.0.1 ports 8101-8109, and a client script run as separate OS processes."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from service.config import sqlalchemy_url

CLIENT_SCRIPT = Path(__file__).with_name("retry_client.py")
CEASEFIRE = Path(sys.executable).with_name("ceasefire")


def copy_database(source_url: str, suffix: str) -> str:
    """A fresh copy of ``source_url``'s database (migrated and seeded); returns its URL."""
    source = make_url(sqlalchemy_url(source_url))
    target = f"{source.database}_{suffix}"
    admin = create_engine(source.set(database="postgres"), isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            _drop(conn, target)
            # The template must have no other connection; idle pool connections close fast.
            for attempt in range(20):
                try:
                    conn.execute(text(f'CREATE DATABASE "{target}" TEMPLATE "{source.database}"'))
                    break
                except Exception:
                    if attempt == 19:
                        raise
                    time.sleep(0.25)
    finally:
        admin.dispose()
    return source_url.rsplit("/", 1)[0] + "/" + target


def drop_database(url: str) -> None:
    parsed = make_url(sqlalchemy_url(url))
    admin = create_engine(parsed.set(database="postgres"), isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            _drop(conn, parsed.database)
    finally:
        admin.dispose()


def _drop(conn, name: str) -> None:
    conn.execute(
        text(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
            " WHERE datname = :name AND pid <> pg_backend_pid()"
        ),
        {"name": name},
    )
    conn.execute(text(f'DROP DATABASE IF EXISTS "{name}"'))


@contextmanager
def serving(
    database_url: str, ports: list[int], log_dir: Path, env: dict[str, str]
) -> Iterator[list[str]]:
    """``ceasefire serve`` on each port (one process each); yields their base URLs."""
    processes: list[subprocess.Popen] = []
    urls = [f"http://127.0.0.1:{port}" for port in ports]
    try:
        for port in ports:
            log = open(log_dir / f"serve-{port}.log", "wb")  # noqa: SIM115 - closed with the process
            processes.append(
                subprocess.Popen(  # noqa: S603 - our own command, fixed arguments
                    [str(CEASEFIRE), "serve", "--host", "127.0.0.1", "--port", str(port)],
                    env={**os.environ, "DATABASE_URL": database_url, **env},
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    start_new_session=True,
                )
            )
            log.close()
        for url, process, port in zip(urls, processes, ports, strict=True):
            _wait_until_up(url, process, log_dir / f"serve-{port}.log")
        yield urls
    finally:
        for process in processes:
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        for process in processes:
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=5)


def _wait_until_up(url: str, process: subprocess.Popen, log: Path) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"server at {url} exited: {log.read_text()[-2000:]}")
        try:
            if httpx.get(f"{url}/healthz", timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    raise RuntimeError(f"server at {url} did not come up in 30 s: {log.read_text()[-2000:]}")


def start_clients(jobs: list[dict]) -> list[subprocess.Popen]:
    """One OS process per job, each running ``retry_client.py`` (see there for the job)."""
    processes = []
    for job in jobs:
        process = subprocess.Popen(  # noqa: S603 - our own script, fixed arguments
            [sys.executable, str(CLIENT_SCRIPT), json.dumps(job)],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        processes.append(process)
    return processes


def outcomes(processes: list[subprocess.Popen], timeout: float = 90) -> list[dict]:
    """Every request's outcome from every client process, bounded in time."""
    results = []
    for process in processes:
        out, err = process.communicate(timeout=timeout)  # also closes its pipes
        assert process.returncode == 0, err.decode()[-2000:]
        results += json.loads(out)
    return results
