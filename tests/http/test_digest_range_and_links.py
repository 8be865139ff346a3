"""A range of days (GET /v1/digests/daily?from=&to=) and the links of digest documents.

Three days have digests: 2017-02-10 (two revisions: a late report from Aleppo), 2017-02-12
and 2017-02-14, each with unverified incidents only, and one verified incident on the 12th,
so the full view (a monitor's key) and the public view (no key) differ.
"""

import csv
import datetime as dt
import io

import orjson
import pytest
from sqlalchemy import text

from service.config import get_settings
from service.digest.router import MAX_RANGE_DAYS
from service.digest.schemas import DigestRange, DigestRead
from service.digest.service import build_days
from tests.incidents import ALEPPO, DARAA, make_incidents, report, set_status

DAYS = [dt.date(2017, 2, 10), dt.date(2017, 2, 12), dt.date(2017, 2, 14)]
DAILY = "/v1/digests/daily"
RANGE = {"from": "2017-02-09", "to": "2017-02-15"}
HEADLINE = ("status", "totals", "by_guarantor")


def build(db, day: dt.date) -> None:
    build_days(session=db, first=day, last=day)


@pytest.fixture
def three_days(db, submitter):
    make_incidents(db, submitter, report(at="2017-02-10T08:00:00+02:00"))
    build(db, DAYS[0])
    make_incidents(db, submitter, report(at="2017-02-10T21:00:00+02:00", where=ALEPPO))
    build(db, DAYS[0])
    verified = make_incidents(
        db,
        submitter,
        report(at="2017-02-12T08:00:00+02:00", where=DARAA),
        report(at="2017-02-12T09:00:00+02:00"),
    )
    set_status(db, verified[:1], "verified")
    build(db, DAYS[1])
    make_incidents(db, submitter, report(at="2017-02-14T08:00:00+02:00", where=ALEPPO))
    build(db, DAYS[2])


def links_by_rel(doc_links: list[dict]) -> dict[tuple[str, str], str]:
    return {(link["rel"], link["type"]): link["href"] for link in doc_links}


def relative(href: str) -> str:
    base = get_settings().public_base_url
    assert href.startswith(base + "/"), href
    return href[len(base) :]


# ---- the range ----


def test_a_range_lists_the_days_it_has_with_each_days_figures(client, three_days, monitor):
    response = client.get(DAILY, params=RANGE, headers=monitor)
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    body = response.json()
    DigestRange.model_validate(body)
    assert (body["from"], body["to"], body["timezone"]) == (*RANGE.values(), "Asia/Damascus")
    assert [d["date"] for d in body["days"]] == [d.isoformat() for d in DAYS]
    assert [d["revision"] for d in body["days"]] == [2, 1, 1]
    for day in body["days"]:
        # The same numbers as the day's own document, which the day's href serves.
        doc = client.get(relative(day["href"]), headers=monitor).json()
        assert doc["date"] == day["date"]
        for key in (
            "revision",
            "generated_at",
            "no_violations",
            "summary",
            "days_since_last_verified_violation",
        ):
            assert day[key] == doc[key]
        assert day["totals"] == doc["totals"]
        assert day["by_guarantor"] == doc["by_guarantor"]
    assert body["days"][0]["totals"]["violations"] == 2
    assert {(link["rel"], link["type"]) for link in body["links"]} == {
        ("self", "application/json"),
        ("alternate", "text/csv"),
        ("alternate", "text/markdown"),
    }
    narrow = client.get(DAILY, params={"from": "2017-02-12", "to": "2017-02-12"}, headers=monitor)
    assert [d["date"] for d in narrow.json()["days"]] == ["2017-02-12"]
    empty = client.get(DAILY, params={"from": "2017-03-01", "to": "2017-03-31"}, headers=monitor)
    assert (empty.status_code, empty.json()["days"]) == (200, [])


