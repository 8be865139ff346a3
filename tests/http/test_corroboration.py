"""Corroboration is a claim, not a write (issue 9).

A report naming an ``incident_id`` is linked only when plausible for that incident; refused
claims are audited; a reviewed incident's published figures change only when a verifier
accepts; casualties follow one rule (each key once, the lower median across keys).
"""

from __future__ import annotations

import re
import uuid

import pytest
from sqlalchemy import text

from service.config import get_settings
from tests.http.report_helpers import IDLEB, assert_problem, auth, count, report_body

DARAA = [36.10, 32.62]  # some 370 km south of IDLEB
ITEMS = "/collections/incidents/items"


@pytest.fixture
def verifier(make_key):
    return make_key("verifier", "verifier V")[1]


@pytest.fixture
def keys(make_key):
    """Three more reporter keys."""
    return [make_key("reporter", f"field reporter {n}")[1] for n in "BCD"]


def post(client, secret, **fields):
    return client.post("/v1/reports", json=report_body(**fields), headers=auth(secret))


def opened(client, secret, **fields) -> dict:
    response = post(client, secret, **fields)
    assert response.status_code == 201, response.text
    return response.json()


def review(client, verifier, incident_id, status="verified", **extra):
    response = client.post(
        f"/v1/incidents/{incident_id}/review",
        json={"status": status, "note": "checked", **extra},
        headers=auth(verifier),
    )
    assert response.status_code == 200, response.text
    return response.json()


def incident(client, verifier, incident_id) -> dict:
    response = client.get(f"/v1/incidents/{incident_id}", headers=auth(verifier))
    assert response.status_code == 200, response.text
    return response.json()


def audits(db, action, incident_id=None):
    condition = "action = :action" + (" AND entity_id = :id" if incident_id else "")
    return db.execute(
        text(
            f"SELECT actor_key_id, before, after, reason FROM audit_events WHERE {condition}"
            " ORDER BY id"
        ),
        {"action": action, "id": str(incident_id)},
    ).all()


def public_view(client, incident_id):
    """What the public sees of an incident: its feature, and the province statistics."""
    features = {
        f["id"]: f["properties"] for f in client.get(f"{ITEMS}?limit=1000").json()["features"]
    }
    stats = client.get("/v1/stats/provinces?simplify=0.05").json()
    provinces = {f["id"]: f["properties"] for f in stats["features"]}
    return features.get(incident_id), provinces


@pytest.mark.parametrize(
    ("fields", "reason"),
    [
        (
            {"location": {"type": "Point", "coordinates": DARAA}},
            r"is 3\d\d\.\d km from this report; corroborations must be within 5 km",
        ),
        (
            {"occurred_at": "2016-02-10T09:30:00+02:00"},
            r"happened \d+\.\d hours after this report; corroborations must be within 6 hours",
        ),
        (
            {"violation_type": "airstrike"},
            r"type airstrike \(aerial\) cannot corroborate an incident of type shelling",
        ),
        (
            {
                "location": {"type": "Point", "coordinates": DARAA},
                "occurred_at": "2016-02-10T09:30:00+02:00",
                "violation_type": "sniper",
            },
            r"cannot corroborate.*km from this report.*hours after this report",
        ),
    ],
    ids=["far", "old", "other-type", "all-three"],
)
def test_an_implausible_claim_is_refused_with_its_reason_and_audited(
    client, db, reporter, verifier, fields, reason
):
    principal, secret = reporter
    first = opened(client, secret)
    review(client, verifier, first["incident_id"])
    before = incident(client, verifier, first["incident_id"])
    reports = count(db, "reports")

    claim = post(
        client,
        secret,
        incident_id=first["incident_id"],
        casualties={"killed": 1_000_000, "injured": 0, "civilians_killed": 0},
        **fields,
    )
    problem = assert_problem(claim, 422)
    assert re.search(reason, problem["detail"]), problem["detail"]
    assert problem["errors"][0]["field"] == "body.incident_id"
    assert count(db, "reports") == reports
    assert incident(client, verifier, first["incident_id"]) == before
    # Committed on its own, though the report was refused: the key, the reason, the claim.
    [event] = audits(db, "report.corroboration_refused", first["incident_id"])
    assert event.actor_key_id == principal.key_id
    assert event.reason == problem["detail"].removeprefix("incident_id: ")
    assert event.after["casualties"]["killed"] == 1_000_000


