"""Building digests: the theatre's calendar day, zero days, revisions, and figures that match
a direct SQL count."""

import datetime as dt

import orjson
import pytest
from sqlalchemy import text

from service.digest.service import build_days, get_revision, list_revisions, view
from service.errors import Invalid
from tests.incidents import (
    ALEPPO,
    DARAA,
    IDLEB,
    make_incidents,
    merge,
    report,
    set_status,
)


def build(db, day, last=None):
    return build_days(session=db, first=day, last=last or day)


def digest(db, day, province=None):
    return view(get_revision(session=db, day=day), province)


def province(doc, pcode):
    [entry] = [p for p in doc["by_province"] if p["pcode"] == pcode]
    return entry


def guarantor(doc, gid):
    [entry] = [g for g in doc["by_guarantor"] if g["guarantor"] == gid]
    return entry


def test_a_day_is_the_calendar_day_in_damascus_not_in_utc(db, submitter):
    make_incidents(
        db,
        submitter,
        report(at="2017-01-14T22:00:00Z"),  # 00:00 on the 15th in Damascus (UTC+2): in
        report(at="2017-01-15T21:30:00Z"),  # 23:30 on the 15th in Damascus: in
        report(at="2017-01-15T22:00:00Z"),  # 00:00 on the 16th: the next day
        report(at="2017-01-15T22:30:00Z"),  # 00:30 on the 16th, still the 15th in UTC
    )
    build(db, dt.date(2017, 1, 15), dt.date(2017, 1, 16))
    fifteenth, sixteenth = digest(db, dt.date(2017, 1, 15)), digest(db, dt.date(2017, 1, 16))
    assert fifteenth["timezone"] == "Asia/Damascus"
    assert fifteenth["window"] == {"start": "2017-01-14T22:00:00Z", "end": "2017-01-15T22:00:00Z"}
    assert fifteenth["totals"]["violations"] == 2
    assert sixteenth["totals"]["violations"] == 2


def test_a_day_with_a_dst_change_at_midnight_has_23_hours(db, submitter):
    # Damascus moved to UTC+3 at 00:00 on 31 March 2017: that local midnight never happened.
    make_incidents(
        db,
        submitter,
        report(at="2017-03-30T21:30:00Z"),  # 23:30 (+02) on the 30th
        report(at="2017-03-30T22:30:00Z"),  # 01:30 (+03) on the 31st
    )
    build(db, dt.date(2017, 3, 30), dt.date(2017, 3, 31))
    day = digest(db, dt.date(2017, 3, 31))
    start = dt.datetime.fromisoformat(day["window"]["start"])
    end = dt.datetime.fromisoformat(day["window"]["end"])
    assert end - start == dt.timedelta(hours=23)
    assert digest(db, dt.date(2017, 3, 30))["totals"]["violations"] == 1
    assert day["totals"]["violations"] == 1


def test_a_zero_day_says_so_and_lists_every_governorate(db, submitter):
    make_incidents(db, submitter, report(at="2017-02-02T10:00:00+02:00", target="ISIS"))
    build(db, dt.date(2017, 2, 2))
    doc = digest(db, dt.date(2017, 2, 2))
    assert doc["no_violations"] is True
    assert doc["summary"].startswith(
        "No ceasefire violations were recorded on 2017-02-02 (Asia/Damascus)."
    )
    assert "1 involving excluded groups" in doc["summary"]
    assert doc["totals"]["violations"] == 0 and doc["totals"]["excluded"] == 1
    areas = db.execute(text("SELECT pcode FROM admin_areas WHERE level = 1")).scalars().all()
    assert sorted(p["pcode"] for p in doc["by_province"]) == sorted(areas)
    assert all(p["violations"] == 0 for p in doc["by_province"])
    assert doc["hotspots"] == []
    assert {g["guarantor"] for g in doc["by_guarantor"]} == {"IRN", "RUS", "TUR", None}
    assert all(g["violations"] == 0 for g in doc["by_guarantor"])
    assert all(t["violations"] == 0 for t in doc["by_type"])


