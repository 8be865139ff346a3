"""Incidents over HTTP: reading, review, merge, duplicate candidates, and their audit trail."""

import uuid

import pytest
from sqlalchemy import text

from tests.http.report_helpers import assert_problem, auth, count, counts, report_body


@pytest.fixture
def verifier(make_key):
    return make_key("verifier", "verifier V")


def submit(client, secret, **fields):
    response = client.post("/v1/reports", json=report_body(**fields), headers=auth(secret))
    assert response.status_code == 201, response.text
    return response.json()


def at(lon, lat):
    return {"type": "Point", "coordinates": [lon, lat]}


def audit(db, entity_id, action):
    return db.execute(
        text(
            "SELECT actor, actor_key_id, before, after, reason FROM audit_events"
            " WHERE entity_id = :id AND action = :action"
        ),
        {"id": str(entity_id), "action": action},
    ).one()


def test_an_incident_carries_the_consolidated_facts(client, reporter, verifier, make_key):
    _, secret = reporter
    _, v = verifier
    _, other = make_key("reporter", "field reporter B")
    first = submit(client, secret)
    second = submit(
        client,
        other,
        incident_id=first["incident_id"],
        casualties={"killed": 7, "injured": 1, "civilians_killed": 2},
    )
    response = client.get(f"/v1/incidents/{first['incident_id']}", headers=auth(v))
    assert response.status_code == 200, response.text
    incident = response.json()
    assert incident["status"] == "unverified" and incident["report_count"] == 2
    # Two keys, (3, 5, 1) and (7, 1, 2): the lower median of each figure (never the largest),
    # and the spread across keys.
    assert incident["casualties"] == {"killed": 3, "injured": 1, "civilians_killed": 1}
    assert incident["casualties_range"] == {
        "killed": [3, 7],
        "injured": [1, 5],
        "civilians_killed": [1, 2],
    }
    assert incident["pending_review"] is False and incident["proposed"] is None
    assert incident["province"]["pcode"] == "SY07"
    assert incident["responsible_guarantors"] == ["IRN", "RUS"]
    assert incident["ceasefire_status"] == "violation"
    assert sorted(incident["report_ids"]) == sorted([first["id"], second["id"]])


def test_list_filters_and_pages(client, reporter, verifier):
    _, secret = reporter
    _, v = verifier
    made = {
        submit(client, secret, occurred_at=f"2017-01-{d:02d}T10:00:00Z")["incident_id"]
        for d in range(10, 17)
    }
    seen, url = [], "/v1/incidents?limit=3&province=Idlib&since=2017-01-10T00:00:00Z"
    while url:
        page = client.get(url, headers=auth(v)).json()
        seen += [i["id"] for i in page["items"]]
        assert "report_ids" not in (page["items"] or [{}])[0]
        url = page["next"]
    assert made <= set(seen) and len(seen) == len(set(seen))
    times = [i for i in seen if i in made]
    assert len(times) == 7
    filtered = client.get(
        "/v1/incidents", params={"violation_type": "airstrike"}, headers=auth(v)
    ).json()
    assert not made & {i["id"] for i in filtered["items"]}


def test_review_records_who_what_before_after_and_why(client, db, reporter, verifier):
    _, secret = reporter
    principal, v = verifier
    report = submit(client, secret)
    incident_id = report["incident_id"]
    response = client.post(
        f"/v1/incidents/{incident_id}/review",
        json={"status": "disputed", "note": "sources disagree"},
        headers=auth(v),
    )
    assert response.status_code == 200, response.text
    assert response.json()["status"] == "disputed"
    assert response.json()["review_note"] == "sources disagree"
    event = audit(db, incident_id, "incident.reviewed")
    assert (event.actor, event.actor_key_id) == ("key:verifier V", principal.key_id)
    assert event.before == {"status": "unverified", "review_note": None}
    assert event.after == {"status": "disputed", "review_note": "sources disagree"}
    assert event.reason == "sources disagree"
    listed = client.get("/v1/incidents", params={"status": "disputed"}, headers=auth(v)).json()
    assert incident_id in {i["id"] for i in listed["items"]}


@pytest.mark.parametrize(
    "body",
    [
        {"status": "merged"},
        {"status": "unverified"},
        {"status": "verified", "reviewer": "me"},
        {"status": "verified", "note": "x" * 2001},
        {"note": "no status"},
        {"status": "verified", "accept_reports": 1},  # a number is not a yes
    ],
)
def test_bad_reviews_are_422_and_change_nothing(client, db, reporter, verifier, body):
    _, secret = reporter
    _, v = verifier
    incident_id = submit(client, secret)["incident_id"]
    before = counts(db)
    response = client.post(f"/v1/incidents/{incident_id}/review", json=body, headers=auth(v))
    assert_problem(response, 422)
    assert counts(db) == before
    assert count(db, "incidents", "id = :id AND status = 'unverified'", id=incident_id) == 1


def test_reviewing_an_unknown_incident_is_404(client, verifier):
    _, v = verifier
    response = client.post(
        f"/v1/incidents/{uuid.uuid4()}/review", json={"status": "verified"}, headers=auth(v)
    )
    assert_problem(response, 404)


