"""The commission's classification rules, without a database."""

import datetime as dt
from zoneinfo import ZoneInfo

import pytest

from service.incident.classify import classify
from service.party.service import PartyStanding
from service.theatre.terms import Terms

DAMASCUS = ZoneInfo("Asia/Damascus")
TERMS = Terms(
    theatre_id="t",
    timezone=DAMASCUS,
    start_at=dt.datetime(2016, 12, 30, tzinfo=DAMASCUS),
    end_at=None,
)
DURING = dt.datetime(2017, 1, 10, 12, tzinfo=dt.UTC)


def party(coverage, guarantors=(), pid="p"):
    return PartyStanding(pid, pid, pid, DURING.date(), False, coverage, tuple(guarantors))


GOV = party("covered", ("IRN", "RUS"), "gov")
FSA = party("covered", ("TUR",), "fsa")
JFS = party("excluded", (), "jfs")
SDF = party("not_party", (), "sdf")


@pytest.mark.parametrize(
    ("perpetrator", "target", "status", "guarantors"),
    [
        (GOV, FSA, "violation", ("IRN", "RUS")),
        (FSA, GOV, "violation", ("TUR",)),
        (None, GOV, "violation", ()),  # unknown perpetrator: unattributed violation
        # Operations against an excluded party are no violation; the perpetrator still has its
        # guarantors (the field says who answers for the perpetrator, the status what it was).
        (GOV, JFS, "excluded", ("IRN", "RUS")),
        (JFS, GOV, "excluded", ()),
        (SDF, FSA, "not_party", ()),
        (SDF, JFS, "excluded", ()),
        (GOV, None, "violation", ("IRN", "RUS")),
    ],
)
def test_classification_during_the_ceasefire(perpetrator, target, status, guarantors):
    verdict = classify(occurred_at=DURING, perpetrator=perpetrator, target=target, terms=TERMS)
    assert (verdict.ceasefire_status, verdict.responsible_guarantors) == (status, guarantors)


def test_before_the_ceasefire_is_outside_the_period():
    # 23:59 Damascus time on 29 December is still before the ceasefire (UTC 21:59).
    just_before = dt.datetime(2016, 12, 29, 21, 59, tzinfo=dt.UTC)
    verdict = classify(occurred_at=just_before, perpetrator=GOV, target=FSA, terms=TERMS)
    assert verdict.ceasefire_status == "outside_period"
    at_start = dt.datetime(2016, 12, 29, 22, 0, tzinfo=dt.UTC)
    assert (
        classify(occurred_at=at_start, perpetrator=GOV, target=FSA, terms=TERMS).ceasefire_status
        == "violation"
    )


def test_after_an_agreed_end_is_outside_the_period():
    ended = Terms("t", DAMASCUS, TERMS.start_at, dt.datetime(2017, 1, 1, tzinfo=dt.UTC))
    verdict = classify(occurred_at=DURING, perpetrator=GOV, target=FSA, terms=ended)
    assert verdict.ceasefire_status == "outside_period"


def test_local_date_uses_the_theatre_clock():
    late_utc = dt.datetime(2017, 1, 27, 23, 30, tzinfo=dt.UTC)  # 01:30 on the 28th in Damascus
    assert TERMS.local_date(late_utc) == dt.date(2017, 1, 28)