def test_a_late_report_makes_revision_2_and_revision_1_stays_as_it_was(db, submitter):
    day = dt.date(2017, 2, 10)
    make_incidents(db, submitter, report(at="2017-02-10T08:00:00+02:00"))
    [first] = build(db, day)
    assert (first.revision, first.created) == (1, True)
    revision_1 = get_revision(session=db, day=day, revision=1).body

    [again] = build(db, day)
    assert (again.revision, again.created) == (1, False)  # unchanged: nothing new

    make_incidents(db, submitter, report(at="2017-02-10T20:00:00+02:00", where=ALEPPO))
    [second] = build(db, day)
    assert (second.revision, second.created) == (2, True)
    assert second.changes["totals"]["violations"] == {"before": 1, "after": 2}
    assert second.changes["provinces"] == ["SY02"]
    assert "violations 1 -> 2" in second.changes["summary"]

    assert get_revision(session=db, day=day, revision=1).body == revision_1
    latest = digest(db, day)
    assert (latest["revision"], latest["totals"]["violations"]) == (2, 2)
    assert latest["changes"]["from_revision"] == 1
    assert [r["revision"] for r in list_revisions(session=db, day=day)] == [1, 2]


def test_a_verification_is_a_change(db, submitter):
    day = dt.date(2017, 2, 11)
    [incident] = make_incidents(db, submitter, report(at="2017-02-11T08:00:00+02:00"))
    build(db, day)
    set_status(db, [incident], "verified")
    [outcome] = build(db, day)
    assert outcome.created and outcome.changes["totals"]["verified"] == {"before": 0, "after": 1}


def test_rejected_and_merged_incidents_count_nowhere(db, submitter):
    day = dt.date(2017, 2, 12)
    kept, rejected, duplicate = make_incidents(
        db, submitter, *[report(at="2017-02-12T08:00:00+02:00")] * 3
    )
    set_status(db, [rejected], "rejected")
    merge(db, duplicate, into=kept)
    build(db, day)
    doc = digest(db, day)
    assert doc["totals"]["incidents"] == 1 and doc["totals"]["violations"] == 1
    assert province(doc, "SY07")["incidents"] == 1
    assert doc["running_total"]["incidents"] == 1
    assert sum(t["incidents"] for t in doc["by_type"]) == 1


def test_trailing_mean_days_since_verified_and_running_total(db, submitter):
    verified = make_incidents(
        db,
        submitter,
        report(at="2017-03-01T09:00:00+02:00"),
        report(at="2017-03-01T10:00:00+02:00"),
        report(at="2017-03-04T09:00:00+02:00", where=DARAA),
    )
    make_incidents(db, submitter, report(at="2017-03-08T09:00:00+02:00"))
    set_status(db, verified, "verified")
    build(db, dt.date(2017, 3, 8))
    doc = digest(db, dt.date(2017, 3, 8))
    # The 7 days before the 8th (1st..7th) hold 3 violations.
    assert doc["comparison"]["days"] == 7
    assert doc["comparison"]["mean"] == round(3 / 7, 2)
    assert doc["comparison"]["change"] == round(1 - 3 / 7, 2)
    assert doc["comparison"]["change_pct"] == round((1 - 3 / 7) / (3 / 7) * 100, 1)
    idleb = province(doc, "SY07")
    assert idleb["trailing_mean"] == round(2 / 7, 2)
    assert idleb["days_since_last_verified_violation"] == 7
    assert province(doc, "SY12")["days_since_last_verified_violation"] == 4
    assert province(doc, "SY01")["days_since_last_verified_violation"] is None
    assert doc["days_since_last_verified_violation"] == 4
    assert doc["running_total"]["since"] == "2016-12-30"
    assert doc["running_total"]["days"] == (dt.date(2017, 3, 8) - dt.date(2016, 12, 30)).days + 1
    assert doc["running_total"]["violations"] == 4
    assert doc["running_total"]["verified"] == 3


