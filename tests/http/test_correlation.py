"""Automatic correlation at intake, splitting a wrongly linked report, and confidence."""

from __future__ import annotations

import datetime as dt
import uuid

import pytest
from sqlalchemy import text

from service.config import get_settings
from service.digest.service import build_days
from tests.http.report_helpers import assert_problem, auth, counts, report_body
from tests.incidents import make_incidents, report

PLACE = "Maarat al-Numan town"
TEXT = "Regime artillery shelled the market of Maarat al-Numan, killing three"


@pytest.fixture
def verifier(make_key):
    return make_key("verifier", "verifier V")[1]


@pytest.fixture
def keys(make_key):
    return [make_key("reporter", f"reporter {n}")[1] for n in range(3)]


def post(client, secret, **fields):
    response = client.post("/v1/reports", json=report_body(**fields), headers=auth(secret))
    assert response.status_code == 201, response.text
    return response.json()


def first_report(client, secret, **fields):
    return post(client, secret, place_name=PLACE, description=TEXT, **fields)


def near(km_east: float) -> dict:
    return {"type": "Point", "coordinates": [36.63 + km_east / 90.2, 35.93]}


def incident(client, verifier, incident_id) -> dict:
    response = client.get(f"/v1/incidents/{incident_id}", headers=auth(verifier))
    assert response.status_code == 200, response.text
    return response.json()


# ---- automatic correlation ----


def test_a_duplicate_is_linked_with_its_score_and_factors_stored(client, db, keys, verifier):
    first = first_report(client, keys[0])
    second = post(
        client,
        keys[1],
        location=near(1.5),
        occurred_at="2017-01-10T11:00:00+02:00",
        perpetrator="Syrian Armed Forces",  # another alias of the same party
        place_name="Maarat al-Numan",
        description="Shelling by regime artillery hit the Maarat al-Numan market; three killed",
    )
    # Its reporter sees the decision only: score, factors and flags compare it with other
    # reporters' reports (their texts, the incident's exact distance).
    assert set(second["correlation"]) == {"version", "threshold", "decision", "incident_id"}
    assert second["correlation"]["decision"] == "linked"
    correlation = client.get(f"/v1/reports/{second['id']}", headers=auth(verifier)).json()[
        "correlation"
    ]
    assert second["incident_id"] == first["incident_id"]
    assert correlation["decision"] == "linked"
    assert correlation["incident_id"] == first["incident_id"]
    assert correlation["version"] == 1
    assert correlation["threshold"] == get_settings().correlation_threshold
    assert correlation["score"] >= correlation["threshold"]
    factors = correlation["factors"]
    assert factors["type"] == 1.0 and factors["parties"] == 1.0 and factors["independence"] == 1.0
    assert 1.4 < factors["distance_km"] < 1.6 and factors["hours_apart"] == pytest.approx(-1.5)
    assert correlation["flags"] == []
    # The reporter sees the decision, not the other incidents weighed.
    assert "candidates" not in second["correlation"]
    stored = db.execute(
        text("SELECT correlation FROM reports WHERE id = :id"), {"id": second["id"]}
    ).scalar_one()
    assert stored["score"] == correlation["score"] and stored["candidates"]
    # The incident holds both, and shows what correlation decided for each report.
    detail = incident(client, verifier, first["incident_id"])
    assert detail["report_count"] == 2
    decided = {c["report_id"]: c for c in detail["correlations"]}
    assert decided[first["id"]]["decision"] == "opened"
    assert decided[second["id"]]["decision"] == "linked"
    assert decided[second["id"]]["score"] == correlation["score"]
    # A verifier reading the report sees the candidates too.
    read = client.get(f"/v1/reports/{second['id']}", headers=auth(verifier)).json()
    assert read["correlation"]["candidates"][0]["incident_id"] == first["incident_id"]


