"""Small numbers stay private, and public ETags move only when the public view moves.

The public (no key, or a reporter's key) sees digests of verified incidents only, with every
figure about fewer than ``public_min_count`` incidents suppressed and marked, and enough
others suppressed that totals cannot give one back. Monitors see everything.
"""

import csv
import datetime as dt
import io
import xml.etree.ElementTree as ET

import pytest

from service.config import get_settings
from service.digest.schemas import DigestRead
from service.digest.service import build_days
from tests.incidents import ALEPPO, IDLEB, make_incidents, report, set_status

DAY = dt.date(2016, 12, 30)
URL = "/v1/digests/daily/2016-12-30"
ATOM = "{http://www.w3.org/2005/Atom}"
MUHRADAH = [36.5477, 35.2900]  # district SY0505 of Hama (SY05)
HAMA = [36.7693, 35.2264]  # district SY0501 of Hama (SY05)
# Tables whose rows add up to the document's totals (incidents).
ADDITIVE = ("by_province", "by_party", "by_type")


def at(hour: int) -> str:
    return f"2016-12-30T{hour:02d}:00:00+02:00"


@pytest.fixture
def verifier(make_key):
    _, secret = make_key("verifier")
    return {"Authorization": f"Bearer {secret}"}


@pytest.fixture
def threshold(monkeypatch):
    """Set ``public_min_count`` for one test (the settings object is cached)."""

    def set_to(k: int) -> None:
        monkeypatch.setattr(get_settings(), "public_min_count", k)

    return set_to


def build(db) -> None:
    build_days(session=db, first=DAY, last=DAY)


def verified(db, submitter, *reports) -> list:
    ids = make_incidents(db, submitter, *reports)
    set_status(db, ids, "verified")
    return ids


# ---- a single unverified incident ----


@pytest.fixture
def lone_unverified(db, submitter):
    """The case of issue 9: one unverified incident in Hama on the ceasefire's first day."""
    make_incidents(
        db,
        submitter,
        report(
            at=at(10),
            where=MUHRADAH,
            perpetrator="Syrian Arab Army",
            casualties={"killed": 8642, "injured": 4, "civilians_killed": 9},
        ),
    )
    build(db)


def test_an_anonymous_digest_does_not_show_a_lone_unverified_incident(
    client, lone_unverified, monitor, reporter
):
    full = client.get(URL, params={"province": "SY05"}, headers=monitor).json()
    # The monitor sees it all, as before.
    assert [h["pcode"] for h in full["hotspots"]] == ["SY0505"]
    assert full["totals"]["killed"] == 8642
    [party] = [p for p in full["by_party"] if p["incidents"]]
    assert party["party_id"]

    _, reporter_secret = reporter
    for headers in ({}, {"Authorization": f"Bearer {reporter_secret}"}):
        response = client.get(URL, params={"province": "SY05"}, headers=headers)
        assert response.status_code == 200
        doc = response.json()
        DigestRead.model_validate(doc)
        assert doc["hotspots"] == []
        assert doc["by_party"] == []
        assert doc["totals"]["incidents"] == doc["totals"]["killed"] == 0
        assert doc["disclosure"]["view"] == "public"
        for leaked in ("SY0505", "Muhradah", party["party_id"], ":8642"):
            assert leaked not in response.text
        for fmt in ("csv", "md"):
            text = client.get(URL, params={"province": "SY05", "format": fmt}, headers=headers).text
            for leaked in ("SY0505", "Muhradah", party["party_id"], ",8642", " 8642 "):
                assert leaked not in text, (fmt, leaked)
    # The theatre-wide view neither; the monitor's Markdown and CSV do show it.
    theatre = client.get(URL).text
    assert "Muhradah" not in theatre and ":8642" not in theatre
    assert " 8642 " in client.get(URL, params={"format": "md"}, headers=monitor).text
    assert ",8642" in client.get(URL, params={"format": "csv"}, headers=monitor).text


# ---- suppression ----


