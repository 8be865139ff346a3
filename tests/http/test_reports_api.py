"""Reports over HTTP: submit, read, page, revise, and who may see what."""

import uuid

import pytest
from sqlalchemy import text

from service.config import get_settings
from tests.http.report_helpers import IDLEB, assert_problem, auth, count, report_body


def post(client, secret, body=None, **headers):
    return client.post(
        "/v1/reports", json=report_body() if body is None else body, headers=auth(secret, **headers)
    )


def test_a_report_is_answered_201_with_location_and_what_the_service_understood(
    client, db, reporter
):
    principal, secret = reporter
    response = post(client, secret)
    assert response.status_code == 201, response.text
    report = response.json()
    # Absolute, under the configured public base URL (never the request's Host).
    base = get_settings().public_base_url
    assert response.headers["location"] == f"{base}/v1/reports/{report['id']}"
    assert report["province"] == {"pcode": "SY07", "name_en": "Idleb"}
    assert report["district"]["pcode"].startswith("SY07")
    assert report["location_match"] == "inside"
    assert report["perpetrator"]["party_id"] == "syrian-government-forces"
    assert report["responsible_guarantors"] == ["IRN", "RUS"]
    assert report["ceasefire_status"] == "violation"
    assert "reporter" not in report  # a reporter is not shown its own identity back
    stored = db.execute(
        text("SELECT reporter_key_id, incident_id FROM reports WHERE id = :id"),
        {"id": report["id"]},
    ).one()
    assert stored.reporter_key_id == principal.key_id
    assert str(stored.incident_id) == report["incident_id"]
    assert client.get(response.headers["location"], headers=auth(secret)).json() == report


def test_a_verifier_submitting_sees_the_reporter_field(client, make_key):
    principal, secret = make_key("verifier", "verifier V")
    report = post(client, secret).json()
    assert report["reporter"] == {"key_id": str(principal.key_id), "name": "verifier V"}


def test_a_province_contradicting_the_location_names_both(client, db, reporter):
    _, secret = reporter
    before = count(db, "reports")
    problem = assert_problem(post(client, secret, report_body(province="Aleppo")), 422)
    assert "Aleppo (SY02)" in problem["detail"] and "Idleb (SY07)" in problem["detail"]
    assert problem["errors"][0]["field"] == "body.province"
    assert count(db, "reports") == before


def test_province_only_report(client, reporter):
    _, secret = reporter
    report = post(client, secret, report_body(location=None, province="Idlib")).json()
    assert report["location_match"] == "province_only" and report["location"] is None


def test_corroborating_report_joins_the_incident(client, db, reporter):
    _, secret = reporter
    first = post(client, secret).json()
    second = post(client, secret, report_body(incident_id=first["incident_id"])).json()
    assert second["incident_id"] == first["incident_id"]
    assert count(db, "incidents", "id = :id AND report_count = 2", id=first["incident_id"]) == 1


# ---- reading: object-level authorisation ----


def test_a_reporter_sees_only_its_own_reports(client, make_key):
    _, alice = make_key("reporter", "alice")
    _, bob = make_key("reporter", "bob")
    mine = post(client, alice).json()
    theirs = post(client, bob).json()
    assert client.get(f"/v1/reports/{mine['id']}", headers=auth(alice)).status_code == 200
    # Another reporter's report and a report that does not exist look the same.
    other = client.get(f"/v1/reports/{theirs['id']}", headers=auth(alice))
    missing = client.get(f"/v1/reports/{uuid.uuid4()}", headers=auth(alice))
    assert_problem(other, 404)
    assert_problem(missing, 404)
    assert other.json()["title"] == missing.json()["title"]
    listed = {r["id"] for r in client.get("/v1/reports", headers=auth(alice)).json()["items"]}
    assert mine["id"] in listed and theirs["id"] not in listed
    history = client.get(f"/v1/reports/{theirs['id']}/history", headers=auth(alice))
    assert_problem(history, 404)


def test_bola_a_reporter_cannot_revise_or_delete_anothers_report(client, db, make_key):
    _, alice = make_key("reporter", "alice")
    _, bob = make_key("reporter", "bob")
    theirs = post(client, bob).json()
    patch = client.patch(
        f"/v1/reports/{theirs['id']}", json={"place_name": "mine now"}, headers=auth(alice)
    )
    assert_problem(patch, 404)
    assert count(db, "reports", "id = :id AND revision = 1", id=theirs["id"]) == 1
    # Reports are never deleted through the API: the method does not exist.
    delete = client.delete(f"/v1/reports/{theirs['id']}", headers=auth(alice))
    assert_problem(delete, 405)
    assert "DELETE" not in delete.headers["allow"]
    assert count(db, "reports", "id = :id", id=theirs["id"]) == 1


def test_report_ids_are_random_uuids(client, reporter):
    _, secret = reporter
    ids = [uuid.UUID(post(client, secret).json()["id"]) for _ in range(2)]
    assert all(i.version == 4 for i in ids)


