"""The commission's classification of an event: which guarantors answer, and whether it is a
ceasefire violation at all. Pure functions over the theatre's terms and the parties' standing.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from service.event.terms import CeasefireStatus
from service.party.service import PartyStanding
from service.theatre.terms import Terms


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
