"""A real service for tests that need one: its own database (migrated and seeded), keys made
with the console command, and `ceasefire serve` as a separate process on a loopback port."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx
from sqlalchemy.engine import make_url

from service.config import sqlalchemy_url
from tests.conftest import TEST_DATABASE_URL, recreate_database

VENV_BIN = Path(sys.executable).parent
CEASEFIRE = str(VENV_BIN / "ceasefire")


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
                raise RuntimeError(f"server exited with {self.process.returncode}")
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