def test_compliance_is_the_share_of_days_without_verified_violations(db, submitter):
    # Near the ceasefire's start the window is clipped: 30 Dec .. 5 Jan is 7 days.
    ids = make_incidents(
        db,
        submitter,
        report(at="2017-01-02T09:00:00+02:00"),  # SAA: Russia and Iran answer
        report(at="2017-01-05T09:00:00+02:00"),
        report(at="2017-01-04T09:00:00+02:00"),  # stays unverified: does not count
        report(at="2017-01-05T11:00:00+02:00", perpetrator="Ahrar al-Sham", target="SAA"),
    )
    set_status(db, [ids[0], ids[1]], "verified")
    build(db, dt.date(2017, 1, 5))
    doc = digest(db, dt.date(2017, 1, 5))
    russia = guarantor(doc, "RUS")["compliance"]
    assert russia == {
        "window_days": 30,
        "days": 7,
        "violation_free_days": 5,
        "rate": round(5 / 7, 4),
        "violations": 3,
        "verified_violations": 2,
    }
    assert guarantor(doc, "IRN")["compliance"]["violation_free_days"] == 5
    turkey = guarantor(doc, "TUR")
    assert turkey["violations"] == 1 and turkey["compliance"]["rate"] == 1.0
    assert guarantor(doc, None)["compliance"] is None


def test_unattributed_violations_have_a_null_guarantor(db, submitter):
    make_incidents(db, submitter, report(at="2017-01-20T09:00:00+02:00", perpetrator="gunmen"))
    build(db, dt.date(2017, 1, 20))
    doc = digest(db, dt.date(2017, 1, 20))
    assert guarantor(doc, None)["violations"] == 1
    assert guarantor(doc, "RUS")["violations"] == 0
    [party] = doc["by_party"]
    assert party["party_id"] is None and party["violations"] == 1


def test_the_province_view_narrows_every_section(db, submitter):
    make_incidents(
        db,
        submitter,
        report(at="2017-04-02T09:00:00+03:00"),
        report(at="2017-04-02T10:00:00+03:00", where=ALEPPO, violation_type="airstrike"),
        report(at="2017-04-02T11:00:00+03:00", where=ALEPPO, perpetrator="Ahrar al-Sham"),
    )
    build(db, dt.date(2017, 4, 2))
    full = digest(db, dt.date(2017, 4, 2))
    aleppo = digest(db, dt.date(2017, 4, 2), "SY02")
    assert list(aleppo) == list(full)  # same document shape
    assert aleppo["province"] == {"pcode": "SY02", "name_en": "Aleppo"}
    assert aleppo["by_province"] == [province(full, "SY02")]
    assert aleppo["totals"]["violations"] == 2 and full["totals"]["violations"] == 3
    assert {h["province_pcode"] for h in aleppo["hotspots"]} == {"SY02"}
    assert guarantor(aleppo, "TUR")["violations"] == 1
    assert aleppo["running_total"]["violations"] == 2
    assert "in Aleppo" in aleppo["summary"]