def test_a_distinct_event_nearby_opens_its_own_incident_and_lists_the_candidate(
    client, keys, verifier
):
    first = first_report(client, keys[0])
    other = post(
        client,
        keys[1],
        location=near(3.5),
        occurred_at="2017-01-10T14:30:00+02:00",
        violation_type="shelling",
        perpetrator="Ahrar al-Sham",
        target="Syrian Arab Army",
        place_name="Kafr Rouma village",
        description="Rebel mortars hit an army checkpoint near Kafr Rouma",
    )
    assert other["incident_id"] != first["incident_id"]
    correlation = other["correlation"]
    assert correlation["decision"] == "opened" and "score" not in correlation
    # Verifiers see the likely duplicate with its score, on the report and the candidates.
    read = client.get(f"/v1/reports/{other['id']}", headers=auth(verifier)).json()
    [candidate] = read["correlation"]["candidates"]
    assert candidate["incident_id"] == first["incident_id"]
    assert candidate["score"] < correlation["threshold"]
    listed = client.get(
        f"/v1/incidents/{other['incident_id']}/candidates", headers=auth(verifier)
    ).json()
    assert [(c["incident"]["id"], c["correlation_score"]) for c in listed] == [
        (first["incident_id"], candidate["score"])
    ]
    # Either way round.
    back = client.get(
        f"/v1/incidents/{first['incident_id']}/candidates", headers=auth(verifier)
    ).json()
    assert [c["correlation_score"] for c in back] == [candidate["score"]]


def test_one_keys_second_report_is_not_linked_to_its_first(client, reporter):
    _, secret = reporter
    first = first_report(client, secret)
    again = first_report(client, secret)
    assert again["incident_id"] != first["incident_id"]
    assert again["correlation"]["decision"] == "opened"


def test_a_verified_incident_is_never_joined_automatically(client, db, keys, verifier):
    first = first_report(client, keys[0])
    reviewed = client.post(
        f"/v1/incidents/{first['incident_id']}/review",
        json={"status": "verified", "note": "seen"},
        headers=auth(verifier),
    )
    assert reviewed.status_code == 200, reviewed.text
    before = incident(client, verifier, first["incident_id"])
    same = first_report(client, keys[1])
    assert same["incident_id"] != first["incident_id"]
    read = client.get(f"/v1/reports/{same['id']}", headers=auth(verifier)).json()
    [candidate] = read["correlation"]["candidates"]
    assert candidate["incident_id"] == first["incident_id"]
    assert candidate["score"] >= read["correlation"]["threshold"]
    assert "reviewed" in candidate["flags"] and candidate["status"] == "verified"
    after = incident(client, verifier, first["incident_id"])
    assert after == before and after["pending_review"] is False


def test_excluded_and_covered_parties_are_flagged(client, keys, verifier):
    first = first_report(client, keys[0], perpetrator="Jabhat Fateh al-Sham")
    assert first["ceasefire_status"] == "excluded"
    second = first_report(client, keys[1])
    assert second["ceasefire_status"] == "violation"
    read = client.get(f"/v1/reports/{second['id']}", headers=auth(verifier)).json()
    flagged = read["correlation"]["candidates"][0]
    assert flagged["incident_id"] == first["incident_id"]
    assert "excluded_mismatch" in flagged["flags"]
    if read["correlation"]["decision"] == "linked":
        assert "excluded_mismatch" in read["correlation"]["flags"]


