"""A real service for tests that need one: its own database (migrated and seeded), keys made
with the console command, and `ceasefire serve` as a separate process on a loopback port."""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import httpx
from sqlalchemy import Engine, create_engine, text
from sqlalchemy.engine import make_url

from service.config import sqlalchemy_url
from tests.conftest import TEST_DATABASE_URL, recreate_database

# The browser the browser tests drive (Debian's, installed by .ci/provision). `make test`
# sets CEASEFIRE_REQUIRE_BROWSER=1: there, and so in CI, a missing browser fails those tests
# instead of skipping them; a developer's machine without one skips them, saying why.
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
BROWSER_REQUIRED = os.environ.get("CEASEFIRE_REQUIRE_BROWSER") == "1"
NO_BROWSER = "chromium is not installed: `make provision` installs it (`make test` requires it)"

VENV_BIN = Path(sys.executable).parent
CEASEFIRE = str(VENV_BIN / "ceasefire")
RETRY_CLIENT = Path(__file__).resolve().parent / "http" / "retry_client.py"


def sibling_database_url(suffix: str) -> str:
    """A database named after the test database, so parallel checkouts never share one."""
    url = make_url(sqlalchemy_url(TEST_DATABASE_URL))
    return url.set(database=f"{url.database}_{suffix}").render_as_string(hide_password=False)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def console(database_url: str, *args: str, **env: str) -> str:
    """Run `ceasefire ARGS` against ``database_url``; its stdout, or an error with its stderr."""
    done = subprocess.run(  # noqa: S603
        [CEASEFIRE, *args],
        env={**os.environ, "DATABASE_URL": database_url, **env},
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    if done.returncode != 0:
        raise RuntimeError(f"ceasefire {' '.join(args)} failed: {done.stderr.strip()}")
    return done.stdout


def copy_database(source_url: str, suffix: str) -> str:
    """A fresh copy (CREATE DATABASE ... TEMPLATE) of a migrated, seeded database; its URL.

    The template must have no other connection: idle pool connections close fast, so retry.
    """
    source = make_url(sqlalchemy_url(source_url))
    target = f"{source.database}_{suffix}"
    drop_database(source.set(database=target).render_as_string(hide_password=False))
    admin = create_engine(source.set(database="postgres"), isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
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
    return source.set(database=target).render_as_string(hide_password=False)


@contextmanager
def copied_database(engine: Engine, suffix: str) -> Iterator[tuple[str, Engine]]:
    """A copy of the test database (``engine``'s, whose idle connections are closed first)
    and an engine on it, for committed transactions; dropped afterwards."""
    engine.dispose()  # the copy needs the template database to have no connections
    url = copy_database(TEST_DATABASE_URL, suffix)
    copy = create_engine(sqlalchemy_url(url))
    try:
        yield url, copy
    finally:
        copy.dispose()
        drop_database(url)


def wait_until_a_session_waits_for_a_lock(engine: Engine, what: str, timeout_s: float = 15) -> None:
    """Return once a session of ``engine``'s database waits for a lock (``what`` names the
    waiter in the failure)."""
    deadline = time.monotonic() + timeout_s
    query = text(
        "SELECT count(*) FROM pg_stat_activity"
        " WHERE datname = current_database() AND wait_event_type = 'Lock'"
    )
    while True:
        with engine.connect() as conn:
            if conn.execute(query).scalar_one():
                return
        assert time.monotonic() < deadline, f"{what} never waited for a lock"
        time.sleep(0.05)


def drop_database(url: str) -> None:
    parsed = make_url(sqlalchemy_url(url))
    admin = create_engine(parsed.set(database="postgres"), isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.execute(
                text(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                    " WHERE datname = :name AND pid <> pg_backend_pid()"
                ),
                {"name": parsed.database},
            )
            conn.execute(text(f'DROP DATABASE IF EXISTS "{parsed.database}"'))
    finally:
        admin.dispose()


def prepare_database(database_url: str) -> None:
    recreate_database(database_url)
    console(database_url, "migrate")
    console(database_url, "seed")


def create_key(database_url: str, role: str, name: str) -> str:
    """A new key's secret: the last line of `ceasefire keys create`."""
    return (
        console(database_url, "keys", "create", "--role", role, "--name", name)
        .strip()
        .splitlines()[-1]
    )


@dataclass
class LiveServer:
    database_url: str
    port: int = field(default_factory=free_port)
    workers: int = 2
    env: dict[str, str] = field(default_factory=dict)
    process: subprocess.Popen | None = None
    log_path: Path | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout_s: float = 60) -> None:
        """Start the server and wait until /healthz answers; a crash shows its log."""
        log = open(self.log_path, "ab") if self.log_path else subprocess.DEVNULL  # noqa: SIM115
        try:
            self.process = subprocess.Popen(  # noqa: S603
                [CEASEFIRE, "serve", "--port", str(self.port), "--workers", str(self.workers)],
                env={**os.environ, "DATABASE_URL": self.database_url, **self.env},
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # its own process group: kill() takes the workers too
            )
        finally:
            if log is not subprocess.DEVNULL:
                log.close()  # the child holds its own descriptor
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                log = self.log_path.read_text()[-2000:] if self.log_path else ""
                raise RuntimeError(f"server exited with {self.process.returncode}: {log}")
            try:
                if httpx.get(self.url + "/healthz", timeout=1).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        raise RuntimeError("server did not start in time")

    def kill(self) -> None:
        """SIGKILL the whole process group (master and workers), as a crash would."""
        if self.process is not None and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=10)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.kill()


@contextmanager
def serving(
    database_url: str, ports: list[int], log_dir: Path, env: dict[str, str]
) -> Iterator[list[str]]:
    """One single-worker `ceasefire serve` process on each port; yields their base URLs."""
    servers = [
        LiveServer(
            database_url, port=port, workers=1, env=env, log_path=log_dir / f"serve-{port}.log"
        )
        for port in ports
    ]
    try:
        for server in servers:
            server.start()
        yield [server.url for server in servers]
    finally:
        for server in servers:
            server.stop()


def start_clients(jobs: list[dict]) -> list[subprocess.Popen]:
    """One OS process per job, each running ``tests/http/retry_client.py`` (see there)."""
    return [
        subprocess.Popen(  # noqa: S603 - our own script, fixed arguments
            [sys.executable, str(RETRY_CLIENT), json.dumps(job)],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        for job in jobs
    ]


def outcomes(processes: list[subprocess.Popen], timeout: float = 90) -> list[dict]:
    """Every request's outcome from every client process, bounded in time."""
    results = []
    for process in processes:
        out, err = process.communicate(timeout=timeout)  # also closes its pipes
        assert process.returncode == 0, err.decode()[-2000:]
        results += json.loads(out)
    return results
