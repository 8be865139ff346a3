import datetime as dt
from pathlib import Path

import pytest

from service.config import DEFAULT_THEATRE_FILE
from service.theatre.service import TheatreFileError, read_theatre_file, to_toml

MINIMAL = """
[theatre]
id = "test"
name = "Test ceasefire"
timezone = "Asia/Damascus"
ceasefire_start = 2016-12-30T00:00:00+02:00

[[guarantors]]
id = "RUS"
name = "Russian Federation"

[[parties]]
id = "a"
name = "Party A"
side = "government"
aliases = ["Alpha"]
guarantors = [{ id = "RUS" }]
coverage = [{ coverage = "covered" }]
"""


def write(tmp_path: Path, body: str) -> Path:
    path = tmp_path / "theatre.toml"
    path.write_text(body)
    return path


def test_the_default_theatre_file_reads():
    theatre = read_theatre_file(DEFAULT_THEATRE_FILE)
    assert theatre.theatre.timezone == "Asia/Damascus"
    assert theatre.theatre.ceasefire_start == dt.datetime(2016, 12, 29, 22, 0, tzinfo=dt.UTC)
    assert {g.id for g in theatre.guarantors} == {"RUS", "TUR", "IRN"}
    zenki = next(p for p in theatre.parties if p.id == "nour-al-din-al-zenki")
    assert [c.coverage for c in zenki.coverage] == ["covered", "excluded"]


def test_minimal_file_reads(tmp_path):
    assert read_theatre_file(write(tmp_path, MINIMAL)).parties[0].aliases == ("Alpha",)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (('id = "RUS" }]', 'id = "XXX" }]'), "unknown guarantor XXX"),
        (("Asia/Damascus", "Mars/Olympus"), "unknown time zone"),
        (("2016-12-30T00:00:00+02:00", "2016-12-30T00:00:00"), "UTC offset"),
        (('coverage = "covered"', 'coverage = "maybe"'), "coverage"),
        (('aliases = ["Alpha"]', 'aliases = ["Alpha"]\ncolour = "red"'), "colour"),
    ],
)
def test_bad_files_are_refused_with_a_reason(tmp_path, change, message):
    with pytest.raises(TheatreFileError, match=message):
        read_theatre_file(write(tmp_path, MINIMAL.replace(*change)))


def test_an_alias_naming_two_parties_is_refused(tmp_path):
    body = (
        MINIMAL
        + """
[[parties]]
id = "b"
name = "Party B"
side = "other"
aliases = ["ALPHA!"]
coverage = [{ coverage = "not_party" }]
"""
    )
    with pytest.raises(TheatreFileError, match="names both a and b"):
        read_theatre_file(write(tmp_path, body))


def test_missing_file_is_refused(tmp_path):
    with pytest.raises(TheatreFileError, match="not found"):
        read_theatre_file(tmp_path / "nope.toml")


SECOND = """
[[parties]]
id = "b"
name = "Party B"
side = "opposition"
aliases = [{ alias = "Alpha Front", valid_from = 2018-01-01 }, "Beta"]
coverage = [{ coverage = "covered" }]
"""


def test_aliases_over_periods_and_coalitions_read_and_write_back(tmp_path):
    body = (
        MINIMAL.replace(
            'aliases = ["Alpha"]', 'aliases = ["Alpha", { alias = "AF", valid_to = 2017-12-31 }]'
        )
        + SECOND.replace('"Beta"]', '"Beta", { alias = "af", valid_from = 2018-01-01 }]')
        + '\n[[coalitions]]\nname = "Alpha and Beta Room"\nmembers = ["a", "b"]\n'
    )
    theatre = read_theatre_file(write(tmp_path, body))
    assert [s.alias for s in theatre.parties[1].alias_spans()] == [
        "Party B", "Alpha Front", "Beta", "af", "b",
    ]  # fmt: skip
    assert theatre.coalitions[0].members == ("a", "b")
    again = tmp_path / "again.toml"
    again.write_text(to_toml(theatre))
    assert read_theatre_file(again) == theatre


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        # "AF" names party a open-ended; b may not take it at any time.
        (SECOND.replace('"Beta"]', '"AF"]'), "alias 'AF' names both a and b"),
        (SECOND.replace('valid_from = 2018-01-01', 'valid_from = 2018-01-01, valid_to = 2017-01-01'), "ending before"),
        (SECOND + '\n[[coalitions]]\nname = "Room"\nmembers = ["a", "c"]\n', "unknown parties c"),
        (SECOND + '\n[[coalitions]]\nname = "Alpha"\nmembers = ["a", "b"]\n', "also a party's alias"),
        (SECOND + '\n[[coalitions]]\nname = "Room"\nmembers = ["a"]\n', "members"),
    ],
)  # fmt: skip
def test_bad_aliases_and_coalitions_are_refused(tmp_path, extra, message):
    body = MINIMAL.replace('aliases = ["Alpha"]', 'aliases = ["Alpha", "AF"]') + extra
    with pytest.raises(TheatreFileError, match=message):
        read_theatre_file(write(tmp_path, body))