@pytest.fixture
def small_cells(db, submitter):
    """Verified: 4 in Aleppo, 2 in Hama, 1 in Idleb; and 3 unverified in Aleppo."""
    verified(db, submitter, *(report(at=at(h), where=ALEPPO) for h in (8, 9, 10, 11)))
    verified(db, submitter, *(report(at=at(h), where=HAMA) for h in (8, 9)))
    verified(db, submitter, report(at=at(8), where=IDLEB))
    make_incidents(db, submitter, *(report(at=at(h), where=ALEPPO) for h in (13, 14, 15)))
    build(db)


def province(doc, pcode):
    return next(p for p in doc["by_province"] if p["pcode"] == pcode)


def test_small_cells_are_suppressed_and_marked(client, small_cells, monitor):
    doc = client.get(URL).json()
    DigestRead.model_validate(doc)
    assert doc["totals"]["incidents"] == 7  # verified only: the 3 unverified are not counted
    assert doc["disclosure"]["threshold"] == 3
    assert province(doc, "SY02")["incidents"] == 4 and not province(doc, "SY02")["suppressed"]
    for pcode in ("SY05", "SY07"):
        row = province(doc, pcode)
        assert row["suppressed"] is True
        assert row["incidents"] is None and row["killed"] is None  # never a silent zero
    assert province(doc, "SY01") == {**province(doc, "SY01"), "incidents": 0, "suppressed": False}
    assert doc["disclosure"]["suppressed_cells"] >= 2
    # The monitor's view is the full one, unsuppressed, with no disclosure note.
    full = client.get(URL, headers=monitor).json()
    assert full["totals"]["incidents"] == 10
    assert province(full, "SY07")["incidents"] == 1 and "disclosure" not in full


def test_the_threshold_is_configurable(client, small_cells, threshold):
    threshold(2)
    doc = client.get(URL).json()
    # Idleb (1) is below 2; alone it could be worked out from the total, so the smallest
    # other row (Hama, 2) is suppressed with it.
    assert province(doc, "SY07")["suppressed"] and province(doc, "SY05")["suppressed"]
    assert not province(doc, "SY02")["suppressed"]
    assert doc["disclosure"]["threshold"] == 2
    threshold(1)
    doc = client.get(URL).json()
    assert province(doc, "SY07")["incidents"] == 1 and not province(doc, "SY07")["suppressed"]
    assert doc["disclosure"]["suppressed_cells"] == 0


def assert_nothing_can_be_worked_out(doc, k):
    """No published figure counts 1..k-1 incidents, and in every additive table the
    suppressed rows together count 0 or at least k (total minus published rows)."""
    totals = doc["totals"]
    if totals["suppressed"]:
        for table in ADDITIVE:
            assert all(r["incidents"] in (None, 0) for r in doc[table]), table
        return
    for table in ADDITIVE:
        published = [r["incidents"] for r in doc[table] if not r["suppressed"]]
        assert not any(0 < n < k for n in published), (table, published)
        hidden = totals["incidents"] - sum(published)
        if table != "by_province" or doc["province"] is None:
            assert hidden == 0 or hidden >= k, (table, hidden)
    for h in doc["hotspots"]:
        assert h["incidents"] >= k


@pytest.mark.parametrize("k", [2, 3, 5])
def test_totals_do_not_give_back_a_suppressed_cell(client, small_cells, threshold, k):
    threshold(k)
    for params in ({}, {"province": "SY02"}, {"province": "SY05"}, {"province": "SY07"}):
        assert_nothing_can_be_worked_out(client.get(URL, params=params).json(), k)


