"""The verifiers' queue (GET /v1/review-queue): who may read it, what waits in it, its two
orders and their pages, each item's reports and candidates, and a bounded number of
queries per page."""

from __future__ import annotations

import base64
import uuid

import orjson
import pytest
from sqlalchemy import event

from tests.http.report_helpers import assert_problem, auth, submitted

QUEUE = "/v1/review-queue"
ALEPPO = [37.16, 36.20]


@pytest.fixture
def verifier(make_key):
    return make_key("verifier", "verifier V")[1]


def walk(client, secret, **params) -> list[dict]:
    """Every item of the queue, following `next`."""
    items, url, query = [], QUEUE, params
    while url:
        response = client.get(url, params=query, headers=auth(secret))
        assert response.status_code == 200, response.text
        page = response.json()
        items += page["items"]
        url, query = page["next"], None
        if url:
            assert response.headers["Link"] == f'<{url}>; rel="next"'
    return items


def ids(items) -> list[str]:
    return [item["incident"]["id"] for item in items]


@pytest.fixture
def waiting(client, reporter, verifier, make_key):
    """Six incidents on six days in Idleb with various tolls, one in Aleppo; one verified
    (out of the queue), one verified then corroborated (back in, pending review), one
    rejected and one merged (out)."""
    _, secret = reporter
    _, other = make_key("reporter", "field reporter B")
    made = {}
    for day, killed in ((10, 5), (11, 1), (12, 9), (13, 0), (14, 9)):
        made[day] = submitted(
            client,
            secret,
            occurred_at=f"2017-01-{day:02d}T09:30:00+02:00",
            casualties={"killed": killed, "injured": 1, "civilians_killed": 0},
            sources=[{"kind": "media", "publisher": "Daily", "reliability": "B", "credibility": 2}],
        )["incident_id"]
    # A duplicate of the 10th's, merged into it below.
    made[15] = submitted(client, secret, occurred_at="2017-01-10T09:30:00+02:00")["incident_id"]
    aleppo = submitted(
        client,
        secret,
        occurred_at="2017-01-09T09:30:00+02:00",
        location={"type": "Point", "coordinates": ALEPPO},
    )["incident_id"]

    def decide(incident_id, **body):
        response = client.post(
            f"/v1/incidents/{incident_id}/review", json=body, headers=auth(verifier)
        )
        assert response.status_code == 200, response.text

    decide(made[11], status="verified")
    decide(made[13], status="verified")
    submitted(
        client,
        other,
        incident_id=made[13],
        occurred_at="2017-01-13T09:30:00+02:00",
        casualties={"killed": 50, "injured": 0, "civilians_killed": 0},
    )
    decide(made[14], status="rejected")
    merged = client.post(
        f"/v1/incidents/{made[15]}/merge", json={"into": made[10]}, headers=auth(verifier)
    )
    assert merged.status_code == 200, merged.text
    return made, aleppo


def test_only_verifiers_and_admins_read_the_queue(client, make_key):
    anonymous = client.get(QUEUE)
    assert_problem(anonymous, 401)
    assert "WWW-Authenticate" in anonymous.headers
    for role in ("reporter", "monitor"):
        problem = assert_problem(client.get(QUEUE, headers=auth(make_key(role)[1])), 403)
        assert "verifier" in problem["detail"]
    for role in ("verifier", "admin"):
        response = client.get(QUEUE, headers=auth(make_key(role)[1]))
        assert response.status_code == 200, response.text
        assert response.json() == {"items": [], "next": None}


def test_the_queue_holds_what_waits_for_a_verifier_oldest_first(client, verifier, waiting):
    made, aleppo = waiting
    items = walk(client, verifier)
    # Unverified, and the verified one holding a corroboration; by occurrence, earliest first.
    assert ids(items) == [aleppo, made[10], made[12], made[13]]
    pending = items[3]["incident"]
    assert (pending["status"], pending["pending_review"]) == ("verified", True)
    assert pending["proposed"]["report_count"] == 2
    times = [item["incident"]["occurred_at"] for item in items]
    assert times == sorted(times)