def test_digest_figures_match_a_direct_sql_count(db, submitter):
    day = dt.date(2017, 5, 6)
    ids = make_incidents(
        db,
        submitter,
        report(at="2017-05-06T01:00:00+03:00"),
        report(at="2017-05-06T02:00:00+03:00", where=ALEPPO, violation_type="airstrike"),
        report(at="2017-05-06T03:00:00+03:00", where=DARAA, perpetrator="Ahrar al-Sham"),
        report(at="2017-05-06T04:00:00+03:00", where=DARAA, target="Islamic State"),
        report(at="2017-05-06T05:00:00+03:00", perpetrator="SDF", target="SAA"),
        report(at="2017-05-06T06:00:00+03:00", perpetrator="unknown"),
        report(at="2017-05-06T23:59:00+03:00", where=ALEPPO, violation_type="sniper"),
        report(at="2017-05-05T12:00:00+03:00"),
        report(at="2017-05-07T00:00:00+03:00"),
    )
    set_status(db, ids[:2], "verified")
    set_status(db, [ids[6]], "disputed")
    build(db, day)
    doc = digest(db, day)

    day_filter = (
        "CAST(occurred_at AT TIME ZONE 'Asia/Damascus' AS date) = :day"
        " AND status NOT IN ('rejected', 'merged')"
    )

    def count(condition="true"):
        return db.execute(
            text(f"SELECT count(*) FROM incidents WHERE {day_filter} AND {condition}"),
            {"day": day},
        ).scalar_one()

    assert doc["totals"] == {
        "incidents": count(),
        "violations": count("ceasefire_status = 'violation'"),
        "verified": count("ceasefire_status = 'violation' AND status = 'verified'"),
        "excluded": count("ceasefire_status = 'excluded'"),
        "not_party": count("ceasefire_status = 'not_party'"),
        **dict(
            zip(
                ("killed", "injured", "civilians_killed"),
                db.execute(
                    text(
                        "SELECT sum(killed), sum(injured), sum(civilians_killed) FROM incidents"
                        f" WHERE {day_filter}"
                    ),
                    {"day": day},
                ).one(),
                strict=True,
            )
        ),
    }
    by_province = dict(
        db.execute(
            text(
                "SELECT province_pcode, count(*) FROM incidents"
                f" WHERE {day_filter} AND ceasefire_status = 'violation' GROUP BY 1"
            ),
            {"day": day},
        ).all()
    )
    assert {p["pcode"]: p["violations"] for p in doc["by_province"] if p["violations"]} == (
        by_province
    )
    by_guarantor = dict(
        db.execute(
            text(
                "SELECT g, count(*) FROM incidents"
                " LEFT JOIN LATERAL unnest(responsible_guarantors) g ON true"
                f" WHERE {day_filter} AND ceasefire_status = 'violation' GROUP BY 1"
            ),
            {"day": day},
        ).all()
    )
    assert {g["guarantor"]: g["violations"] for g in doc["by_guarantor"] if g["violations"]} == (
        by_guarantor
    )
    by_type = dict(
        db.execute(
            text(f"SELECT violation_type, count(*) FROM incidents WHERE {day_filter} GROUP BY 1"),
            {"day": day},
        ).all()
    )
    assert {t["violation_type"]: t["incidents"] for t in doc["by_type"] if t["incidents"]} == (
        by_type
    )
    by_party = dict(
        db.execute(
            text(
                "SELECT perpetrator_party_id, count(*) FROM incidents"
                f" WHERE {day_filter} GROUP BY 1"
            ),
            {"day": day},
        ).all()
    )
    assert {p["party_id"]: p["incidents"] for p in doc["by_party"]} == by_party
    running = db.execute(
        text(
            "SELECT count(*) FROM incidents WHERE ceasefire_status = 'violation'"
            " AND status NOT IN ('rejected', 'merged')"
            " AND CAST(occurred_at AT TIME ZONE 'Asia/Damascus' AS date)"
            " BETWEEN '2016-12-30' AND :day"
        ),
        {"day": day},
    ).scalar_one()
    assert doc["running_total"]["violations"] == running


def test_a_document_is_stored_as_served(db, submitter):
    make_incidents(db, submitter, report(at="2017-02-20T09:00:00+02:00"))
    build(db, dt.date(2017, 2, 20))
    stored = get_revision(session=db, day=dt.date(2017, 2, 20))
    assert orjson.loads(stored.body) == view(stored, None)
    assert list(orjson.loads(stored.body))[:4] == ["date", "timezone", "revision", "generated_at"]


@pytest.mark.parametrize(
    ("first", "last", "message"),
    [
        (dt.date(2016, 12, 29), dt.date(2016, 12, 29), "before the ceasefire's first day"),
        (dt.date(2017, 1, 2), dt.date(2017, 1, 1), "is after"),
    ],
)
def test_days_outside_the_ceasefire_or_empty_ranges_are_refused(db, first, last, message):
    with pytest.raises(Invalid, match=message):
        build_days(session=db, first=first, last=last)


def test_a_day_that_has_not_ended_is_refused(db):
    today = db.execute(text("SELECT CAST(now() AT TIME ZONE 'Asia/Damascus' AS date)")).scalar_one()
    with pytest.raises(Invalid, match="has not ended yet"):
        build_days(session=db, first=today, last=today)


def test_idleb_coordinates_used_by_these_tests_are_where_they_say(db, submitter):
    ids = make_incidents(
        db,
        submitter,
        report(where=IDLEB),
        report(where=ALEPPO),
        report(where=DARAA),
    )
    provinces = db.execute(
        text("SELECT province_pcode FROM incidents WHERE id = ANY(:ids) ORDER BY province_pcode"),
        {"ids": ids},
    ).scalars()
    assert list(provinces) == ["SY02", "SY07", "SY12"]
