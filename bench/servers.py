"""Start and stop the servers a map benchmark compares, each on loopback.

- this service: ``uvicorn`` with N workers (the ``ceasefire serve`` command);
- pygeoapi (Flask app under gunicorn, N workers x 4 threads) and tipg (``uvicorn``,
  N workers), each from its own virtualenv outside the repository (``--peers-dir``),
  reading a view ``peers.incidents`` over the same incidents table, with the same limits
  (default 100, maximum 10,000 features).
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session

REPO = Path(__file__).resolve().parents[1]

# The same properties the service shows monitors, flat, for the peers to serve.
PEER_VIEW = """
CREATE SCHEMA IF NOT EXISTS peers;
DROP VIEW IF EXISTS peers.incidents;
CREATE VIEW peers.incidents AS
SELECT i.id, i.occurred_at, i.violation_type,
       i.province_pcode AS province, pa.name_en AS province_name,
       i.district_pcode AS district, da.name_en AS district_name,
       i.perpetrator_party_id AS perpetrator_party, i.target_party_id AS target_party,
       array_to_string(i.responsible_guarantors, ',') AS responsible_guarantors,
       i.ceasefire_status, i.status, i.time_precision, i.killed, i.injured,
       i.civilians_killed, i.report_count, i.place_name, i.location_match, i.geom
