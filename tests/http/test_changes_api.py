"""The changes feed over HTTP: upserts and tombstones in the caller's view, paging, refusals.
(Commit order under concurrent writers: tests/integration/test_changes_sync.py.)"""

from __future__ import annotations

import csv
import io

import pytest

from tests.changes_mirror import Mirror, full_list, public_list
from tests.http.report_helpers import assert_problem, auth, report_body


@pytest.fixture
def verifier(make_key):
    return make_key("verifier", "verifier V")


def submit(client, secret, day: int, lon: float = 36.63):
    body = report_body(
        occurred_at=f"2017-01-{day:02d}T09:30:00+02:00",
        location={"type": "Point", "coordinates": [lon, 35.93]},
    )
    response = client.post("/v1/reports", json=body, headers=auth(secret))
    assert response.status_code == 201, response.text
    return response.json()["incident_id"]


def review(client, v, incident_id, status):
    response = client.post(
        f"/v1/incidents/{incident_id}/review", json={"status": status}, headers=auth(v)
    )
    assert response.status_code == 200, response.text


def merge(client, v, incident_id, into):
    response = client.post(
        f"/v1/incidents/{incident_id}/merge", json={"into": into}, headers=auth(v)
    )
    assert response.status_code == 200, response.text


def test_a_monitors_mirror_ends_as_the_incidents_list(client, reporter, verifier, monitor):
    _, secret = reporter
    _, v = verifier
    kept, verified, rejected, merged = (submit(client, secret, day) for day in (10, 12, 14, 16))
    review(client, v, verified, "verified")
    review(client, v, rejected, "rejected")
    merge(client, v, merged, kept)
    mirror = Mirror(monitor)
    mirror.sync(client)
    expected = full_list(client, monitor)
    assert {kept, verified} <= set(expected)
    assert mirror.incidents == expected
    stones = {t["id"]: t for t in mirror.tombstones}
    assert rejected not in stones  # a record of the full view, with its status
    assert mirror.incidents[rejected]["status"] == "rejected"
    assert stones[merged] == {"id": merged, "change": "merged", "merged_into": kept}


def _exported_ids(client, headers: dict) -> set[str]:
    response = client.get("/v1/exports/incidents.csv", headers=headers)
    assert response.status_code == 200, response.text
    return {row["event_id"] for row in csv.DictReader(io.StringIO(response.text))}


def test_a_mirror_from_the_first_page_holds_what_an_export_holds(
    client, reporter, verifier, monitor
):
    _, secret = reporter
    _, v = verifier
    kept, verified, rejected, merged, withdrawn = (
        submit(client, secret, day) for day in (10, 12, 14, 16, 18)
    )
    for incident, status in ((verified, "verified"), (rejected, "rejected")):
        review(client, v, incident, status)
    review(client, v, withdrawn, "verified")
    review(client, v, withdrawn, "disputed")
    merge(client, v, merged, kept)
    full, public = Mirror(monitor), Mirror({})
    full.sync(client)
    public.sync(client)
    assert set(full.incidents) == _exported_ids(client, monitor)
    assert {kept, verified, rejected, withdrawn} <= set(full.incidents)
    assert set(public.incidents) == _exported_ids(client, {}) == {verified}


def test_the_feed_continues_from_its_cursor_with_what_changed_since(
    client, reporter, verifier, monitor
):
    _, secret = reporter
    _, v = verifier
    first = submit(client, secret, 10)
    mirror = Mirror(monitor)
    mirror.sync(client)
    assert mirror.incidents[first]["status"] == "unverified"
    # Nothing new: an empty page, the same cursor.
    before = mirror.since
    response = client.get("/v1/changes", params={"since": before}, headers=monitor)
    assert (response.json()["items"], response.json()["cursor"]) == ([], before)
    review(client, v, first, "disputed")
    second = submit(client, secret, 20)
    response = client.get("/v1/changes", params={"since": before}, headers=monitor)
    page = response.json()
    assert [(i["id"], i["change"]) for i in page["items"]] == [
        (first, "upsert"),
        (second, "upsert"),
    ]
    assert page["items"][0]["incident"]["status"] == "disputed"
    mirror.apply(page)
    assert mirror.incidents == full_list(client, monitor)