def test_a_batch_is_correlated_with_stored_incidents_not_within_itself(
    client, db, keys, reporter, monkeypatch
):
    _, secret = reporter
    # Even with a low threshold, one key's reports (a batch's) stay apart.
    monkeypatch.setattr(get_settings(), "correlation_threshold", 0.5)
    stored = first_report(client, keys[0])
    items = [
        report_body(client_report_id=str(uuid.uuid4()), place_name=PLACE, description=TEXT)
        for _ in range(2)
    ]
    items.append(
        report_body(client_report_id=str(uuid.uuid4()), location=near(40), place_name="far")
    )
    response = client.post("/v1/reports/batch", json={"reports": items}, headers=auth(secret))
    assert response.status_code == 200, response.text
    results = [r["report"] for r in response.json()["results"]]
    # Both duplicates join the stored incident (another key's); the far one opens its own.
    assert [r["incident_id"] == stored["incident_id"] for r in results] == [True, True, False]
    assert [r["correlation"]["decision"] for r in results] == ["linked", "linked", "opened"]
    count = db.execute(
        text("SELECT report_count FROM incidents WHERE id = :id"), {"id": stored["incident_id"]}
    ).scalar_one()
    assert count == 3
    # Sent again: replayed, nothing new.
    again = client.post("/v1/reports/batch", json={"reports": items}, headers=auth(secret))
    assert [r["report"]["id"] for r in again.json()["results"]] == [r["id"] for r in results]


def test_a_report_naming_its_incident_is_not_correlated(client, keys):
    first = first_report(client, keys[0])
    claim = first_report(client, keys[1], incident_id=first["incident_id"])
    assert claim["correlation"] is None


# ---- split ----


def _linked_pair(client, keys):
    first = first_report(client, keys[0])
    second = first_report(
        client, keys[1], casualties={"killed": 40, "injured": 0, "civilians_killed": 0}
    )
    assert second["incident_id"] == first["incident_id"]
    return first, second


def test_a_verifier_splits_a_wrongly_linked_report(client, db, keys, verifier, make_key):
    first, second = _linked_pair(client, keys)
    _, third_key = make_key("reporter", "third")
    third = first_report(client, third_key, casualties={"killed": 5, "injured": 0})
    assert third["incident_id"] == first["incident_id"]
    old = first["incident_id"]
    response = client.post(
        f"/v1/reports/{second['id']}/split",
        json={"note": "another strike that day"},
        headers=auth(verifier),
    )
    assert response.status_code == 200, response.text
    body = response.json()
    new = body["incident"]
    assert body["report_id"] == second["id"]
    assert new["id"] != old and new["report_ids"] == [second["id"]]
    assert new["casualties"]["killed"] == 40 and new["report_count"] == 1
    left = body["from_incident"]
    # Derived again by the casualty rule from the two reports left: lower median of 3 and 5.
    assert left["id"] == old and left["report_count"] == 2
    assert left["casualties"]["killed"] == 3
    assert second["id"] not in left["report_ids"]
    rows = db.execute(
        text(
            "SELECT action, entity_id, before, after, reason, actor FROM audit_events"
            " WHERE action IN ('report.split', 'incident.split') ORDER BY action DESC"
        )
    ).all()
    assert [(r.action, r.entity_id) for r in rows] == [
        ("report.split", second["id"]),
        ("incident.split", old),
    ]
    assert rows[0].before == {"incident_id": old} and rows[0].after == {"incident_id": new["id"]}
    assert rows[1].before["report_count"] == 3 and rows[1].after["report_count"] == 2
    assert rows[1].before["casualties"]["killed"] == 5
    assert {r.reason for r in rows} == {"another strike that day"}


@pytest.mark.parametrize("role", ["reporter", "monitor"])
def test_only_verifiers_and_admins_split(client, db, keys, make_key, role):
    _, second = _linked_pair(client, keys)
    _, secret = make_key(role, f"a {role}")
    before = counts(db)
    response = client.post(
        f"/v1/reports/{second['id']}/split", json={"note": "no"}, headers=auth(secret)
    )
    assert_problem(response, 403)
    assert client.post(f"/v1/reports/{second['id']}/split", json={"note": "no"}).status_code == 401
    # Nothing changes but the trace of the denied attempt.
    assert counts(db) == {**before, "audit_events": before["audit_events"] + 1}