def test_the_range_as_csv_repeats_each_days_own_rows(client, three_days, monitor):
    by_query = client.get(DAILY, params={**RANGE, "format": "csv"}, headers=monitor)
    by_accept = client.get(DAILY, params=RANGE, headers={**monitor, "Accept": "text/csv"})
    assert by_query.headers["content-type"] == "text/csv; charset=utf-8"
    assert by_query.content == by_accept.content
    rows = list(csv.DictReader(io.StringIO(by_query.text)))
    for day in DAYS:
        own = client.get(f"{DAILY}/{day}", params={"format": "csv"}, headers=monitor)
        expected = [r for r in csv.DictReader(io.StringIO(own.text)) if r["section"] in HEADLINE]
        assert expected
        assert [r for r in rows if r["date"] == day.isoformat()] == expected
    assert {r["date"] for r in rows} == {d.isoformat() for d in DAYS}
    markdown = client.get(DAILY, params={**RANGE, "format": "md"}, headers=monitor)
    assert markdown.headers["content-type"] == "text/markdown; charset=utf-8"
    assert "| [2017-02-10](" in markdown.text


def test_a_narrowed_range_gives_each_days_narrowed_figures(client, three_days, monitor):
    body = client.get(DAILY, params={**RANGE, "province": "Aleppo"}, headers=monitor).json()
    assert body["province"] == "SY02"
    for day in body["days"]:
        assert day["href"].endswith("?province=SY02")
        doc = client.get(relative(day["href"]), headers=monitor).json()
        assert day["totals"] == doc["totals"]
    assert [d["totals"]["violations"] for d in body["days"]] == [1, 0, 1]


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"from": "2017-02-15", "to": "2017-02-09"}, "query.from"),
        ({"from": "2016-01-01", "to": "2017-01-01"}, "query.to"),  # 367 days
        ({"to": "2017-02-09"}, "query.from"),
        ({"from": "2017-02-09"}, "query.to"),
        ({"from": "2017-02-30", "to": "2017-03-01"}, "query.from"),
        ({"from": "yesterday", "to": "2017-03-01"}, "query.from"),
        ({"from": "0001-01-01", "to": "0001-01-02"}, "query.from"),
        ({**RANGE, "format": "xml"}, "query.format"),
        ({**RANGE, "province": "Atlantis"}, "query.province"),
    ],
)
def test_a_bad_range_is_a_400_problem(client, three_days, monitor, params, field):
    response = client.get(DAILY, params=params, headers=monitor)
    assert response.status_code == 400
    assert response.headers["content-type"] == "application/problem+json"
    problem = response.json()
    assert problem["type"].endswith("/invalid-parameter")
    assert field in {e["field"] for e in problem["errors"]}


def test_the_longest_range_is_a_leap_year(client, three_days, monitor):
    last = dt.date(2016, 3, 1) + dt.timedelta(days=MAX_RANGE_DAYS - 1)
    response = client.get(DAILY, params={"from": "2016-03-01", "to": last.isoformat()})
    assert response.status_code == 200
    assert [d["date"] for d in response.json()["days"]] == [d.isoformat() for d in DAYS]


def test_the_public_gets_the_public_range(client, three_days, monitor, make_key):
    full = client.get(DAILY, params=RANGE, headers=monitor)
    public = client.get(DAILY, params=RANGE)
    _, reporter_secret = make_key("reporter")
    as_reporter = client.get(
        DAILY, params=RANGE, headers={"Authorization": f"Bearer {reporter_secret}"}
    )
    assert public.json()["days"] == as_reporter.json()["days"]
    assert public.headers["cache-control"] == "public, max-age=60"
    assert full.headers["cache-control"].startswith("private")
    for day in public.json()["days"]:
        doc = client.get(relative(day["href"])).json()
        assert day["totals"] == doc["totals"]
        assert "disclosure" in doc
    # Verified incidents only, and a lone verified incident is withheld (k = 3).
    twelfth = public.json()["days"][1]["totals"]
    assert (twelfth["incidents"], twelfth["suppressed"]) == (None, True)
    assert public.json()["days"][0]["totals"]["incidents"] == 0
    assert full.json()["days"][1]["totals"]["incidents"] == 2


