"""Scheduled work of the curation domain (registered in service/scheduler/registry.py)."""

from __future__ import annotations

from service.curation.service import describe, run_pending
from service.db import get_sessionmaker


def run_pending_jobs() -> str:
    """Re-attribute what pending curation acts affect, batch by batch (resumable)."""
    return describe(run_pending(get_sessionmaker()))