def test_one_row_pages_cover_every_change_once(client, reporter, verifier, monitor):
    _, secret = reporter
    ids = [submit(client, secret, day) for day in (3, 5, 7, 9)]
    mirror = Mirror(monitor)
    pages = mirror.sync(client, limit=1)
    assert pages >= len(ids)
    assert set(ids) <= set(mirror.incidents)
    assert mirror.incidents == full_list(client, monitor)


def test_the_public_feed_carries_verified_incidents_as_the_public_sees_them(
    client, reporter, verifier
):
    _, secret = reporter
    _, v = verifier
    unverified, verified, withdrawn = (submit(client, secret, day) for day in (10, 12, 14))
    review(client, v, verified, "verified")
    review(client, v, withdrawn, "verified")
    public = Mirror()
    public.sync(client)
    assert set(public.incidents) >= {verified, withdrawn}
    assert unverified not in public.incidents
    review(client, v, withdrawn, "disputed")
    public.sync(client)
    assert public.incidents == public_list(client)
    assert verified in public.incidents and withdrawn not in public.incidents
    assert {"id": withdrawn, "change": "withdrawn", "merged_into": None} in public.tombstones
    # The unverified incident never reaches the public feed, not even as a tombstone.
    assert unverified not in {t["id"] for t in public.tombstones}
    feature = public.incidents[verified]
    assert feature["type"] == "Feature" and "place_name" not in feature["properties"]


def test_a_public_merge_names_the_survivor_only_if_the_public_sees_it(client, reporter, verifier):
    _, secret = reporter
    _, v = verifier
    hidden, shown, victim_a, victim_b = (submit(client, secret, day) for day in (4, 6, 8, 11))
    for incident in (shown, victim_a, victim_b):
        review(client, v, incident, "verified")
    merge(client, v, victim_a, shown)
    merge(client, v, victim_b, hidden)
    public = Mirror()
    public.sync(client)
    stones = {t["id"]: t for t in public.tombstones}
    assert stones[victim_a]["merged_into"] == shown
    assert stones[victim_b] == {"id": victim_b, "change": "merged", "merged_into": None}
    assert public.incidents == public_list(client)


@pytest.mark.parametrize(
    "since",
    ["garbage!", "W10", "WzEsMiwzXQ", "eyJhIjoxfQ", "WyJ4IiwxXQ", "A" * 300, "WzEuNSwxXQ"],
)
def test_a_cursor_this_feed_did_not_issue_is_400_naming_since(client, monitor, since):
    response = client.get("/v1/changes", params={"since": since}, headers=monitor)
    problem = assert_problem(response, 400)
    assert problem["detail"].startswith("since:")


@pytest.mark.parametrize("limit", ["0", "1001", "x", "-1"])
def test_a_bad_limit_is_a_client_error(client, limit):
    response = client.get("/v1/changes", params={"limit": limit})
    assert 400 <= response.status_code < 500
    assert response.headers["content-type"] == "application/problem+json"


def test_links_are_absolute_and_the_next_link_continues(client, monitor):
    response = client.get("/v1/changes", params={"limit": 5}, headers=monitor)
    assert response.status_code == 200
    page = response.json()
    links = {link["rel"]: link["href"] for link in page["links"]}
    assert links["self"].startswith("http") and links["next"].startswith("http")
    assert "limit=5" in links["next"] and f"since={page['cursor']}" in links["next"]
    assert response.headers["Link"] == f'<{links["next"]}>; rel="next"'


def test_a_reporter_key_reads_the_public_feed(client, reporter, verifier):
    _, secret = reporter
    _, v = verifier
    verified, unverified = submit(client, secret, 10), submit(client, secret, 12)
    review(client, v, verified, "verified")
    as_reporter = Mirror(auth(secret))
    as_reporter.sync(client)
    anonymous = Mirror()
    anonymous.sync(client)
    assert as_reporter.incidents == anonymous.incidents == public_list(client)
    assert verified in as_reporter.incidents and unverified not in as_reporter.incidents