def test_rejected_and_merged_incidents_cannot_be_corroborated(client, db, reporter, verifier):
    _, secret = reporter
    rejected, victim, survivor = (opened(client, secret)["incident_id"] for _ in range(3))
    review(client, verifier, rejected, "rejected")
    merged = client.post(
        f"/v1/incidents/{victim}/merge", json={"into": survivor}, headers=auth(verifier)
    )
    assert merged.status_code == 200, merged.text
    reports = count(db, "reports")

    detail = assert_problem(post(client, secret, incident_id=rejected), 422)["detail"]
    assert "was rejected" in detail
    detail = assert_problem(post(client, secret, incident_id=victim), 422)["detail"]
    assert f"merged into {survivor}" in detail  # named, not silently followed
    unknown = str(uuid.uuid4())
    assert (
        f"no incident {unknown}"
        in assert_problem(post(client, secret, incident_id=unknown), 422)["detail"]
    )

    assert count(db, "reports") == reports
    for target in (rejected, victim, unknown):
        assert len(audits(db, "report.corroboration_refused", target)) == 1
    assert incident(client, verifier, survivor)["report_count"] == 2


def test_an_unverified_incident_takes_the_lower_median_across_keys(
    client, db, reporter, verifier, keys
):
    _, secret = reporter
    first = opened(client, secret)  # killed 3, injured 5, civilians 1
    iid = first["incident_id"]
    near = {"type": "Point", "coordinates": [IDLEB[0] + 0.03, IDLEB[1]]}  # some 2.7 km east
    huge = {"killed": 1_000_000, "injured": 1_000_000, "civilians_killed": 1_000_000}
    # One key claims a million three times: one voice, and the smaller of two figures counts.
    for _ in range(3):
        response = post(
            client,
            keys[0],
            incident_id=iid,
            location=near,
            occurred_at="2017-01-10T12:00:00+02:00",
            casualties=huge,
        )
        assert response.status_code == 201, response.text
        assert response.json()["incident_id"] == iid
    linked = incident(client, verifier, iid)
    assert linked["report_count"] == 4
    assert linked["casualties"] == {"killed": 3, "injured": 5, "civilians_killed": 1}
    assert linked["casualties_range"]["killed"] == [3, 1_000_000]
    # A third key with 7 killed: the median of 3, 7 and a million is 7.
    post(
        client,
        keys[1],
        incident_id=iid,
        casualties={"killed": 7, "injured": 5, "civilians_killed": 1},
    )
    linked = incident(client, verifier, iid)
    assert linked["casualties"]["killed"] == 7 and linked["pending_review"] is False
    assert audits(db, "incident.corroboration_pending", iid) == []


