"""The scheduler's own housekeeping."""

from __future__ import annotations

from service.config import get_settings
from service.db import get_sessionmaker
from service.scheduler.service import purge_runs


def purge_job_runs() -> str:
    """Forget job runs older than the retention (the deliverer alone runs every few seconds)."""
    keep = get_settings().scheduler_keep_runs_days
    with get_sessionmaker()() as session:
        purged = purge_runs(session, keep_days=keep)
        session.commit()
    return f"{purged} run(s) older than {keep} days purged"
