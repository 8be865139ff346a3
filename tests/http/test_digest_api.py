"""The digest API: formats, revisions, conditional requests, the province filter, Atom.

These tests read the full view, with a monitor's key: the reports they make are unverified,
and the public view counts verified incidents only (since issue 9; the public view and its
suppression of small numbers are tested in tests/http/test_public_privacy.py).
"""

import csv
import datetime as dt
import io
import xml.etree.ElementTree as ET

import pytest

from service.config import get_settings
from service.digest.schemas import DigestRead
from service.digest.service import build_days
from tests.incidents import ALEPPO, make_incidents, report

DAY = dt.date(2017, 2, 10)
URL = "/v1/digests/daily/2017-02-10"
ATOM = "{http://www.w3.org/2005/Atom}"


def parse_feed(body: bytes) -> ET.Element:
    return ET.fromstring(body)  # noqa: S314 - the service's own output


@pytest.fixture
def client(client, make_key):
    """The service's client with a monitor's key on every request (the full view)."""
    _, secret = make_key("monitor")
    client.headers["Authorization"] = f"Bearer {secret}"
    return client


@pytest.fixture
def two_revisions(db, submitter):
    """The 10th built twice: a late report from Aleppo between the builds."""
    make_incidents(db, submitter, report(at="2017-02-10T08:00:00+02:00"))
    build_days(session=db, first=DAY, last=DAY)
    make_incidents(db, submitter, report(at="2017-02-10T21:00:00+02:00", where=ALEPPO))
    build_days(session=db, first=DAY, last=DAY)


def test_json_is_the_default_and_matches_the_schema(client, two_revisions):
    response = client.get(URL)
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    doc = response.json()
    DigestRead.model_validate(doc)
    assert (doc["date"], doc["revision"], doc["totals"]["violations"]) == ("2017-02-10", 2, 2)
    assert response.headers["x-digest-revision"] == "2"


def test_revision_1_is_still_served_byte_for_byte(client, db, submitter):
    make_incidents(db, submitter, report(at="2017-02-10T08:00:00+02:00"))
    build_days(session=db, first=DAY, last=DAY)
    before = client.get(f"{URL}/revisions/1")
    make_incidents(db, submitter, report(at="2017-02-10T21:00:00+02:00", where=ALEPPO))
    build_days(session=db, first=DAY, last=DAY)
    after = client.get(f"{URL}/revisions/1")
    assert after.content == before.content
    assert after.headers["etag"] == before.headers["etag"]
    assert "immutable" in after.headers["cache-control"]
    assert client.get(URL).json()["revision"] == 2


def test_revisions_are_listed_with_what_changed(client, two_revisions):
    revisions = client.get(f"{URL}/revisions").json()
    assert [r["revision"] for r in revisions] == [1, 2]
    assert revisions[0]["changes"] is None
    assert revisions[1]["changes"]["provinces"] == ["SY02"]
    assert revisions[1]["href"] == f"{URL}/revisions/2"
    assert client.get(revisions[1]["href"]).json()["revision"] == 2


@pytest.mark.parametrize(
    ("path", "status"),
    [
        (f"{URL}/revisions/3", 404),
        ("/v1/digests/daily/2017-02-11", 404),
        ("/v1/digests/daily/2017-02-30", 422),
        ("/v1/digests/daily/yesterday", 422),
        (f"{URL}/revisions/0", 422),
    ],
)
def test_missing_and_malformed(client, two_revisions, path, status):
    response = client.get(path)
    assert response.status_code == status
    assert response.headers["content-type"] == "application/problem+json"


def test_latest_is_the_most_recent_day(client, db, two_revisions, submitter):
    make_incidents(db, submitter, report(at="2017-02-12T08:00:00+02:00"))
    build_days(session=db, first=dt.date(2017, 2, 12), last=dt.date(2017, 2, 12))
    assert client.get("/v1/digests/daily/latest").json()["date"] == "2017-02-12"