def test_a_restricting_setting_admits_monitors_only(client, three_days, make_key, monkeypatch):
    monkeypatch.setattr(get_settings(), "digests_public", False)
    _, reporter_secret = make_key("reporter")
    _, monitor_secret = make_key("monitor")
    assert client.get(DAILY, params=RANGE).status_code == 401
    denied = client.get(DAILY, params=RANGE, headers={"Authorization": f"Bearer {reporter_secret}"})
    assert denied.status_code == 403
    allowed = client.get(DAILY, params=RANGE, headers={"Authorization": f"Bearer {monitor_secret}"})
    assert allowed.status_code == 200


def test_the_range_is_revalidated_and_moves_with_its_days(client, db, three_days, submitter):
    first = client.get(DAILY, params=RANGE)
    etag, modified = first.headers["etag"], first.headers["last-modified"]
    assert client.get(DAILY, params=RANGE, headers={"If-None-Match": etag}).status_code == 304
    assert (
        client.get(DAILY, params=RANGE, headers={"If-Modified-Since": modified}).status_code == 304
    )
    csv_etag = client.get(DAILY, params={**RANGE, "format": "csv"}).headers["etag"]
    assert csv_etag != etag
    # A new day in the range changes the answer.
    make_incidents(db, submitter, report(at="2017-02-15T08:00:00+02:00"))
    build(db, dt.date(2017, 2, 15))
    db.execute(
        text(
            "UPDATE digest_revisions SET generated_at = generated_at + interval '2 s'"
            " WHERE digest_date = '2017-02-15'"
        )
    )
    after = client.get(DAILY, params=RANGE, headers={"If-None-Match": etag})
    assert after.status_code == 200
    assert after.json()["days"][-1]["date"] == "2017-02-15"
    assert (
        client.get(DAILY, params=RANGE, headers={"If-Modified-Since": modified}).status_code == 200
    )


# ---- links ----


def test_each_day_links_to_the_previous_and_next_day_with_a_digest(client, three_days, monitor):
    dates = []
    href = f"{DAILY}/2017-02-10"
    while href:
        doc = client.get(href, headers=monitor).json()
        DigestRead.model_validate(doc)
        dates.append(doc["date"])
        found = links_by_rel(doc["links"])
        next_href = found.get(("next", "application/json"))
        if next_href:
            back = client.get(relative(next_href), headers=monitor).json()
            assert links_by_rel(back["links"])[("prev", "application/json")].endswith(
                f"{DAILY}/{doc['date']}"
            )
        href = next_href and relative(next_href)
    assert dates == ["2017-02-10", "2017-02-12", "2017-02-14"]
    first = links_by_rel(client.get(f"{DAILY}/2017-02-10", headers=monitor).json()["links"])
    assert not any(rel == "prev" for rel, _ in first)
    latest = links_by_rel(client.get(f"{DAILY}/latest", headers=monitor).json()["links"])
    assert not any(rel == "next" for rel, _ in latest)
    assert latest[("prev", "application/json")].endswith(f"{DAILY}/2017-02-12")


def test_the_alternates_are_the_same_day_in_every_format(client, three_days, monitor):
    response = client.get(f"{DAILY}/2017-02-12", headers=monitor)
    doc = response.json()
    found = links_by_rel(doc["links"])
    assert found[("self", "application/json")].endswith(f"{DAILY}/2017-02-12")
    alternates = {t: h for (rel, t), h in found.items() if rel == "alternate"}
    assert set(alternates) == {"text/csv", "text/markdown", "application/atom+xml"}
    for media_type in ("text/csv", "text/markdown"):
        other = client.get(relative(alternates[media_type]), headers=monitor)
        assert other.headers["content-type"].startswith(media_type)
        assert other.headers["x-digest-revision"] == str(doc["revision"])
    feed = client.get(relative(alternates["application/atom+xml"]), headers=monitor)
    assert feed.headers["content-type"] == "application/atom+xml"
    history = client.get(relative(found[("version-history", "application/json")]), headers=monitor)
    assert [r["revision"] for r in history.json()] == [1]
    # Every format carries the same links in its Link header; CSV's self is the CSV.
    as_csv = client.get(relative(alternates["text/csv"]), headers=monitor)
    header = as_csv.headers["link"]
    assert f'<{alternates["text/csv"]}>; rel="self"; type="text/csv"' in header
    assert 'rel="prev"; type="text/csv"' in header and 'rel="next"; type="text/csv"' in header
    assert response.headers["link"].count("rel=") == len(doc["links"])
    markdown = client.get(relative(alternates["text/markdown"]), headers=monitor).text
    assert "[Previous day](" in markdown and "[Next day](" in markdown and "[CSV](" in markdown


