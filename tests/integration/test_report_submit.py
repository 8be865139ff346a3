"""Submitting reports: located, attributed, classified, stored with an incident."""

import datetime as dt
import uuid

from sqlalchemy import text

from service.report.schemas import ReportCreate
from service.report.service import submit


def report(**fields):
    body = {
        "occurred_at": "2017-01-10T09:30:00+02:00",
        "location": {"type": "Point", "coordinates": [36.63, 35.93]},
        "violation_type": "shelling",
        "perpetrator": "Syrian Arab Army",
        "target": "Ahrar al-Sham",
        "casualties": {"killed": 3, "injured": 5, "civilians_killed": 1},
    }
    body.update(fields)
    return ReportCreate.model_validate({k: v for k, v in body.items() if v is not None})


def count(db, table):
    return db.execute(text(f"SELECT count(*) FROM {table}")).scalar_one()


def test_a_report_is_located_attributed_and_opens_an_incident(db, submitter):
    [outcome] = submit(session=db, submitter=submitter, reports_in=[report()])
    assert (outcome.status, outcome.created) == (201, True)
    r = outcome.report
    assert r["province"] == {"pcode": "SY07", "name_en": "Idleb"}
    assert r["district"]["pcode"].startswith("SY07")
    assert r["location_match"] == "inside"
    assert r["perpetrator"] == {
        "raw": "Syrian Arab Army",
        "party_id": "syrian-government-forces",
        "party_name": "Syrian government forces",
    }
    assert r["target"]["party_id"] == "ahrar-al-sham"
    assert r["responsible_guarantors"] == ["IRN", "RUS"]
    assert r["ceasefire_status"] == "violation"
    incident = db.execute(
        text("SELECT status, report_count, killed, province_pcode FROM incidents WHERE id = :id"),
        {"id": r["incident_id"]},
    ).one()
    assert tuple(incident) == ("unverified", 1, 3, "SY07")
    revisions = db.execute(
        text("SELECT revision FROM report_revisions WHERE report_id = :id"), {"id": r["id"]}
    ).scalars()
    assert list(revisions) == [1]
    audit = db.execute(
        text("SELECT action, actor FROM audit_events WHERE entity_id = :id"), {"id": str(r["id"])}
    ).one()
    assert tuple(audit) == ("report.created", "key:field reporter A")


def test_province_only(db, submitter):
    [o] = submit(
        session=db, submitter=submitter, reports_in=[report(location=None, province="Idlib")]
    )
    assert o.report["location_match"] == "province_only"
    assert o.report["location"] is None and o.report["district"] is None
    assert o.report["province"]["pcode"] == "SY07"


def test_a_contradicting_province_names_both(db, submitter):
    before = count(db, "reports")
    [o] = submit(session=db, submitter=submitter, reports_in=[report(province="Aleppo")])
    assert o.status == 422
    assert "Aleppo (SY02)" in o.error.detail and "Idleb (SY07)" in o.error.detail
    assert count(db, "reports") == before


def test_outside_the_area_and_in_the_future_are_refused(db, submitter):
    far = report(location={"type": "Point", "coordinates": [33.36, 35.17]})
    future = report(occurred_at=(dt.datetime.now(dt.UTC) + dt.timedelta(hours=1)).isoformat())
    ok = report()
    outcomes = submit(session=db, submitter=submitter, reports_in=[far, future, ok])
    assert [o.status for o in outcomes] == [422, 422, 201]
    assert "outside the area" in outcomes[0].error.detail
    assert "future" in outcomes[1].error.detail


def test_excluded_and_outside_period(db, submitter):
    excluded, before, nusra = submit(
        session=db,
        submitter=submitter,
        reports_in=[
            report(target="Jabhat al-Nusra"),
            report(occurred_at="2016-12-29T23:00:00+02:00"),
            report(perpetrator="Ahrar al-Sham, Jabhat Fateh al-Sham, Southern Front", target="SAA"),
        ],
    )
    assert excluded.report["ceasefire_status"] == "excluded"
    assert excluded.report["responsible_guarantors"] == ["IRN", "RUS"]
    assert before.report["ceasefire_status"] == "outside_period"
    assert nusra.report["perpetrator"]["party_id"] == "jabhat-fateh-al-sham"
    assert nusra.report["ceasefire_status"] == "excluded"