@pytest.mark.parametrize(
    ("role", "sees_reporter"), [("verifier", True), ("admin", True), ("monitor", False)]
)
def test_verifiers_monitors_admins_see_all_reporter_identity_for_verifiers_and_admins(
    client, make_key, reporter, role, sees_reporter
):
    principal, secret = reporter
    report = post(client, secret).json()
    _, reader = make_key(role)
    one = client.get(f"/v1/reports/{report['id']}", headers=auth(reader)).json()
    assert ("reporter" in one) is sees_reporter
    if sees_reporter:
        assert one["reporter"] == {"key_id": str(principal.key_id), "name": principal.name}
    page = client.get("/v1/reports", headers=auth(reader)).json()
    [listed] = [r for r in page["items"] if r["id"] == report["id"]]
    assert ("reporter" in listed) is sees_reporter


# ---- paging and filters ----


def test_paging_visits_every_report_exactly_once(client, db, reporter):
    principal, secret = reporter
    batch = [report_body(client_report_id=str(uuid.uuid4())) for _ in range(23)]
    response = client.post("/v1/reports/batch", json={"reports": batch}, headers=auth(secret))
    assert response.json()["accepted"] == 23
    seen: list[str] = []
    url = "/v1/reports?limit=5"
    pages = 0
    while url:
        response = client.get(url, headers=auth(secret))
        assert response.status_code == 200
        page = response.json()
        assert len(page["items"]) <= 5
        seen += [r["id"] for r in page["items"]]
        url = page["next"]
        if url:
            assert response.headers["link"] == f'<{url}>; rel="next"'
        pages += 1
        assert pages <= 10
    assert len(seen) == len(set(seen)) == 23
    stored = db.execute(
        text("SELECT id::text FROM reports WHERE reporter_key_id = :key"),
        {"key": principal.key_id},
    ).scalars()
    assert set(seen) == set(stored)


def test_filters(client, reporter):
    _, secret = reporter
    idleb = post(client, secret).json()
    aleppo = post(
        client,
        secret,
        report_body(
            location={"type": "Point", "coordinates": [37.16, 36.2]},
            violation_type="airstrike",
            perpetrator="Turkish Armed Forces",
            occurred_at="2017-02-01T10:00:00+02:00",
        ),
    ).json()
    assert aleppo["province"]["pcode"] == "SY02"

    def ids(**params):
        response = client.get("/v1/reports", params=params, headers=auth(secret))
        assert response.status_code == 200, response.text
        return {r["id"] for r in response.json()["items"]}

    assert ids(province="Idlib") == {idleb["id"]}
    assert ids(province="SY02") == {aleppo["id"]}
    assert ids(province=["SY02", "SY07"]) == {idleb["id"], aleppo["id"]}
    assert ids(violation_type="airstrike") == {aleppo["id"]}
    assert ids(ceasefire_status="violation") >= {idleb["id"]}
    assert ids(party="SAA") == {idleb["id"]}
    assert ids(guarantor="irn") == {idleb["id"]}
    assert ids(since="2017-01-20T00:00:00Z") == {aleppo["id"]}
    assert ids(until="2017-01-20T00:00:00Z") == {idleb["id"]}
    assert ids(bbox="36.5,35.8,36.8,36.0") == {idleb["id"]}


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"province": "Atlantis"}, "query.province"),
        ({"party": "nobody at all"}, "query.party"),
        ({"guarantor": "USA"}, "query.guarantor"),
        ({"violation_type": "tickling"}, "query.violation_type"),
        ({"since": "2017-01-01T00:00:00"}, "query.since"),  # no offset
        ({"bbox": "1,2,3"}, "query.bbox"),
        ({"bbox": "nan,1,2,3"}, "query.bbox"),
        ({"since": "2017-02-01T00:00:00Z", "until": "2017-01-01T00:00:00Z"}, "query.until"),
    ],
)
def test_bad_filters_are_400_naming_the_parameter(client, reporter, params, field):
    # 400 as on the map routes (OGC API - Features): one answer to a bad query parameter.
    _, secret = reporter
    problem = assert_problem(client.get("/v1/reports", params=params, headers=auth(secret)), 400)
    assert problem["type"].endswith("/invalid-parameter")
    assert field in [e["field"] for e in problem["errors"]]


@pytest.mark.parametrize("limit", ["1000000", "-1", "0", "1001", "ten"])
def test_page_size_out_of_range_is_400(client, reporter, limit):
    _, secret = reporter
    problem = assert_problem(
        client.get("/v1/reports", params={"limit": limit}, headers=auth(secret)), 400
    )
    assert problem["errors"][0]["field"] == "query.limit"


def test_a_forged_cursor_is_400(client, reporter):
    _, secret = reporter
    assert_problem(client.get("/v1/reports?cursor=bm9wZQ", headers=auth(secret)), 400)


# ---- revisions ----