def test_a_verified_incident_is_held_for_review_until_a_verifier_accepts(
    client, db, reporter, verifier, keys
):
    principal, secret = reporter
    first = opened(client, secret)
    iid = first["incident_id"]
    review(client, verifier, iid)
    public_before = public_view(client, iid)
    assert public_before[0]["killed"] == 3

    # Two keys corroborate plausibly with far larger figures.
    report_ids = []
    for key, killed in ((keys[0], 1_000_000), (keys[1], 40)):
        response = post(
            client,
            key,
            incident_id=iid,
            casualties={"killed": killed, "injured": 5, "civilians_killed": 1},
        )
        assert response.status_code == 201, response.text
        report_ids.append(response.json()["id"])

    # What the public sees did not move, not even the report count.
    assert public_view(client, iid) == public_before
    held = incident(client, verifier, iid)
    assert (held["status"], held["casualties"]["killed"], held["report_count"]) == (
        "verified",
        3,
        1,
    )
    assert held["pending_review"] is True and held["pending_since"] is not None
    assert held["proposed"]["casualties"]["killed"] == 40  # median of 3, 40, a million
    assert held["proposed"]["casualties_range"]["killed"] == [3, 1_000_000]
    assert held["proposed"]["report_count"] == 3
    # The public never sees the flag or the proposal.
    assert "pending_review" not in public_before[0] and "proposed" not in public_before[0]
    # The verifiers' queue.
    queue = client.get("/v1/incidents?pending_review=true", headers=auth(verifier)).json()
    assert [i["id"] for i in queue["items"]] == [iid]
    rest = client.get("/v1/incidents?pending_review=false", headers=auth(verifier)).json()
    assert iid not in {i["id"] for i in rest["items"]}
    # Audited: each report, its key, its figures and what it would publish.
    pending = audits(db, "incident.corroboration_pending", iid)
    assert [e.after["report_id"] for e in pending] == report_ids
    assert pending[0].after["report_casualties"]["killed"] == 1_000_000
    assert pending[0].before["casualties"]["killed"] == 3
    assert pending[1].after["proposed"]["casualties"]["killed"] == 40

    accepted = review(client, verifier, iid, accept_reports=True)
    assert accepted["casualties"]["killed"] == 40 and accepted["report_count"] == 3
    assert accepted["pending_review"] is False and accepted["proposed"] is None
    feature, _ = public_view(client, iid)
    assert (feature["killed"], feature["report_count"]) == (40, 3)
    [event] = audits(db, "incident.corroboration_accepted", iid)
    assert event.before["casualties"]["killed"] == 3 and event.after["casualties"]["killed"] == 40
    assert (
        client.get("/v1/incidents?pending_review=true", headers=auth(verifier)).json()["items"]
        == []
    )


def test_a_verifier_may_decline_held_reports(client, db, reporter, verifier, keys):
    _, secret = reporter
    iid = opened(client, secret)["incident_id"]
    review(client, verifier, iid, "disputed")
    response = post(
        client,
        keys[0],
        incident_id=iid,
        casualties={"killed": 90, "injured": 0, "civilians_killed": 0},
    )
    assert response.status_code == 201, response.text
    assert incident(client, verifier, iid)["pending_review"] is True
    declined = review(client, verifier, iid, "verified", accept_reports=False)
    assert declined["pending_review"] is False
    assert (declined["casualties"]["killed"], declined["report_count"]) == (3, 1)
    [event] = audits(db, "incident.corroboration_declined", iid)
    assert event.before["proposed"]["report_count"] == 2


def test_a_batch_checks_every_claim_and_audits_each(client, db, reporter, verifier, keys):
    _, secret = reporter
    verified, unverified, rejected = (opened(client, secret)["incident_id"] for _ in range(3))
    review(client, verifier, verified)
    review(client, verifier, rejected, "rejected")
    public_before = public_view(client, verified)

    def item(**fields):
        return report_body(client_report_id=str(uuid.uuid4()), **fields)

    huge = {"killed": 1_000_000, "injured": 0, "civilians_killed": 0}
    batch = [
        item(incident_id=verified, casualties=huge),  # plausible: held for review
        item(incident_id=verified, casualties=huge, violation_type="sniper"),
        item(incident_id=unverified, casualties=huge),  # plausible: linked
        item(incident_id=rejected),
        item(incident_id=verified, location={"type": "Point", "coordinates": DARAA}),
        item(),  # a new incident
    ]
    response = client.post("/v1/reports/batch", json={"reports": batch}, headers=auth(keys[0]))
    assert response.status_code == 200, response.text
    results = response.json()["results"]
    assert [r["status"] for r in results] == [201, 422, 201, 422, 422, 201]
    assert results[1]["problem"]["errors"][0]["field"] == "body.reports.1.incident_id"
    assert "was rejected" in results[3]["problem"]["detail"]
    assert "km from this report" in results[4]["problem"]["detail"]

    assert public_view(client, verified) == public_before
    assert incident(client, verifier, verified)["pending_review"] is True
    # Two keys, 3 and a million: the lower median.
    assert incident(client, verifier, unverified)["casualties"]["killed"] == 3
    assert len(audits(db, "report.corroboration_refused", verified)) == 2
    assert len(audits(db, "report.corroboration_refused", rejected)) == 1
    assert len(audits(db, "incident.corroboration_pending", verified)) == 1