def test_zenki_depends_on_the_date_in_damascus(db, submitter):
    covered, excluded = submit(
        session=db,
        submitter=submitter,
        reports_in=[
            report(perpetrator="Zenki", target="SAA", occurred_at="2017-01-27T21:30:00+00:00"),
            # 21:30 UTC on the 27th is 23:30 in Damascus; 22:30 UTC is already the 28th there.
            report(perpetrator="Zenki", target="SAA", occurred_at="2017-01-27T22:30:00+00:00"),
        ],
    )
    assert (covered.report["ceasefire_status"], covered.report["responsible_guarantors"]) == (
        "violation",
        ["TUR"],
    )
    assert excluded.report["ceasefire_status"] == "excluded"


def test_unresolved_names_are_kept(db, submitter):
    [o] = submit(session=db, submitter=submitter, reports_in=[report(perpetrator="Fatah Halab")])
    assert o.report["perpetrator"] == {"raw": "Fatah Halab", "party_id": None, "party_name": None}
    assert o.report["ceasefire_status"] == "violation"
    assert o.report["responsible_guarantors"] == []


def test_civilians_are_never_the_perpetrator(db, submitter):
    [o] = submit(session=db, submitter=submitter, reports_in=[report(perpetrator="Civilians")])
    assert o.report["perpetrator"]["party_id"] is None


def test_client_report_id_replays_the_same_body_and_refuses_another(db, submitter):
    cid = str(uuid.uuid4())
    [first] = submit(session=db, submitter=submitter, reports_in=[report(client_report_id=cid)])
    [again] = submit(session=db, submitter=submitter, reports_in=[report(client_report_id=cid)])
    assert (again.status, again.created) == (201, False)
    assert again.report["id"] == first.report["id"]
    changed = report(
        client_report_id=cid, location={"type": "Point", "coordinates": [36.64, 35.93]}
    )
    [other] = submit(session=db, submitter=submitter, reports_in=[changed])
    assert other.status == 422 and str(first.report["id"]) in other.error.detail
    assert count(db, f"reports WHERE client_report_id = '{cid}'") == 1


def test_the_same_client_report_id_twice_in_one_batch_is_one_report(db, submitter):
    cid = str(uuid.uuid4())
    a, b = submit(session=db, submitter=submitter, reports_in=[report(client_report_id=cid)] * 2)
    assert a.report["id"] == b.report["id"] and (a.created, b.created) == (True, False)


def test_corroborating_report_joins_the_incident(db, submitter, make_key):
    from service.report.service import Submitter

    [first] = submit(session=db, submitter=submitter, reports_in=[report()])
    incident_id = first.report["incident_id"]
    second = report(
        incident_id=str(incident_id), casualties={"killed": 7, "injured": 0, "civilians_killed": 2}
    )
    other, _ = make_key("reporter")
    [o] = submit(
        session=db,
        submitter=Submitter(key_id=other.key_id, actor=other.actor),
        reports_in=[second],
    )
    assert o.report["incident_id"] == incident_id
    row = db.execute(
        text("SELECT report_count, killed, injured FROM incidents WHERE id = :id"),
        {"id": incident_id},
    ).one()
    # Two keys (3, 5) and (7, 0): the lower median of each figure, never the sum or the max.
    assert tuple(row) == (2, 3, 0)


def test_an_unknown_incident_is_refused(db, submitter):
    [o] = submit(
        session=db, submitter=submitter, reports_in=[report(incident_id=str(uuid.uuid4()))]
    )
    assert o.status == 422 and "no incident" in o.error.detail