def test_a_governorate_suppressed_in_the_theatre_table_is_withheld_in_its_own_view(
    client, db, submitter
):
    """One verified incident in Idleb, five in Aleppo: Idleb is suppressed; so is Aleppo
    (else 6 - 5 gives Idleb back), and so is Aleppo's own view (which would say 5)."""
    verified(db, submitter, report(at=at(8), where=IDLEB))
    verified(db, submitter, *(report(at=at(h), where=ALEPPO) for h in (8, 9, 10, 11, 12)))
    build(db)
    doc = client.get(URL).json()
    assert doc["totals"]["incidents"] == 6
    assert province(doc, "SY07")["suppressed"] and province(doc, "SY02")["suppressed"]
    aleppo = client.get(URL, params={"province": "SY02"}).json()
    assert aleppo["totals"]["suppressed"] is True and aleppo["totals"]["incidents"] is None
    assert aleppo["no_violations"] is None
    assert "withheld" in aleppo["summary"]
    assert all(p["suppressed"] for p in aleppo["by_party"])


def test_csv_and_markdown_mark_suppressed_figures(client, small_cells):
    rows = list(csv.DictReader(io.StringIO(client.get(URL, params={"format": "csv"}).text)))
    figure = {(r["section"], r["key"], r["metric"]): r["value"] for r in rows}
    assert figure[("by_province", "SY07", "suppressed")] == "true"
    assert figure[("by_province", "SY07", "incidents")] == ""
    assert figure[("by_province", "SY02", "incidents")] == "4"
    assert figure[("disclosure", "", "threshold")] == "3"
    markdown = client.get(URL, params={"format": "md"}).text
    assert "| Idleb | SY07 | suppressed | suppressed |" in markdown
    assert "Public view: verified incidents only" in markdown


# ---- revisions and the feed ----


def test_unverified_reports_make_no_public_revision(client, db, submitter, small_cells, monitor):
    """A late unverified report makes revision 2 of the full digest; the public view, whose
    figures did not move, has still one revision: neither its numbering, its Last-Modified
    nor its feed tells that a report arrived."""
    before = client.get(URL)
    feed_before = client.get("/v1/digests/feed.atom")
    make_incidents(db, submitter, report(at=at(20), where=IDLEB))
    build(db)
    assert client.get(URL, headers=monitor).json()["revision"] == 2
    after = client.get(URL)
    assert after.content == before.content and after.headers["etag"] == before.headers["etag"]
    assert after.headers["x-digest-revision"] == "1"
    assert after.headers["last-modified"] == before.headers["last-modified"]
    assert [r["revision"] for r in client.get(f"{URL}/revisions").json()] == [1]
    assert client.get(f"{URL}/revisions/2").status_code == 404
    feed_after = client.get("/v1/digests/feed.atom")
    assert feed_after.content == feed_before.content
    assert feed_after.headers["etag"] == feed_before.headers["etag"]
    monitor_feed = ET.fromstring(client.get("/v1/digests/feed.atom", headers=monitor).content)  # noqa: S314
    assert len(monitor_feed.findall(f"{ATOM}entry")) == 2


def test_a_verification_makes_a_public_revision_without_small_changes(
    client, db, submitter, small_cells
):
    [idleb] = make_incidents(db, submitter, report(at=at(21), where=IDLEB))
    build(db)
    set_status(db, [idleb], "verified")
    build(db)
    doc = client.get(URL).json()
    assert doc["revision"] == 2
    assert doc["totals"]["incidents"] == 8
    # Idleb went from 1 to 2 verified incidents: both below 3, so no "1 -> 2" anywhere.
    assert doc["changes"]["provinces"] == ["SY07"]
    assert "incidents 7 -> 8" in doc["changes"]["summary"]
    assert "1 -> 2" not in doc["changes"]["summary"]
    feed = ET.fromstring(client.get("/v1/digests/feed.atom").content)  # noqa: S314
    entries = feed.findall(f"{ATOM}entry")
    assert [e.find(f"{ATOM}title").text for e in entries] == [
        "Daily digest 2016-12-30, revision 2",
        "Daily digest 2016-12-30, revision 1",
    ]
    idleb_feed = ET.fromstring(  # noqa: S314
        client.get("/v1/digests/feed.atom", params={"province": "SY07"}).content
    )
    assert len(idleb_feed.findall(f"{ATOM}entry")) == 2
    hama_feed = ET.fromstring(  # noqa: S314
        client.get("/v1/digests/feed.atom", params={"province": "SY05"}).content
    )
    assert len(hama_feed.findall(f"{ATOM}entry")) == 1