def test_by_casualties_the_heaviest_come_first(client, verifier, waiting):
    made, aleppo = waiting
    items = walk(client, verifier, order="casualties")
    # killed + injured as published (the casualty rule decides the merged 10th's figures;
    # the 13th's held corroboration is not published), as each item shows them.
    tolls = [
        item["incident"]["casualties"]["killed"] + item["incident"]["casualties"]["injured"]
        for item in items
    ]
    assert tolls == sorted(tolls, reverse=True)
    assert set(ids(items)) == {aleppo, made[10], made[12], made[13]}
    assert ids(items)[0] == made[12]  # 9 + 1


@pytest.mark.parametrize("order", ["oldest", "casualties"])
def test_pages_have_neither_duplicates_nor_gaps(client, reporter, verifier, order):
    _, secret = reporter
    for n in range(13):
        submitted(
            client,
            secret,
            occurred_at=f"2017-01-{10 + n % 4:02d}T09:30:00+02:00",  # ties on time and toll
            casualties={"killed": n % 3, "injured": 0, "civilians_killed": 0},
        )
    whole = ids(walk(client, verifier, order=order, limit=1000))
    assert len(whole) == 13
    for size in (1, 2, 5):
        paged = ids(walk(client, verifier, order=order, limit=size))
        assert paged == whole


def test_a_cursor_of_one_order_is_refused_by_the_other(client, reporter, verifier):
    _, secret = reporter
    for _ in range(2):
        submitted(client, secret)
    following = client.get(QUEUE, params={"limit": 1}, headers=auth(verifier)).json()["next"]
    cursor = following.split("cursor=")[1]
    problem = assert_problem(
        client.get(QUEUE, params={"order": "casualties", "cursor": cursor}, headers=auth(verifier)),
        400,
    )
    assert problem["detail"] == "cursor: not a cursor this service issued for this list"
    bad = assert_problem(client.get(QUEUE, params={"order": "newest"}, headers=auth(verifier)), 400)
    assert bad["type"].endswith("/invalid-parameter") and "order" in bad["detail"]


@pytest.mark.parametrize("toll", [2**63 - 1, -(2**63 - 1), 2**31, -1, 0])
def test_a_well_formed_cursor_with_any_toll_pages_and_never_overflows(
    client, reporter, verifier, toll
):
    """A cursor's integer may be any bigint (the codec takes those): compared as one."""
    _, secret = reporter
    incident_id = submitted(client, secret)["incident_id"]  # killed + injured: 8
    position = [toll, "2017-01-10T00:00:00+00:00", str(uuid.uuid4())]
    cursor = base64.urlsafe_b64encode(orjson.dumps(position)).decode().rstrip("=")
    response = client.get(
        QUEUE, params={"order": "casualties", "cursor": cursor}, headers=auth(verifier)
    )
    assert response.status_code == 200, response.text
    assert ids(response.json()["items"]) == ([incident_id] if toll > 8 else [])


