"""Job runs: recorded around every scheduled run, read back for /metrics, purged daily."""

from __future__ import annotations

import datetime as dt
import os
import socket

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import GaugeMetricFamily
from sqlalchemy import Connection, text
from sqlalchemy.orm import Session

RUNNER = f"{socket.gethostname()}:{os.getpid()}"


def start_run(conn: Connection, job_id: str) -> int:
    return conn.execute(
        text(
            "INSERT INTO job_runs (job_id, started_at, outcome, runner)"
            " VALUES (:job_id, clock_timestamp(), 'running', :runner) RETURNING id"
        ),
        {"job_id": job_id, "runner": RUNNER},
    ).scalar_one()


def finish_run(conn: Connection, run_id: int, outcome: str, detail: str | None) -> None:
    conn.execute(
        text(
            "UPDATE job_runs SET finished_at = clock_timestamp(), outcome = :outcome,"
            " detail = :detail WHERE id = :id"
        ),
        {"id": run_id, "outcome": outcome, "detail": detail},
    )


def record_skip(conn: Connection, job_id: str, detail: str) -> None:
    conn.execute(
        text(
            "INSERT INTO job_runs (job_id, started_at, finished_at, outcome, detail, runner)"
            " VALUES (:job_id, clock_timestamp(), clock_timestamp(), 'skipped', :detail,"
            " :runner)"
        ),
        {"job_id": job_id, "detail": detail, "runner": RUNNER},
    )


def last_successes(session: Session | Connection) -> dict[str, dt.datetime]:
    """When each job last finished successfully."""
    rows = session.execute(
        text(
            "SELECT job_id, max(finished_at) AS at FROM job_runs"
            " WHERE outcome = 'succeeded' GROUP BY job_id"
        )
    )
    return {row.job_id: row.at for row in rows}


def purge_runs(session: Session, *, keep_days: int) -> int:
    result = session.execute(
        text(
            "DELETE FROM job_runs WHERE started_at < now() - make_interval(days => :days)"
            " AND outcome <> 'running'"
        ),
        {"days": keep_days},
    )
    return result.rowcount


class _JobCollector:
    """Gauges read from the database at scrape time, so they are right whatever process
    (scheduler or any API worker) wrote the runs."""

    def __init__(self, session: Session) -> None:
        self.session = session

    def collect(self):  # noqa: ANN201 - prometheus_client's collector protocol
        last = GaugeMetricFamily(
            "ceasefire_job_last_success_timestamp_seconds",
            "When each scheduled job last finished successfully (Unix time)",
            labels=["job"],
        )
        for job_id, at in sorted(last_successes(self.session).items()):
            last.add_metric([job_id], at.timestamp())
        yield last
        pending = GaugeMetricFamily(
            "ceasefire_webhook_deliveries",
            "Webhook deliveries by status",
            labels=["status"],
        )
        rows = self.session.execute(
            text("SELECT status, count(*) AS n FROM deliveries GROUP BY status ORDER BY status")
        )
        for row in rows:
            pending.add_metric([row.status], row.n)
        yield pending


def job_metrics(session: Session) -> bytes:
    registry = CollectorRegistry(auto_describe=False)
    registry.register(_JobCollector(session))  # type: ignore[arg-type]
    return generate_latest(registry)