def test_csv_by_query_or_accept(client, two_revisions):
    by_query = client.get(URL, params={"format": "csv"})
    by_accept = client.get(URL, headers={"Accept": "text/csv"})
    assert by_query.headers["content-type"] == "text/csv; charset=utf-8"
    assert by_query.content == by_accept.content
    rows = list(csv.DictReader(io.StringIO(by_query.text)))
    assert set(rows[0]) == {
        "date", "revision", "province", "section", "key", "label", "metric", "value"
    }  # fmt: skip
    figure = {(r["section"], r["key"], r["metric"]): r["value"] for r in rows}
    assert figure[("totals", "", "violations")] == "2"
    assert figure[("by_province", "SY02", "violations")] == "1"
    assert figure[("by_guarantor", "RUS", "compliance_rate")] == "1.0"
    assert figure[("by_guarantor", "", "violations")] == "0"
    assert 'filename="digest-2017-02-10-r2.csv"' in by_query.headers["content-disposition"]


def test_markdown_by_query_or_accept(client, two_revisions):
    by_query = client.get(URL, params={"format": "md"})
    by_accept = client.get(URL, headers={"Accept": "text/markdown"})
    assert by_query.headers["content-type"] == "text/markdown; charset=utf-8"
    assert by_query.content == by_accept.content
    text = by_query.text
    assert text.startswith("# Ceasefire compliance digest, 2017-02-10 (revision 2)")
    assert "## By governorate" in text and "| Aleppo | SY02 | 1 |" in text
    assert "## Changes since revision 1" in text


@pytest.mark.parametrize(
    ("accept", "expected"),
    [
        ("text/csv;q=0.5, text/markdown", "text/markdown; charset=utf-8"),
        ("text/html, */*;q=0.1", "application/json"),
        ("application/*", "application/json"),
        ("text/markdown;q=0, text/csv", "text/csv; charset=utf-8"),
    ],
)
def test_accept_is_negotiated_with_q_values(client, two_revisions, accept, expected):
    response = client.get(URL, headers={"Accept": accept})
    assert response.headers["content-type"] == expected


def test_an_unsupported_accept_is_406(client, two_revisions):
    response = client.get(URL, headers={"Accept": "application/xml"})
    assert response.status_code == 406
    assert response.headers["content-type"] == "application/problem+json"
    assert "text/csv" in response.json()["detail"]
    assert client.get(URL, params={"format": "xml"}).status_code == 400  # a bad query parameter


def test_etag_and_last_modified_give_304(client, two_revisions):
    for fmt in ("json", "csv", "md"):
        first = client.get(f"{URL}/revisions/1", params={"format": fmt})
        etag, modified = first.headers["etag"], first.headers["last-modified"]
        again = client.get(
            f"{URL}/revisions/1", params={"format": fmt}, headers={"If-None-Match": etag}
        )
        assert (again.status_code, again.content) == (304, b"")
        assert again.headers["etag"] == etag
        since = client.get(
            f"{URL}/revisions/1", params={"format": fmt}, headers={"If-Modified-Since": modified}
        )
        assert since.status_code == 304
    other = client.get(URL, headers={"If-None-Match": '"something-else"'})
    assert other.status_code == 200
    # CORS and gzip add Origin and Accept-Encoding to what the representation varies by.
    assert {"Accept", "Authorization"} <= {v.strip() for v in other.headers["vary"].split(",")}


def test_the_province_filter(client, two_revisions):
    full = client.get(URL).json()
    response = client.get(URL, params={"province": "Aleppo"})
    doc = response.json()
    DigestRead.model_validate(doc)
    assert doc["province"] == {"pcode": "SY02", "name_en": "Aleppo"}
    [aleppo] = [p for p in full["by_province"] if p["pcode"] == "SY02"]
    assert doc["by_province"] == [aleppo]
    assert doc["totals"]["violations"] == aleppo["violations"] == 1
    assert client.get(URL, params={"province": "SY02"}).content == response.content
    assert response.headers["etag"] != client.get(URL).headers["etag"]
    csv_rows = client.get(URL, params={"province": "SY02", "format": "csv"}).text
    assert all(line.split(",")[2] == "SY02" for line in csv_rows.splitlines()[1:])
    unknown = client.get(URL, params={"province": "Atlantis"})
    assert unknown.status_code == 400  # the province resolver's answer on every reader
    assert unknown.json()["errors"][0]["field"] == "query.province"