FROM incidents i
LEFT JOIN admin_areas pa ON pa.pcode = i.province_pcode
LEFT JOIN admin_areas da ON da.pcode = i.district_pcode
"""


def create_peer_view(session: Session) -> None:
    for statement in PEER_VIEW.split(";"):
        if statement.strip():
            session.execute(text(statement))
    session.commit()


@dataclass
class Server:
    name: str
    base: str
    command: list[str]
    env: dict[str, str]
    cwd: Path
    log: Path
    ready_path: str = "/"
    process: subprocess.Popen | None = field(default=None, repr=False)

    def start(self, timeout_s: float = 60) -> None:
        self.log.parent.mkdir(parents=True, exist_ok=True)
        out = self.log.open("wb")
        self.process = subprocess.Popen(  # noqa: S603 - our own command lines
            self.command,
            cwd=self.cwd,
            env={**os.environ, **self.env},
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"{self.name} exited early; see {self.log}")
            try:
                with urllib.request.urlopen(self.base + self.ready_path, timeout=2) as r:  # noqa: S310
                    if r.status == 200:
                        return
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                pass
            time.sleep(0.5)
        self.stop()
        raise RuntimeError(f"{self.name} did not become ready; see {self.log}")

    def stop(self) -> None:
        if self.process is None:
            return
        try:
            os.killpg(self.process.pid, signal.SIGTERM)
            self.process.wait(timeout=20)
        except (ProcessLookupError, subprocess.TimeoutExpired):
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, signal.SIGKILL)
        self.process = None

    def worker_rss_mb(self) -> list[float]:
        """Resident memory of each worker process (the children of the server's master)."""
        if self.process is None:
            return []
        return [
            rss
            for pid in _children(self.process.pid)
            if "resource_tracker" not in _cmdline(pid) and (rss := _rss_mb(pid)) is not None
        ] or [r for r in [_rss_mb(self.process.pid)] if r is not None]


def _children(pid: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        if ppid == pid:
            found.append(int(entry.name))
    return found


def _cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_text().replace("\0", " ")
    except OSError:
        return ""


def _rss_mb(pid: int) -> float | None:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        return None
    return None


def ours(
    *, name: str, database_url: str, port: int, workers: int, logs: Path, extra_env=None
) -> Server:
    return Server(
        name=name,
        base=f"http://127.0.0.1:{port}",
        command=[
            str(REPO / ".venv/bin/ceasefire"),
            "serve",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--workers",
            str(workers),
        ],
        env={
            "DATABASE_URL": database_url,
            "CEASEFIRE_LOG_LEVEL": "WARNING",
            # One key (and one address) drives the whole benchmark: no rate limits here.
            "CEASEFIRE_RATE_LIMIT_REQUESTS": "0",
            "CEASEFIRE_RATE_LIMIT_ANONYMOUS_REQUESTS": "0",
            **(extra_env or {}),
        },
        cwd=REPO,
        log=logs / f"{name}.log",
        ready_path="/healthz",
    )


def _pygeoapi_config(database_url: str, port: int) -> str:
    url = make_url(database_url)
    return f"""
server:
  bind: {{host: 127.0.0.1, port: {port}}}
  url: http://127.0.0.1:{port}
  mimetype: application/json; charset=UTF-8
  encoding: utf-8
  gzip: false
  languages: [en-US]
  pretty_print: false
  limits: {{default_items: 100, max_items: 10000}}
  map: {{url: "https://tile.openstreetmap.org/{{z}}/{{x}}/{{y}}.png", attribution: OSM}}
logging:
  level: ERROR
metadata:
  identification:
    title: {{en: bench}}
    description: {{en: bench}}
    keywords: {{en: [bench]}}
    keywords_type: theme
    terms_of_service: https://creativecommons.org/licenses/by/4.0/
    url: http://example.org
  license: {{name: CC-BY 4.0, url: "https://creativecommons.org/licenses/by/4.0/"}}
  provider: {{name: bench, url: "http://example.org"}}
  contact: {{name: bench, position: bench, address: x, city: x, stateorprovince: x,
            postalcode: x, country: x, phone: x, fax: x, email: x@example.org,
            url: "http://example.org", hours: x, instructions: x, role: pointOfContact}}
resources:
  incidents:
    type: collection
    title: incidents
    description: incidents
    keywords: [incidents]
    extents:
      spatial: {{bbox: [35.6, 32.3, 42.4, 37.4], crs: "http://www.opengis.net/def/crs/OGC/1.3/CRS84"}}
    providers:
      - type: feature
        name: PostgreSQL
        data: {{host: {url.host}, port: {url.port or 5432}, dbname: {url.database},
               user: {url.username}, password: "{url.password or ""}", search_path: [peers, public]}}
        id_field: id
        table: incidents
        geom_field: geom
        time_field: occurred_at
"""


def pygeoapi(*, peers_dir: Path, database_url: str, port: int, workers: int, logs: Path) -> Server:
    venv = peers_dir / "pygeoapi-venv" / "bin"
    work = peers_dir / "pygeoapi"
    work.mkdir(parents=True, exist_ok=True)
    config, openapi = work / "config.yml", work / "openapi.yml"
    config.write_text(_pygeoapi_config(database_url, port))
    env = {"PYGEOAPI_CONFIG": str(config), "PYGEOAPI_OPENAPI": str(openapi)}
    subprocess.run(  # noqa: S603
        [str(venv / "pygeoapi"), "openapi", "generate", str(config), "--output-file", str(openapi)],
        check=True,
        env={**os.environ, **env},
        capture_output=True,
    )
    return Server(
        name="pygeoapi",
        base=f"http://127.0.0.1:{port}",
        command=[
            str(venv / "gunicorn"),
            "--workers",
            str(workers),
            "--threads",
            "4",
            "--bind",
            f"127.0.0.1:{port}",
            "--log-level",
            "warning",
            "pygeoapi.flask_app:APP",
        ],
        env=env,
        cwd=work,
        log=logs / "pygeoapi.log",
        ready_path="/collections/incidents?f=json",
    )


def tipg(*, peers_dir: Path, database_url: str, port: int, workers: int, logs: Path) -> Server:
    venv = peers_dir / "tipg-venv" / "bin"
    return Server(
        name="tipg",
        base=f"http://127.0.0.1:{port}",
        command=[
            str(venv / "uvicorn"),
            "tipg.main:app",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--workers",
            str(workers),
            "--no-access-log",
            "--log-level",
            "warning",
        ],
        env={
            "DATABASE_URL": database_url,
            "TIPG_DB_SCHEMAS": '["peers"]',
            "TIPG_DB_TABLES": '["peers.incidents"]',
            "TIPG_TABLE_CONFIG__peers_incidents__PK": "id",
            "TIPG_TABLE_CONFIG__peers_incidents__DATETIMECOL": "occurred_at",
            "TIPG_DEFAULT_FEATURES_LIMIT": "100",
            "TIPG_MAX_FEATURES_PER_QUERY": "10000",
            "TIPG_DB_SPATIAL_EXTENT": "false",
            "TIPG_DB_DATETIME_EXTENT": "false",
        },
        cwd=peers_dir,
        log=logs / "tipg.log",
        ready_path="/collections/peers.incidents",
    )


def python_version(venv_bin: Path) -> str:
    out = subprocess.run(  # noqa: S603
        [str(venv_bin / "python"), "-c", "import sys; print(sys.version.split()[0])"],
        capture_output=True,
        text=True,
        check=False,
    )
    return out.stdout.strip() or sys.version.split()[0]