def test_a_revision_cannot_move_a_corroboration_away(client, db, reporter, keys):
    _, secret = reporter
    iid = opened(client, secret)["incident_id"]
    claim = post(client, keys[0], incident_id=iid)
    assert claim.status_code == 201, claim.text
    moved = client.patch(
        f"/v1/reports/{claim.json()['id']}",
        json={"location": {"type": "Point", "coordinates": DARAA}},
        headers=auth(keys[0]),
    )
    assert "km from this report" in assert_problem(moved, 422)["detail"]
    assert count(db, "reports", "id = :id AND revision = 1", id=claim.json()["id"]) == 1
    # Nor may it name another incident.
    other = opened(client, secret)["incident_id"]
    renamed = client.patch(
        f"/v1/reports/{claim.json()['id']}", json={"incident_id": other}, headers=auth(keys[0])
    )
    assert_problem(renamed, 422)
    # Revising a lone report anywhere is still allowed: it corroborates nothing.
    alone = opened(client, secret)
    far = client.patch(
        f"/v1/reports/{alone['id']}",
        json={"location": {"type": "Point", "coordinates": DARAA}},
        headers=auth(secret),
    )
    assert far.status_code == 200, far.text


def test_the_bounds_are_settings_shared_with_duplicate_candidates(
    client, reporter, verifier, monkeypatch
):
    _, secret = reporter
    iid = opened(client, secret)["incident_id"]
    ten_km = {"type": "Point", "coordinates": [IDLEB[0] + 0.11, IDLEB[1]]}
    other = opened(client, secret, location=ten_km, violation_type="shelling")["incident_id"]
    candidates = client.get(f"/v1/incidents/{iid}/candidates", headers=auth(verifier)).json()
    assert other not in {c["incident"]["id"] for c in candidates}
    assert_problem(post(client, secret, incident_id=iid, location=ten_km), 422)

    monkeypatch.setattr(get_settings(), "corroboration_max_distance_km", 20.0)
    candidates = client.get(f"/v1/incidents/{iid}/candidates", headers=auth(verifier)).json()
    assert other in {c["incident"]["id"] for c in candidates}
    assert post(client, secret, incident_id=iid, location=ten_km).status_code == 201


def test_duplicate_candidates_follow_the_type_families(client, reporter, verifier):
    _, secret = reporter
    iid = opened(client, secret, violation_type="airstrike")["incident_id"]
    barrel = opened(client, secret, violation_type="barrel_bomb")["incident_id"]
    shelling = opened(client, secret, violation_type="shelling")["incident_id"]
    candidates = client.get(f"/v1/incidents/{iid}/candidates", headers=auth(verifier)).json()
    found = {c["incident"]["id"] for c in candidates}
    assert barrel in found and shelling not in found


def test_a_retry_of_a_stored_claim_replays_after_its_incident_was_merged(
    client, db, reporter, verifier
):
    _, secret = reporter
    victim, survivor = (opened(client, secret)["incident_id"] for _ in range(2))
    cid = str(uuid.uuid4())
    first = opened(client, secret, incident_id=victim, client_report_id=cid)
    merged = client.post(
        f"/v1/incidents/{victim}/merge", json={"into": survivor}, headers=auth(verifier)
    )
    assert merged.status_code == 200, merged.text
    # The device never saw the first answer and sends the same report again, days later.
    retry = post(client, secret, incident_id=victim, client_report_id=cid)
    assert retry.status_code == 201, retry.text
    assert retry.json()["id"] == first["id"] and retry.json()["incident_id"] == survivor
    # A different report under the same client_report_id is still refused.
    changed = post(client, secret, incident_id=victim, client_report_id=cid, place_name="x")
    assert_problem(changed, 422)
    assert len(audits(db, "report.corroboration_refused", victim)) == 1