def test_narrowed_documents_link_to_narrowed_documents(client, three_days, monitor):
    doc = client.get(f"{DAILY}/2017-02-12", params={"province": "Aleppo"}, headers=monitor).json()
    for link in doc["links"]:
        if link["rel"] in ("self", "prev", "next") or link["type"] == "text/csv":
            assert "province=SY02" in link["href"], link


def test_links_are_served_not_stored(client, db, three_days, monitor):
    before = db.execute(
        text("SELECT body, content_hash FROM digest_revisions WHERE digest_date = '2017-02-12'")
    ).one()
    assert "links" not in orjson.loads(before.body)
    served = client.get(f"{DAILY}/2017-02-12", headers=monitor).content
    # The stored bytes are served as they are, the links added as the last member.
    assert served.startswith(before.body.encode()[:-1] + b',"links":[')
    for day in DAYS:
        build(db, day)  # figures unchanged (links are no figure): nothing written
    assert db.execute(text("SELECT count(*) FROM digest_revisions")).scalar_one() == 4


def test_a_new_neighbour_changes_the_days_document_not_its_revisions(
    client, db, three_days, submitter, monitor
):
    day = f"{DAILY}/2017-02-14"
    document = client.get(day, headers=monitor)
    as_csv = client.get(day, params={"format": "csv"}, headers=monitor)
    revision = client.get(f"{day}/revisions/1", headers=monitor)
    revision_links = links_by_rel(revision.json()["links"])
    assert not any(rel in ("prev", "next") for rel, _ in revision_links)
    assert revision_links[("latest-version", "application/json")].endswith(day)
    assert "immutable" in revision.headers["cache-control"]

    make_incidents(db, submitter, report(at="2017-02-16T08:00:00+02:00"))
    build(db, dt.date(2017, 2, 16))
    # The new day's digest is built after the 14th's: the 14th's document is newer than it was.
    db.execute(
        text(
            "UPDATE digest_revisions SET generated_at = generated_at + interval '2 s'"
            " WHERE digest_date = '2017-02-16'"
        )
    )
    now = client.get(day, headers=monitor)
    assert now.json()["revision"] == document.json()["revision"]
    assert links_by_rel(now.json()["links"])[("next", "application/json")].endswith("2017-02-16")
    assert now.headers["etag"] != document.headers["etag"]
    assert now.headers["last-modified"] != document.headers["last-modified"]
    stale = client.get(day, headers={**monitor, "If-None-Match": document.headers["etag"]})
    assert stale.status_code == 200
    since = client.get(
        day, headers={**monitor, "If-Modified-Since": document.headers["last-modified"]}
    )
    assert since.status_code == 200
    # The CSV's figures did not change, but its links did: a new ETag too.
    csv_now = client.get(day, params={"format": "csv"}, headers=monitor)
    assert csv_now.content == as_csv.content
    assert csv_now.headers["link"] != as_csv.headers["link"]
    assert csv_now.headers["etag"] != as_csv.headers["etag"]
    again = client.get(f"{day}/revisions/1", headers=monitor)
    assert (again.content, again.headers["etag"]) == (revision.content, revision.headers["etag"])
    assert again.headers["link"] == revision.headers["link"]
