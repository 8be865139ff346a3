"""Scheduled work for reports: plain functions with their own session, safe to run twice."""

from __future__ import annotations

import logging

from service.config import get_settings
from service.db import get_sessionmaker
from service.report.idempotency import purge_idempotency_keys

log = logging.getLogger(__name__)


def purge_expired_idempotency_keys() -> int:
    """Delete idempotency records past their retention (CEASEFIRE_IDEMPOTENCY_RETENTION_DAYS,
    at least 30 days by default); returns how many went."""
    days = get_settings().idempotency_retention_days
    with get_sessionmaker()() as session:
        purged = purge_idempotency_keys(session=session, older_than_days=days)
        session.commit()
    log.info("purged %d idempotency keys older than %d days", purged, days)
    return purged