def test_each_item_carries_its_etag_reports_and_candidates(client, reporter, verifier, make_key):
    _, secret = reporter
    _, other = make_key("reporter", "field reporter B")
    first = submitted(
        client,
        secret,
        description="shells on the market",
        sources=[{"kind": "media", "publisher": "Daily", "reliability": "B", "credibility": 2}],
    )
    incident_id = first["incident_id"]
    second = submitted(client, other, incident_id=incident_id, description="heard it too")
    # Seven likely duplicates nearby, within the hours: five shown, nearest first.
    for n in range(7):
        submitted(
            client, secret, location={"type": "Point", "coordinates": [36.63 + n * 0.001, 35.93]}
        )
    items = {item["incident"]["id"]: item for item in walk(client, verifier)}
    item = items[incident_id]
    detail = client.get(f"/v1/incidents/{incident_id}", headers=auth(verifier))
    assert item["etag"] == detail.headers["ETag"]
    # The queue's incident is the detail without what only the detail carries.
    assert {k: v for k, v in item["incident"].items()} == {
        k: v for k, v in detail.json().items() if k not in {"report_ids", "correlations"}
    }
    reports = item["reports"]
    # Oldest first, as the incident lists them (one test transaction: the same created_at).
    assert [r["id"] for r in reports] == detail.json()["report_ids"]
    reports.sort(key=lambda r: r["id"] != first["id"])
    assert [r["id"] for r in reports] == [first["id"], second["id"]]
    assert reports[0]["description"] == "shells on the market"
    assert reports[0]["sources"][0]["reliability"] == "B"
    assert reports[0]["sources"][0]["credibility"] == 2
    assert reports[0]["casualties"] == {"killed": 3, "injured": 5, "civilians_killed": 1}
    assert reports[1]["reporter"]["name"] == "field reporter B"
    assert all(r["occurred_at"] and r["created_at"] for r in reports)
    candidates = item["candidates"]
    assert len(candidates) == 5
    listed = client.get(f"/v1/incidents/{incident_id}/candidates", headers=auth(verifier)).json()
    assert candidates == listed[:5]
    assert all(c["incident"]["location"]["type"] == "Point" for c in candidates)
    distances = [c["distance_km"] for c in candidates]
    assert distances == sorted(distances)
    # The item's ETag is the one a review checks.
    response = client.post(
        f"/v1/incidents/{incident_id}/review",
        json={"status": "verified"},
        headers=auth(verifier, **{"If-Match": item["etag"]}),
    )
    assert response.status_code == 200, response.text


def test_filters_narrow_the_queue(client, verifier, waiting):
    made, aleppo = waiting
    assert ids(walk(client, verifier, province="Aleppo")) == [aleppo]
    idleb = ids(walk(client, verifier, province="SY07", order="casualties"))
    assert set(idleb) == {made[10], made[12], made[13]}
    assert ids(walk(client, verifier, violation_type="airstrike")) == []
    assert ids(walk(client, verifier, guarantor="RUS")) == ids(walk(client, verifier))
    since = ids(walk(client, verifier, since="2017-01-12T00:00:00+02:00"))
    assert since == [made[12], made[13]]


def test_a_page_costs_the_same_few_queries_whatever_its_length(client, db, reporter, verifier):
    _, secret = reporter
    heavy = {"killed": 10, "injured": 0, "civilians_killed": 0}
    for n in range(12):
        when = f"2017-01-{10 + n:02d}T09:30:00+02:00"
        incident_id = submitted(client, secret, occurred_at=when, casualties=heavy)["incident_id"]
        submitted(client, secret, incident_id=incident_id, occurred_at=when, casualties=heavy)
        # A likely duplicate of each, lighter (so after all of them by casualties).
        submitted(
            client,
            secret,
            occurred_at=f"2017-01-{10 + n:02d}T12:30:00+02:00",
            casualties={"killed": 0, "injured": 0, "civilians_killed": 0},
        )
    statements: list[str] = []

    def counted(conn, cursor, statement, parameters, context, executemany):
        statements.append(statement)

    client.get(QUEUE, headers=auth(verifier))  # the key is looked up once, then remembered
    connection = db.connection()
    event.listen(connection, "before_cursor_execute", counted)
    try:
        by_size = {}
        for size in (2, 12):
            statements.clear()
            page = client.get(
                QUEUE, params={"limit": size, "order": "casualties"}, headers=auth(verifier)
            ).json()
            assert len(page["items"]) == size
            assert all(len(item["reports"]) == 2 for item in page["items"])
            assert all(item["candidates"] for item in page["items"])
            by_size[size] = len(statements)
    finally:
        event.remove(connection, "before_cursor_execute", counted)
    assert by_size[2] == by_size[12], by_size
    # The page, its reports, its candidates (and the key's own bookkeeping, if any).
    assert by_size[12] <= 6, statements
