"""One guarded run of a job: an advisory lock (try, never wait), a job_runs row, the job.

Two schedulers running at once (a deploy overlap) each try the job's lock; the loser logs
"lock held", records a skipped run and returns. The lock is a session-level advisory lock
on its own connection in autocommit mode: no transaction stays open while the job runs
(webhook deliveries make HTTP calls). If the process dies, PostgreSQL releases the lock.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from sqlalchemy import Engine, text

from service import locks
from service.db import get_engine
from service.scheduler.service import finish_run, record_skip, start_run

log = logging.getLogger("ceasefire.scheduler")

SKIPPED = "skipped"
SUCCEEDED = "succeeded"
FAILED = "failed"


def job_lock_key(job_id: str) -> tuple[int, int]:
    return locks.advisory_key(f"job:{job_id}")


def run_guarded(job_id: str, func: Callable[[], object], engine: Engine | None = None) -> str:
    """Run ``func`` unless another process is running ``job_id``; returns the outcome."""
    engine = engine or get_engine()
    namespace, key = job_lock_key(job_id)
    fields = {"job": job_id}
    with engine.connect() as conn:
        conn = conn.execution_options(isolation_level="AUTOCOMMIT")
        got = conn.execute(
            text("SELECT pg_try_advisory_lock(:ns, :key)"), {"ns": namespace, "key": key}
        ).scalar_one()
        if not got:
            log.info("lock held, skipped", extra={"fields": fields})
            record_skip(conn, job_id, "advisory lock held by another scheduler")
            return SKIPPED
        try:
            run_id = start_run(conn, job_id)
            try:
                result = func()
            except Exception as exc:
                log.exception("job failed", extra={"fields": fields})
                finish_run(conn, run_id, FAILED, f"{type(exc).__name__}: {exc}"[:2000])
                return FAILED
            detail = None if result is None else str(result)
            finish_run(conn, run_id, SUCCEEDED, detail)
            log.info("job succeeded", extra={"fields": {**fields, "detail": detail}})
            return SUCCEEDED
        finally:
            conn.execute(
                text("SELECT pg_advisory_unlock(:ns, :key)"), {"ns": namespace, "key": key}
            )