def test_merge_moves_reports_and_points_to_the_survivor(client, db, reporter, verifier, make_key):
    _, secret = reporter
    _, v = verifier
    _, other = make_key("reporter", "field reporter B")
    survivor = submit(client, secret)
    # Far enough apart that correlation keeps them apart: the verifier merges them.
    victim = submit(
        client,
        other,
        location=at(36.74, 35.93),
        casualties={"killed": 9, "injured": 0, "civilians_killed": 0},
    )
    response = client.post(
        f"/v1/incidents/{victim['incident_id']}/merge",
        json={"into": survivor["incident_id"], "note": "same strike"},
        headers=auth(v),
    )
    assert response.status_code == 200, response.text
    merged = response.json()
    assert merged["id"] == survivor["incident_id"]
    # Derived again by the casualty rule: two keys saying 3 and 9, the lower median.
    assert merged["report_count"] == 2 and merged["casualties"]["killed"] == 3
    assert merged["casualties_range"]["killed"] == [3, 9]
    assert set(merged["report_ids"]) == {survivor["id"], victim["id"]}
    gone = client.get(f"/v1/incidents/{victim['incident_id']}", headers=auth(v)).json()
    assert (gone["status"], gone["merged_into_id"], gone["report_count"]) == (
        "merged",
        survivor["incident_id"],
        0,
    )
    moved = client.get(f"/v1/reports/{victim['id']}", headers=auth(v)).json()
    assert moved["incident_id"] == survivor["incident_id"]
    event = audit(db, victim["incident_id"], "incident.merged")
    assert event.after["merged_into_id"] == survivor["incident_id"]
    assert event.after["moved_report_ids"] == [victim["id"]]
    assert event.reason == "same strike"
    absorbed = audit(db, survivor["incident_id"], "incident.absorbed")
    assert (absorbed.before["report_count"], absorbed.after["report_count"]) == (1, 2)
    # Merged incidents leave the default list; a report citing one is refused, naming the
    # survivor (a claim is never silently moved to another incident).
    listed = {i["id"] for i in client.get("/v1/incidents", headers=auth(v)).json()["items"]}
    assert victim["incident_id"] not in listed and survivor["incident_id"] in listed
    late = client.post(
        "/v1/reports",
        json=report_body(incident_id=victim["incident_id"]),
        headers=auth(secret),
    )
    assert survivor["incident_id"] in assert_problem(late, 422)["detail"]


def test_merges_never_chain_or_cycle(client, db, reporter, verifier):
    _, secret = reporter
    _, v = verifier
    a, b, c = (submit(client, secret)["incident_id"] for _ in range(3))

    def merge(victim, into):
        return client.post(f"/v1/incidents/{victim}/merge", json={"into": into}, headers=auth(v))

    assert merge(a, b).status_code == 200
    assert merge(b, c).status_code == 200
    # a pointed at b; now both point straight at c.
    pointers = dict(
        db.execute(
            text("SELECT id::text, merged_into_id::text FROM incidents WHERE id = ANY(:ids)"),
            {"ids": [uuid.UUID(a), uuid.UUID(b)]},
        ).all()
    )
    assert pointers == {a: c, b: c}
    before = counts(db)
    assert "merge into" in assert_problem(merge(c, a), 409)["detail"]  # into a merged one
    assert_problem(merge(a, c), 409)  # already merged
    assert "itself" in assert_problem(merge(c, c), 422)["detail"]
    assert_problem(merge(c, str(uuid.uuid4())), 422)
    assert_problem(merge(str(uuid.uuid4()), c), 404)
    assert counts(db) == before
    assert count(db, "incidents", "id = :id AND status = 'unverified'", id=c) == 1


def test_a_merged_incident_cannot_be_reviewed(client, reporter, verifier):
    _, secret = reporter
    _, v = verifier
    a, b = (submit(client, secret)["incident_id"] for _ in range(2))
    client.post(f"/v1/incidents/{a}/merge", json={"into": b}, headers=auth(v))
    response = client.post(
        f"/v1/incidents/{a}/review", json={"status": "verified"}, headers=auth(v)
    )
    assert b in assert_problem(response, 409)["detail"]


def test_candidates_same_type_within_5_km_and_6_hours(client, reporter, verifier):
    _, secret = reporter
    _, v = verifier
    base = submit(client, secret, location=at(36.63, 35.93), occurred_at="2017-01-10T10:00:00Z")
    near = submit(client, secret, location=at(36.66, 35.93), occurred_at="2017-01-10T14:00:00Z")
    far = submit(client, secret, location=at(36.75, 35.93), occurred_at="2017-01-10T10:00:00Z")
    late = submit(client, secret, location=at(36.63, 35.93), occurred_at="2017-01-10T16:30:00Z")
    other = submit(
        client, secret, location=at(36.63, 35.93), violation_type="airstrike",
        occurred_at="2017-01-10T10:00:00Z",
    )  # fmt: skip
    vague = submit(
        client, secret, location=None, province="SY07", occurred_at="2017-01-10T09:00:00Z"
    )
    response = client.get(f"/v1/incidents/{base['incident_id']}/candidates", headers=auth(v))
    assert response.status_code == 200, response.text
    found = {c["incident"]["id"]: c for c in response.json()}
    assert set(found) == {near["incident_id"], vague["incident_id"]}
    assert 2.5 < found[near["incident_id"]]["distance_km"] < 3.0  # 0.03 degrees at 36 N
    assert found[near["incident_id"]]["hours_apart"] == 4.0
    assert found[vague["incident_id"]]["distance_km"] is None
    assert response.json()[0]["incident"]["id"] == near["incident_id"]  # nearest first
    for excluded in (far, late, other):
        assert excluded["incident_id"] not in found
    # Once merged, a candidate is no longer offered.
    client.post(
        f"/v1/incidents/{near['incident_id']}/merge",
        json={"into": base["incident_id"]},
        headers=auth(v),
    )
    again = client.get(f"/v1/incidents/{base['incident_id']}/candidates", headers=auth(v)).json()
    assert near["incident_id"] not in {c["incident"]["id"] for c in again}
    assert vague["incident_id"] in {c["incident"]["id"] for c in again}