# ---- public ETags ----

PUBLIC_URLS = (
    "/collections/incidents/items",
    "/v1/stats/provinces",
    "/v1/stats/timeseries",
    "/v1/stats/grid",
    "/tiles/incidents.json",
    "/tiles/incidents/0/0/0.mvt",
    "/tiles/incidents/8/154/100.mvt",
)


def snapshot(client, headers=None):
    out = {}
    for url in PUBLIC_URLS:
        response = client.get(url, headers=headers or {})
        assert response.status_code == 200, (url, response.text)
        body = response.content
        if url.startswith("/collections"):
            body = response.json()["features"]  # the rest holds the response's timeStamp
        out[url] = (response.headers["etag"], body)
    return out


def test_an_unverified_report_leaves_public_etags_unchanged(
    client, db, submitter, monitor, verifier, reporter
):
    [known] = verified(db, submitter, report(at=at(8), where=ALEPPO))
    db.commit()
    _, reporter_secret = reporter
    as_reporter = {"Authorization": f"Bearer {reporter_secret}"}
    item = f"/collections/incidents/items/{known}"
    public, as_reporter_before = snapshot(client), snapshot(client, as_reporter)
    public_item = client.get(item).headers["etag"]
    full = snapshot(client, monitor)

    [new] = make_incidents(db, submitter, report(at=at(9), where=ALEPPO))
    db.commit()
    assert snapshot(client) == public
    assert snapshot(client, as_reporter) == as_reporter_before
    assert client.get(item).headers["etag"] == public_item
    full_after = snapshot(client, monitor)
    assert all(full_after[url][0] != full[url][0] for url in PUBLIC_URLS)

    # A verification changes what the public sees, and so its ETags.
    response = client.post(
        f"/v1/incidents/{new}/review", json={"status": "verified"}, headers=verifier
    )
    assert response.status_code == 200, response.text
    after = snapshot(client)
    assert all(after[url][0] != public[url][0] for url in PUBLIC_URLS)
    assert len(client.get("/collections/incidents/items").json()["features"]) == 2


# ---- stats ----


def test_public_stats_suppress_small_rows(client, small_cells, monitor, threshold):
    period = {"datetime": "2016-12-30T00:00:00+02:00/2016-12-31T00:00:00+02:00"}
    public = client.get("/v1/stats/provinces", params=period)
    rows = {f["id"]: f["properties"] for f in public.json()["features"]}
    assert rows["SY07"]["suppressed"] is True
    assert rows["SY07"]["incidents"] is None and rows["SY07"]["violations_by_guarantor"] is None
    assert rows["SY02"]["incidents"] == 4 and rows["SY02"]["suppressed"] is False
    assert rows["SY01"]["incidents"] == 0 and rows["SY01"]["suppressed"] is False
    full = client.get("/v1/stats/provinces", params=period, headers=monitor).json()
    assert {f["id"]: f["properties"]["incidents"] for f in full["features"]}["SY07"] == 1

    series = client.get("/v1/stats/timeseries", params={**period, "province": "SY07"}).json()
    [bucket] = [b for b in series["buckets"] if b["start"] == "2016-12-30"]
    assert bucket["suppressed"] is True and bucket["incidents"] is None

    grid = client.get("/v1/stats/grid", params={**period, "cell": 0.5}).json()
    cells = [f["properties"] for f in grid["features"]]
    assert any(c["suppressed"] and c["incidents"] is None for c in cells)
    assert not any(c["incidents"] is not None and 0 < c["incidents"] < 3 for c in cells)

    threshold(1)
    unsuppressed = client.get("/v1/stats/provinces", params=period)
    assert {f["id"]: f["properties"] for f in unsuppressed.json()["features"]}["SY07"][
        "incidents"
    ] == 1
    assert unsuppressed.headers["etag"] != public.headers["etag"]
