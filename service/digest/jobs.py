"""Scheduled work of the digest domain (registered in service/scheduler/registry.py)."""

from __future__ import annotations

import datetime as dt

from service.config import get_settings
from service.db import get_sessionmaker
from service.digest.service import BuildOutcome, build_days, buildable_days
from service.theatre.terms import load_terms, theatre_today


def _describe(outcomes: list[BuildOutcome]) -> str:
    new = [f"{o.day.isoformat()} r{o.revision}" for o in outcomes if o.created]
    return f"{len(outcomes)} day(s) built; new revisions: {', '.join(new) or 'none'}"


def build_yesterday() -> str:
    """Yesterday's digest, shortly after midnight in the theatre's time zone."""
    with get_sessionmaker()() as session:
        terms = load_terms(session)
        earliest, yesterday = buildable_days(terms, theatre_today(session, terms))
        if yesterday < earliest:
            return "the ceasefire's first day has not ended yet"
        outcomes = build_days(session=session, first=yesterday, last=yesterday)
        session.commit()
    return _describe(outcomes)


def rebuild_recent() -> str:
    """The last N days (ending yesterday), so late reports and verifications show up."""
    days = get_settings().digest_rebuild_days
    with get_sessionmaker()() as session:
        terms = load_terms(session)
        earliest, yesterday = buildable_days(terms, theatre_today(session, terms))
        first = max(yesterday - dt.timedelta(days=days - 1), earliest)
        if yesterday < first:
            return "the ceasefire's first day has not ended yet"
        outcomes = build_days(session=session, first=first, last=yesterday)
        session.commit()
    return _describe(outcomes)
