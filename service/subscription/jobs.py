"""Scheduled work of the subscription domain (registered in service/scheduler/registry.py)."""

from __future__ import annotations

from service.config import get_settings
from service.db import get_sessionmaker
from service.subscription.delivery import deliver_due, make_client


def deliver_pending() -> str:
    """Send every due webhook delivery (new ones and retries)."""
    settings = get_settings()
    with get_sessionmaker()() as session, make_client(settings) as client:
        return str(deliver_due(session=session, client=client, settings=settings))
