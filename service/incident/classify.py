"""The commission's classification of an event: which guarantors answer, and whether it is a
ceasefire violation at all. Pure functions over the theatre's terms and the parties' standing.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from sqlalchemy import text
from sqlalchemy.orm import Session

from service.errors import Unavailable
from service.event.terms import CeasefireStatus
from service.party.service import PartyStanding


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


@dataclass(frozen=True)
class Classification:
    ceasefire_status: CeasefireStatus
    responsible_guarantors: tuple[str, ...]


def classify(
    *,
    occurred_at: dt.datetime,
    perpetrator: PartyStanding | None,
    target: PartyStanding | None,
    terms: Terms,
) -> Classification:
    """As defined in the theatre's terms:

    - ``outside_period``: before the ceasefire took effect, or after it ended;
    - ``excluded``: the perpetrator or the target is an excluded party on that date;
    - ``not_party``: the perpetrator is outside the agreement (and the target is not excluded);
    - ``violation``: everything else, including an unknown perpetrator (then unattributed).

    The responsible guarantors are those of the perpetrator on that date; none when the
    perpetrator is unknown, excluded or not a party.
    """
    perpetrator_coverage = perpetrator.ceasefire_coverage if perpetrator else None
    target_coverage = target.ceasefire_coverage if target else None
    answerable = perpetrator is not None and perpetrator_coverage == "covered"
    guarantors = perpetrator.guarantors if answerable and perpetrator else ()
    if not terms.in_force(occurred_at):
        status = CeasefireStatus.outside_period
    elif "excluded" in (perpetrator_coverage, target_coverage):
        status = CeasefireStatus.excluded
    elif perpetrator_coverage == "not_party":
        status = CeasefireStatus.not_party
    else:
        status = CeasefireStatus.violation
    return Classification(status, guarantors)
