"""Reading ACLED rows as reports, without a database."""

import re
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from service.importer.acled import (
    SUB_EVENTS,
    acled_source,
    client_report_id,
    stored_version,
    to_report,
    violation_type,
)
from service.importer.rows import Mapped, Refusal, Skipped

DAMASCUS = ZoneInfo("Asia/Damascus")
README = Path(__file__).parent.parent.parent / "README.md"


def row(**fields):
    base = {
        "event_id_cnty": "SYR12345",
        "event_date": "2017-01-10",
        "time_precision": "1",
        "event_type": "Explosions/Remote violence",
        "sub_event_type": "Shelling/artillery/missile attack",
        "actor1": "Military Forces of Syria (2000-)",
        "assoc_actor_1": "",
        "actor2": "Civilians (Syria)",
        "assoc_actor_2": "",
        "admin1": "Homs",
        "admin2": "Ar-Rastan",
        "admin3": "Talbiseh",
        "location": "Talbiseh",
        "latitude": "34.8406",
        "longitude": "36.7300",
        "geo_precision": "1",
        "source": "SOHR; Step News Agency",
        "source_scale": "National",
        "notes": "Regime forces shelled Talbiseh; one man was killed.",
        "fatalities": "1",
        "timestamp": "1618317893",
        "iso": "760",
        "tags": "",
    }
    base.update(fields)
    return base


def mapped(**fields):
    result = to_report(row(**fields), timezone=DAMASCUS)
    assert isinstance(result, Mapped), result
    return result


def refused(**fields):
    result = to_report(row(**fields), timezone=DAMASCUS)
    assert isinstance(result, Refusal), result
    return result


def test_an_ordinary_row():
    result = mapped()
    report = result.report
    assert (result.source_id, result.version) == ("SYR12345", 1618317893)
    assert report.client_report_id == client_report_id("SYR12345")
    assert report.occurred_at.isoformat() == "2017-01-10T12:00:00+02:00"
    assert (report.time_precision, report.geo_precision) == ("day", "settlement")
    assert report.location.coordinates == [36.73, 34.8406] and report.province is None
    assert (report.violation_type, report.perpetrator, report.target) == (
        "shelling",
        "Military Forces of Syria (2000-)",
        "Civilians (Syria)",
    )
    assert (report.casualties.killed, report.casualties.civilians_killed) == (1, 0)
    assert report.place_name == "Talbiseh"
    assert [s.model_dump(exclude_none=True) for s in report.sources] == [
        {"kind": "media", "publisher": "SOHR"},
        {"kind": "media", "publisher": "Step News Agency"},
        {"kind": "monitor", "publisher": "ACLED SYR12345 (timestamp 1618317893)"},
    ]


@pytest.mark.parametrize(("code", "precision"), [("1", "day"), ("2", "week")])
def test_time_precision(code, precision):
    assert mapped(time_precision=code).report.time_precision == precision


def test_a_month_is_too_vague():
    refusal = refused(time_precision="3")
    assert (refusal.reason, refusal.detail) == (
        "date too vague",
        "time_precision 3: only the month",
    )
    assert refused(time_precision="0").reason == "unknown time_precision"


def test_geo_precision():
    assert mapped(geo_precision="2").report.geo_precision == "near"
    region = mapped(geo_precision="3").report
    assert (region.geo_precision, region.province, region.location) == ("province", "Homs", None)
    # A larger region needs no point: coordinates are not even read.
    assert mapped(geo_precision="3", latitude="").report.province == "Homs"
    assert refused(geo_precision="3", admin1="").reason == "place too vague"
    assert refused(geo_precision="4").reason == "unknown geo_precision"


@pytest.mark.parametrize("date", ["2017-01-10", "10 January 2017", "10-01-2017"])
def test_event_date_formats(date):
    assert mapped(event_date=date).report.occurred_at.date().isoformat() == "2017-01-10"