def test_nonsense_splits_are_refused_and_change_nothing(client, db, keys, verifier, make_key):
    _, admin = make_key("admin", "an admin")
    first, second = _linked_pair(client, keys)
    alone = post(client, keys[2], location=near(40))
    before = counts(db)
    cases = [
        (alone["id"], {"note": "why"}, 409, "only report"),
        (str(uuid.uuid4()), {"note": "why"}, 404, "no report"),
        (second["id"], {}, 422, "note"),
        (second["id"], {"note": ""}, 422, "note"),
        (second["id"], {"note": "x", "into": "y"}, 422, "into"),
        (second["id"], {"note": 5}, 422, "note"),
    ]
    for report_id, body, status, words in cases:
        response = client.post(f"/v1/reports/{report_id}/split", json=body, headers=auth(admin))
        problem = assert_problem(response, status)
        assert words in problem["detail"], problem
    assert_problem(client.post("/v1/reports/not-a-uuid/split", json={"note": "x"}), 404)
    # A rejected incident, or one holding reports for review, is not split.
    client.post(
        f"/v1/incidents/{first['incident_id']}/review",
        json={"status": "rejected", "note": "no"},
        headers=auth(verifier),
    )
    response = client.post(
        f"/v1/reports/{second['id']}/split", json={"note": "x"}, headers=auth(verifier)
    )
    assert "rejected" in assert_problem(response, 409)["detail"]
    client.post(
        f"/v1/incidents/{first['incident_id']}/review",
        json={"status": "verified", "note": "yes"},
        headers=auth(verifier),
    )
    post(client, keys[2], incident_id=first["incident_id"])
    response = client.post(
        f"/v1/reports/{second['id']}/split", json={"note": "x"}, headers=auth(verifier)
    )
    assert "review" in assert_problem(response, 409)["detail"]
    assert counts(db)["incidents"] == before["incidents"]


# ---- confidence ----

A1 = {"kind": "media", "publisher": "Agency", "reliability": "A", "credibility": 1}


def test_confidence_follows_grades_sources_and_keys(client, keys, verifier):
    bare = post(client, keys[0], location=near(40))
    assert incident(client, verifier, bare["incident_id"])["confidence"] == 0
    graded = post(client, keys[0], sources=[A1])
    shown = incident(client, verifier, graded["incident_id"])
    # 0.5 x 1.0 (A1) + 0.2 x (1 - 0.5) (one source) + 0.3 x 0 (one key)
    assert shown["confidence"] == pytest.approx(0.6)
    assert shown["confidence_band"] == "medium"
    post(
        client,
        keys[1],
        incident_id=graded["incident_id"],
        sources=[{"kind": "witness", "publisher": "Neighbour", "reliability": "C"}],
    )
    shown = incident(client, verifier, graded["incident_id"])
    # + two independent sources (0.2 x 0.75) and two keys (0.3 x 0.5)
    assert shown["confidence"] == pytest.approx(0.8)
    assert shown["confidence_band"] == "high"


def test_the_digest_counts_incidents_by_confidence_band(client, db, submitter, make_key):
    day = dt.date(2017, 2, 10)
    make_incidents(
        db,
        submitter,
        report(at="2017-02-10T08:00:00+02:00", sources=[A1]),
        report(at="2017-02-10T12:00:00+02:00", where=[37.16, 36.2]),
    )
    build_days(session=db, first=day, last=day)
    _, monitor = make_key("monitor")
    doc = client.get("/v1/digests/daily/2017-02-10", headers=auth(monitor)).json()
    bands = {b["band"]: b["incidents"] for b in doc["by_confidence"]}
    assert bands == {"low": 1, "medium": 1, "high": 0}
    csv = client.get(
        "/v1/digests/daily/2017-02-10", params={"format": "csv"}, headers=auth(monitor)
    ).text
    assert "by_confidence,medium,medium,incidents,1" in csv
    markdown = client.get(
        "/v1/digests/daily/2017-02-10", params={"format": "md"}, headers=auth(monitor)
    ).text
    assert "## By confidence" in markdown
    # The public view withholds small bands like every other row.
    public = client.get("/v1/digests/daily/2017-02-10").json()
    assert all(b["suppressed"] or b["incidents"] == 0 for b in public["by_confidence"])