def test_a_restricting_setting_admits_monitors_only(client, two_revisions, make_key, monkeypatch):
    monkeypatch.setattr(get_settings(), "digests_public", False)
    del client.headers["Authorization"]
    _, reporter_secret = make_key("reporter")
    _, monitor_secret = make_key("monitor")
    assert client.get(URL).status_code == 401
    assert client.get("/v1/digests/feed.atom").status_code == 401
    denied = client.get(URL, headers={"Authorization": f"Bearer {reporter_secret}"})
    assert denied.status_code == 403
    allowed = client.get(URL, headers={"Authorization": f"Bearer {monitor_secret}"})
    assert allowed.status_code == 200
    assert allowed.headers["cache-control"].startswith("private")


def test_the_atom_feed_is_valid_atom(client, two_revisions):
    response = client.get("/v1/digests/feed.atom")
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/atom+xml"
    feed = parse_feed(response.content)
    assert feed.tag == f"{ATOM}feed"
    # RFC 4287 4.1.1: a feed has exactly one id, title and updated, and an author (here
    # at feed level, which covers every entry).
    for required in ("id", "title", "updated"):
        assert len(feed.findall(f"{ATOM}{required}")) == 1
    assert feed.find(f"{ATOM}author/{ATOM}name").text
    assert feed.find(f"{ATOM}link[@rel='self']").get("href").endswith("/v1/digests/feed.atom")
    entries = feed.findall(f"{ATOM}entry")
    assert len(entries) == 2
    ids = set()
    for entry in entries:
        for required in ("id", "title", "updated"):
            assert len(entry.findall(f"{ATOM}{required}")) == 1
        dt.datetime.fromisoformat(entry.find(f"{ATOM}updated").text)
        alternates = entry.findall(f"{ATOM}link[@rel='alternate']")
        assert {a.get("type") for a in alternates} == {
            "application/json",
            "text/markdown",
            "text/csv",
        }
        ids.add(entry.find(f"{ATOM}id").text)
        assert entry.find(f"{ATOM}summary").text
    assert len(ids) == 2 and all(i.startswith("tag:") for i in ids)
    newest = entries[0]
    assert newest.find(f"{ATOM}title").text == "Daily digest 2017-02-10, revision 2"
    assert "violations 1 -> 2" in newest.find(f"{ATOM}summary").text
    href = newest.find(f"{ATOM}link[@type='application/json']").get("href")
    assert client.get(href).json()["revision"] == 2
    etag = response.headers["etag"]
    assert client.get("/v1/digests/feed.atom", headers={"If-None-Match": etag}).status_code == 304


def test_the_province_feed_lists_revisions_that_changed_it(client, two_revisions):
    idleb = parse_feed(client.get("/v1/digests/feed.atom", params={"province": "SY07"}).content)
    aleppo = parse_feed(client.get("/v1/digests/feed.atom", params={"province": "SY02"}).content)
    assert len(idleb.findall(f"{ATOM}entry")) == 1  # revision 2 changed Aleppo only
    assert len(aleppo.findall(f"{ATOM}entry")) == 2
    link = aleppo.find(f"{ATOM}entry/{ATOM}link[@type='application/json']").get("href")
    assert link.endswith("?province=SY02")


def test_an_empty_feed_is_still_valid(client):
    feed = parse_feed(client.get("/v1/digests/feed.atom").content)
    assert feed.find(f"{ATOM}updated").text
    assert feed.findall(f"{ATOM}entry") == []
    assert client.get("/v1/digests/daily/latest").status_code == 404