def test_revising_rederives_and_keeps_every_revision(client, db, reporter):
    _, secret = reporter
    report = post(client, secret).json()
    moved = client.patch(
        f"/v1/reports/{report['id']}",
        json={
            "location": {"type": "Point", "coordinates": [37.16, 36.2]},
            "perpetrator": "Turkish Armed Forces",
            "reason": "wrong village at first",
        },
        headers=auth(secret),
    )
    assert moved.status_code == 200, moved.text
    revised = moved.json()
    assert revised["revision"] == 2
    assert revised["province"]["pcode"] == "SY02"  # re-derived from the new point
    assert revised["perpetrator"]["party_id"] == "turkish-forces"
    assert revised["responsible_guarantors"] == ["TUR"]
    assert revised["casualties"] == report["casualties"]  # untouched fields stay
    incident = db.execute(
        text("SELECT province_pcode, responsible_guarantors FROM incidents WHERE id = :id"),
        {"id": report["incident_id"]},
    ).one()
    assert tuple(incident) == ("SY02", ["TUR"])  # the incident was refreshed

    history = client.get(f"/v1/reports/{report['id']}/history", headers=auth(secret)).json()
    assert [h["revision"] for h in history] == [1, 2]
    assert history[0]["report"]["province"]["pcode"] == "SY07"
    assert history[1]["report"]["province"]["pcode"] == "SY02"
    assert all("reporter" not in h["report"] for h in history)

    audit = db.execute(
        text(
            "SELECT before, after, reason FROM audit_events"
            " WHERE entity_id = :id AND action = 'report.revised'"
        ),
        {"id": report["id"]},
    ).one()
    assert audit.before["province"]["pcode"] == "SY07"
    assert audit.after["province"]["pcode"] == "SY02"
    assert (audit.before["revision"], audit.after["revision"]) == (1, 2)
    assert audit.reason == "wrong village at first"
    assert "casualties" not in audit.after  # only what changed


def test_dropping_the_point_keeps_the_area(client, reporter):
    _, secret = reporter
    report = post(client, secret).json()
    revised = client.patch(
        f"/v1/reports/{report['id']}", json={"location": None}, headers=auth(secret)
    ).json()
    assert revised["location"] is None and revised["location_match"] == "province_only"
    assert revised["province"]["pcode"] == "SY07"


def test_a_revision_is_refused_once_the_incident_is_reviewed(client, db, reporter, make_key):
    _, secret = reporter
    _, verifier = make_key("verifier")
    report = post(client, secret).json()
    review = client.post(
        f"/v1/incidents/{report['incident_id']}/review",
        json={"status": "verified", "note": "two witnesses"},
        headers=auth(verifier),
    )
    assert review.status_code == 200, review.text
    before = count(db, "report_revisions")
    refused = client.patch(
        f"/v1/reports/{report['id']}", json={"place_name": "Saraqib"}, headers=auth(secret)
    )
    assert "verified" in assert_problem(refused, 409)["detail"]
    assert count(db, "report_revisions") == before
    assert count(db, "reports", "id = :id AND place_name IS NULL", id=report["id"]) == 1


def test_only_the_reporter_itself_may_revise(client, db, reporter, make_key):
    _, secret = reporter
    _, verifier = make_key("verifier")
    _, monitor = make_key("monitor")
    report = post(client, secret).json()
    body = {"place_name": "Saraqib"}
    assert_problem(
        client.patch(f"/v1/reports/{report['id']}", json=body, headers=auth(verifier)), 403
    )
    assert_problem(
        client.patch(f"/v1/reports/{report['id']}", json=body, headers=auth(monitor)), 403
    )
    assert count(db, "reports", "id = :id AND revision = 1", id=report["id"]) == 1


@pytest.mark.parametrize(
    ("body", "status"),
    [
        ({}, 422),  # nothing to revise
        ({"id": str(uuid.uuid4())}, 422),
        ({"incident_id": str(uuid.uuid4())}, 422),
        ({"client_report_id": str(uuid.uuid4())}, 422),
        ({"province": "Aleppo"}, 422),  # contradicts the stored point
        ({"occurred_at": None}, 422),
        ({"location": {"type": "Point", "coordinates": [IDLEB[1], IDLEB[0]]}}, 422),  # swapped
    ],
)
def test_bad_revisions_change_nothing(client, db, reporter, body, status):
    _, secret = reporter
    report = post(client, secret).json()
    before = count(db, "report_revisions")
    assert_problem(
        client.patch(f"/v1/reports/{report['id']}", json=body, headers=auth(secret)), status
    )
    assert count(db, "report_revisions") == before
    assert count(db, "reports", "id = :id AND revision = 1", id=report["id"]) == 1


def test_a_report_and_the_incident_it_opens_show_the_same_event(client, reporter, make_key):
    from service.event.schemas import EventRead

    _, secret = reporter
    report = post(client, secret).json()
    _, monitor = make_key("monitor", "monitor M")
    incident = client.get(f"/v1/incidents/{report['incident_id']}", headers=auth(monitor))
    assert incident.status_code == 200, incident.text
    event = list(EventRead.model_fields)
    shown = {name: report[name] for name in event}
    assert shown == {name: incident.json()[name] for name in event}
    assert shown["casualties"] == {"killed": 3, "injured": 5, "civilians_killed": 1}
    assert shown["location"] == {"type": "Point", "coordinates": IDLEB}
