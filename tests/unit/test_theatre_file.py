import datetime as dt
from pathlib import Path

import pytest

from service.config import DEFAULT_THEATRE_FILE
from service.theatre.service import TheatreFileError, read_theatre_file

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
