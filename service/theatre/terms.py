"""The theatre's terms and clock: the ceasefire's period, the theatre's time zone, and
today's date there, read from the loaded theatre."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from sqlalchemy import text
from sqlalchemy.orm import Session

from service.errors import Unavailable


@dataclass(frozen=True)
class Terms:
    """The ceasefire's period and the theatre's clock."""

    theatre_id: str
    timezone: ZoneInfo
    start_at: dt.datetime
    end_at: dt.datetime | None

    def local_date(self, at: dt.datetime) -> dt.date:
        return at.astimezone(self.timezone).date()

    def in_force(self, at: dt.datetime) -> bool:
        return at >= self.start_at and (self.end_at is None or at <= self.end_at)


def load_terms(session: Session) -> Terms:
    row = session.execute(
        text(
            "SELECT id, timezone, ceasefire_start_at, ceasefire_end_at FROM theatres"
            " ORDER BY id LIMIT 1"
        )
    ).first()
    if row is None:
        raise Unavailable("no theatre is loaded: run `ceasefire seed`")
    return Terms(row.id, ZoneInfo(row.timezone), row.ceasefire_start_at, row.ceasefire_end_at)


def theatre_today(session: Session, terms: Terms) -> dt.date:
    """Today in the theatre's time zone, by the database's clock (the one every row uses)."""
    return session.execute(
        text("SELECT CAST(now() AT TIME ZONE :tz AS date)"), {"tz": terms.timezone.key}
    ).scalar_one()