@pytest.mark.parametrize(
    ("fields", "reason"),
    [
        ({"event_date": "2017-02-30"}, "unreadable event_date"),
        ({"event_date": "01/10/2017"}, "unreadable event_date"),
        ({"latitude": ""}, "unreadable latitude"),
        ({"longitude": "nan"}, "unreadable longitude"),
        ({"timestamp": ""}, "unreadable timestamp"),
        ({"timestamp": "-5"}, "unreadable timestamp"),
        ({"fatalities": "many"}, "unreadable fatalities"),
        ({"fatalities": "-1"}, "invalid casualties.killed"),
        ({"latitude": "134.8"}, "invalid location.coordinates"),
        ({"event_id_cnty": ""}, "no ACLED id"),
        ({"event_id_cnty": "SYR 1; DROP"}, "no ACLED id"),
        ({"sub_event_type": "Drone swarm"}, "unknown event type"),
        ({"event_type": "Battles"}, "unknown event type"),  # shelling is not a battle
        ({"actor1": "x" * 301}, "invalid perpetrator"),
        ({"event_date": "2017-01-10\x00"}, "unreadable event_date"),
    ],
)
def test_malformed_rows_are_refused(fields, reason):
    assert refused(**fields).reason == reason


def test_blank_fatalities_are_none_killed():
    assert mapped(fatalities="").report.casualties.killed == 0


def test_violence_against_civilians_counts_civilians():
    report = mapped(
        event_type="Violence against civilians", sub_event_type="Attack", fatalities="3"
    )
    assert (report.report.casualties.killed, report.report.casualties.civilians_killed) == (3, 3)


def test_associated_actors_are_kept_in_the_description():
    report = mapped(assoc_actor_1="Hezbollah; Liwa Fatemiyoun", assoc_actor_2="Farmers (Syria)")
    assert report.report.description == (
        "Regime forces shelled Talbiseh; one man was killed."
        "\n\nAssociated with actor 1: Hezbollah; Liwa Fatemiyoun"
        "\n\nAssociated with actor 2: Farmers (Syria)"
    )
    assert report.report.perpetrator == "Military Forces of Syria (2000-)"


@pytest.mark.parametrize(
    ("event_type", "sub_event_type", "notes", "kind"),
    [
        ("Explosions/Remote violence", "Air/drone strike", "Jets struck the town", "airstrike"),
        ("Explosions/Remote violence", "Air/drone strike", "Barrel bombs fell", "barrel_bomb"),
        ("Explosions/Remote violence", "Shelling/artillery/missile attack", "Mortars", "shelling"),
        ("Explosions/Remote violence", "Shelling/artillery/missile attack", "Rockets", "missile"),
        ("Violence against civilians", "Attack", "A sniper shot a boy", "sniper"),
        ("Violence against civilians", "Attack", "Gunmen shot a man dead", "small_arms"),
        ("Violence against civilians", "Attack", "A man was stabbed", "other"),
        ("Protests", "Excessive force against protestors", "Live fire", "other"),
        ("STRATEGIC DEVELOPMENTS", "arrests", "", "detention"),
    ],
)
def test_violation_types(event_type, sub_event_type, notes, kind):
    assert violation_type(event_type, sub_event_type, notes) == kind


def test_events_that_are_not_violations_are_skipped():
    result = to_report(
        row(event_type="Protests", sub_event_type="Peaceful protest"), timezone=DAMASCUS
    )
    assert isinstance(result, Skipped)
    assert result.reason == "not a violation: Protests / Peaceful protest"


def test_every_sub_event_type_is_in_the_readme_table():
    readme = README.read_text(encoding="utf-8")
    section = readme.split("## Importing ACLED events", 1)[1].split("\n## ", 1)[0]
    table = {
        (m.group(1).casefold(), m.group(2).casefold()): m.group(3)
        for m in re.finditer(r"^\| (.+?) \| (.+?) \| `?([a-z_]+|skipped)`?", section, re.M)
    }
    for (event_type, sub_event_type), (kind, _) in SUB_EVENTS.items():
        assert table[(event_type, sub_event_type)] == (kind.value if kind else "skipped")


def test_the_stored_version_is_read_back():
    assert stored_version([{"kind": "media", "publisher": "SOHR"}, acled_source("SYR1", 42)]) == 42
    assert stored_version([{"kind": "media", "publisher": "ACLED SYR1 (timestamp 42)"}]) is None
    assert stored_version([]) is None
