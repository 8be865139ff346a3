"""Reading UCDP GED rows as reports, without a database."""

import datetime as dt
from zoneinfo import ZoneInfo

import pytest

from service.importer.ucdp import (
    Mapped,
    Refusal,
    client_report_hex,
    client_report_id,
    occurred,
    sources,
    to_report,
    violation_type,
)

DAMASCUS = ZoneInfo("Asia/Damascus")


def row(**fields):
    base = {
        "id": "214797",
        "date_start": "2017-01-10",
        "date_end": "2017-01-10",
        "date_prec": "1",
        "where_prec": "1",
        "where_coordinates": "Teir Maaleh village",
        "adm_1": "Homs Governorate",
        "latitude": "34.802462",
        "longitude": "36.707602",
        "side_a": "Government of Syria",
        "side_b": "Syrian insurgents",
        "best": "4",
        "deaths_civilians": "1",
        "source_office": "SOHR;Reuters News",
        "source_headline": "14 shells hit Dahya al-Assad",
    }
    base.update(fields)
    return base


def mapped(**fields):
    result = to_report(row(**fields), timezone=DAMASCUS)
    assert isinstance(result, Mapped), result
    return result.report


def refused(**fields):
    result = to_report(row(**fields), timezone=DAMASCUS)
    assert isinstance(result, Refusal), result
    return result


@pytest.mark.parametrize(
    ("headline", "kind"),
    [
        ("Aerial bombardment targets areas of Homs countryside", "airstrike"),
        ("Bombardment targets Idlib and Hama", "shelling"),
        ("14 shells hit Dahya al-Assad", "shelling"),
        ("Regime helicopters drop barrels on Daraya", "barrel_bomb"),
        ("Chlorine gas attack reported in Sarmin", "chemical"),
        ("Rockets fall on al-Hamdaniyah neighbourhood", "missile"),
        ("A child killed by sniper fire in Madaya", "sniper"),
        ("Car bomb explodes in Azaz", "ied"),
        ("Clashes continue around Ter Ma'la", "ground_assault"),
        ("A man shot dead by gunfire at a checkpoint", "small_arms"),
        ("Human losses in Shekh Meskin", "other"),
        ("", "other"),
        (None, "other"),
    ],
)
def test_violation_type_from_the_headline(headline, kind):
    assert violation_type(headline) == kind


def test_a_dated_event_is_at_noon_theatre_time_with_day_precision():
    at, precision = occurred(dt.date(2017, 1, 10), dt.date(2017, 1, 10), 1, DAMASCUS)
    assert at.isoformat() == "2017-01-10T12:00:00+02:00"
    assert precision == "day"
    summer, _ = occurred(dt.date(2016, 7, 1), dt.date(2016, 7, 1), 1, DAMASCUS)
    assert summer.utcoffset() == dt.timedelta(hours=3)


@pytest.mark.parametrize(("days", "prec"), [(0, 2), (1, 2), (6, 3)])
def test_up_to_seven_days_is_week_precision_from_the_first_day(days, prec):
    start = dt.date(2016, 3, 1)
    at, precision = occurred(start, start + dt.timedelta(days=days), prec, DAMASCUS)
    assert (at.date(), precision) == (start, "week")


def test_a_longer_range_or_a_backwards_one_is_refused():
    assert "within 8 days" in occurred(dt.date(2016, 3, 1), dt.date(2016, 3, 8), 4, DAMASCUS)
    assert "before" in occurred(dt.date(2016, 3, 2), dt.date(2016, 3, 1), 1, DAMASCUS)
    r = refused(date_start="2016-01-01", date_end="2016-12-31", date_prec="5")
    assert r.reason == "date too vague" and "366 days" in r.detail


def test_the_row_maps_to_a_report():
    report = mapped()
    assert report.location.coordinates == [36.707602, 34.802462]
    assert report.province is None  # the service places the point itself
    assert report.geo_precision == "settlement"
    assert report.place_name == "Teir Maaleh village"
    assert (report.perpetrator, report.target) == ("Government of Syria", "Syrian insurgents")
    assert report.casualties.model_dump() == {"killed": 4, "injured": 0, "civilians_killed": 1}
    assert report.violation_type == "shelling"
    assert report.description == "14 shells hit Dahya al-Assad"
    assert [s.model_dump(exclude_none=True) for s in report.sources] == [
        {"kind": "media", "publisher": "SOHR"},
        {"kind": "media", "publisher": "Reuters News"},
    ]
    assert report.client_report_id == client_report_id("214797")


@pytest.mark.parametrize(
    ("where_prec", "precision"), [("1", "settlement"), ("2", "near"), ("3", "district")]
)
def test_fine_places_keep_their_point(where_prec, precision):
    report = mapped(where_prec=where_prec)
    assert report.geo_precision == precision and report.location is not None


@pytest.mark.parametrize("where_prec", ["4", "5"])
def test_a_province_or_a_region_is_sent_as_the_province_without_the_centroid(where_prec):
    report = mapped(where_prec=where_prec, adm_1="Hamah Governorate")
    assert (report.location, report.province, report.geo_precision) == (
        None,
        "Hamah Governorate",
        "province",
    )


def test_a_province_precision_without_adm_1_keeps_the_point():
    report = mapped(where_prec="4", adm_1="")
    assert report.location is not None and report.geo_precision == "province"


@pytest.mark.parametrize("where_prec", ["6", "7"])
def test_country_or_sea_is_refused(where_prec):
    assert refused(where_prec=where_prec).reason == "place too vague"


def test_composite_actor_names_are_kept_as_written():
    report = mapped(side_a="Ahrar al-Sham, Jabhat Fateh al-Sham, Southern Front", side_b="")
    assert report.perpetrator == "Ahrar al-Sham, Jabhat Fateh al-Sham, Southern Front"
    assert report.target is None


def test_client_report_ids_are_stable_and_distinct():
    assert client_report_id("1") == client_report_id("1")
    assert client_report_id("1") != client_report_id("2")
    assert client_report_id("214797").version == 5


@pytest.mark.parametrize("ucdp_id", ["1", "214797", "10000000", "", "٣"])
def test_the_re_import_s_hex_id_is_the_client_report_id(ucdp_id):
    assert client_report_hex(ucdp_id) == client_report_id(ucdp_id).hex


@pytest.mark.parametrize(
    ("fields", "reason"),
    [
        ({"id": ""}, "no UCDP id"),
        ({"date_start": "2017-02-30"}, "unreadable date_start"),
        ({"latitude": "north"}, "unreadable latitude"),
        ({"longitude": "nan"}, "unreadable longitude"),
        ({"best": "2.5"}, "unreadable best"),
        ({"where_prec": "9"}, "unknown where_prec"),
        ({"best": "1", "deaths_civilians": "3"}, "invalid casualties"),
        ({"latitude": "134.8"}, "invalid location.coordinates"),
        ({"side_a": "x" * 301}, "invalid perpetrator"),
        ({"source_headline": "nul \x00 byte"}, "invalid description"),
    ],
)
def test_bad_rows_are_refused_with_a_countable_reason(fields, reason):
    r = refused(**fields)
    assert r.reason == reason
    assert r.detail


def test_sources_skip_empty_offices():
    assert sources(" SOHR ; ;Waha Report") == [
        {"kind": "media", "publisher": "SOHR"},
        {"kind": "media", "publisher": "Waha Report"},
    ]
    assert sources(None) == []
