"""One filter builder over both event tables: the same EventFilters pick the same events
whether they are read as reports or as the incidents those reports opened."""

import datetime as dt

from sqlalchemy import select

from service.event.filters import BBox, EventFilters, conditions
from service.incident.models import Incident
from service.report.models import Report
from tests.incidents import ALEPPO, DARAA, IDLEB, make_incidents, report

REPORTS = Report.__table__
INCIDENTS = Incident.__table__


def _reports(db, submitter):
    """Reports days apart (no two corroborate: each opens an incident of its own, whose facts
    and figures are its report's)."""
    return make_incidents(
        db,
        submitter,
        report(at="2017-01-03T10:00:00+02:00", where=IDLEB),
        report(at="2017-01-10T23:30:00+02:00", where=ALEPPO, violation_type="airstrike"),
        report(at="2017-01-17T08:00:00+02:00", where=DARAA, perpetrator="Jaysh al-Islam"),
        report(at="2017-01-24T12:00:00+02:00", where=ALEPPO, target="Syrian Arab Army"),
        report(at="2017-02-02T06:15:00+02:00", where=IDLEB, violation_type="sniper"),
        report(at="2017-02-20T18:00:00+02:00", location=None, province="Daraa"),
        report(at="2016-12-20T12:00:00+02:00", where=IDLEB),  # before the ceasefire
    )


def test_the_same_filters_pick_the_same_events_in_reports_and_incidents(db, submitter):
    ids = set(_reports(db, submitter))
    party = db.execute(
        select(REPORTS.c.perpetrator_party_id).where(REPORTS.c.incident_id.in_(ids)).limit(1)
    ).scalar_one()
    guarantor = db.execute(
        select(REPORTS.c.responsible_guarantors)
        .where(REPORTS.c.incident_id.in_(ids), REPORTS.c.responsible_guarantors != [])
        .limit(1)
    ).scalar_one()[0]
    january = dt.datetime(2017, 1, 1, tzinfo=dt.UTC), dt.datetime(2017, 2, 1, tzinfo=dt.UTC)
    statuses = set(
        db.execute(select(REPORTS.c.ceasefire_status).where(REPORTS.c.incident_id.in_(ids)))
        .scalars()
        .all()
    )
    assert len(statuses) > 1, statuses
    cases = [
        EventFilters(provinces=("SY02",)),
        EventFilters(provinces=("SY07", "SY12")),
        EventFilters(violation_types=("airstrike", "sniper")),
        EventFilters(party=party),
        EventFilters(guarantor=guarantor),
        EventFilters(ceasefire_statuses=(min(statuses),)),
        EventFilters(since=january[0], until=january[1]),
        EventFilters(bbox=BBox(36.0, 35.5, 37.5, 36.5), until=january[1]),
        EventFilters(provinces=("SY12",), since=january[0]),
    ]
    picked = []
    alias = INCIDENTS.alias("i")  # an alias serves as the table does
    for filters in cases:
        as_reports = set(
            db.execute(
                select(REPORTS.c.incident_id).where(
                    REPORTS.c.incident_id.in_(ids), conditions(filters, REPORTS)
                )
            ).scalars()
        )
        as_incidents = set(
            db.execute(
                select(alias.c.id).where(alias.c.id.in_(ids), conditions(filters, alias))
            ).scalars()
        )
        assert as_reports == as_incidents, filters
        picked.append(len(as_incidents))
    # The cases narrow: each picks some of the events, none picks every one.
    assert all(0 < n < len(ids) for n in picked), picked
