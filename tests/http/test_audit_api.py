"""The audit trail over HTTP (admins only): every state change, with filters and paging."""

import pytest

from tests.http.report_helpers import assert_problem, auth, report_body


@pytest.fixture
def admin(make_key):
    return make_key("admin", "admin A")


def events(client, secret, **params):
    response = client.get("/v1/audit", params=params, headers=auth(secret))
    assert response.status_code == 200, response.text
    return response.json()


def test_every_state_change_is_in_the_trail(client, reporter, make_key, admin):
    principal, secret = reporter
    _, verifier = make_key("verifier", "verifier V")
    _, admin_secret = admin
    a = client.post("/v1/reports", json=report_body(), headers=auth(secret)).json()
    b = client.post("/v1/reports", json=report_body(), headers=auth(secret)).json()
    client.patch(
        f"/v1/reports/{a['id']}",
        json={"place_name": "Saraqib", "reason": "typo"},
        headers=auth(secret),
    )
    client.post(
        f"/v1/incidents/{a['incident_id']}/review",
        json={"status": "verified", "note": "confirmed"},
        headers=auth(verifier),
    )
    client.post(
        f"/v1/incidents/{b['incident_id']}/merge",
        json={"into": a["incident_id"], "note": "duplicate"},
        headers=auth(verifier),
    )
    trail = events(client, admin_secret, limit=1000)["items"]
    actions = [(e["action"], e["entity_id"]) for e in trail]
    for expected in [
        ("key.created", str(principal.key_id)),
        ("report.created", a["id"]),
        ("report.created", b["id"]),
        ("report.revised", a["id"]),
        ("incident.reviewed", a["incident_id"]),
        ("incident.merged", b["incident_id"]),
        ("incident.absorbed", a["incident_id"]),
    ]:
        assert expected in actions
    revised = next(e for e in trail if e["action"] == "report.revised")
    assert revised["actor"] == "key:field reporter A"
    assert revised["actor_key_id"] == str(principal.key_id)
    assert revised["before"] == {"revision": 1, "place_name": None}
    assert revised["after"] == {"revision": 2, "place_name": "Saraqib"}
    assert revised["reason"] == "typo"
    assert revised["at"]
    ids = [e["id"] for e in trail]
    assert ids == sorted(ids, reverse=True)  # newest first


def test_filters_and_paging(client, reporter, admin):
    principal, secret = reporter
    _, admin_secret = admin
    made = [
        client.post("/v1/reports", json=report_body(), headers=auth(secret)).json()["id"]
        for _ in range(5)
    ]
    seen, url = [], "/v1/audit?action=report.created&entity_type=report&limit=2"
    while url:
        page = client.get(url, headers=auth(admin_secret)).json()
        assert len(page["items"]) <= 2
        seen += [e["entity_id"] for e in page["items"]]
        url = page["next"]
    assert set(made) <= set(seen) and len(seen) == len(set(seen))
    one = events(client, admin_secret, entity_type="report", entity_id=made[0])["items"]
    assert [(e["action"], e["entity_id"]) for e in one] == [("report.created", made[0])]
    by_key = events(client, admin_secret, actor=str(principal.key_id), action="report.created")
    by_name = events(client, admin_secret, actor="key:field reporter A", action="report.created")
    assert {e["entity_id"] for e in by_key["items"]} == set(made)
    assert by_name["items"] == by_key["items"]
    assert events(client, admin_secret, actor="console", action="key.created")["items"]
    assert events(client, admin_secret, since="2999-01-01T00:00:00Z")["items"] == []
    assert events(client, admin_secret, until="2000-01-01T00:00:00Z")["items"] == []


@pytest.mark.parametrize(
    "params",
    [{"limit": "0"}, {"limit": "5000"}, {"since": "2017-01-01"}, {"entity_type": ""}],
)
def test_bad_parameters_are_400(client, admin, params):
    # A bad query parameter is a 400 on every endpoint (errors.py).
    _, admin_secret = admin
    assert_problem(client.get("/v1/audit", params=params, headers=auth(admin_secret)), 400)


def test_a_forged_cursor_is_400(client, admin):
    _, admin_secret = admin
    assert_problem(client.get("/v1/audit?cursor=eHl6", headers=auth(admin_secret)), 400)


def test_the_trail_is_append_only(db, admin):
    from sqlalchemy import text
    from sqlalchemy.exc import DBAPIError

    with pytest.raises(DBAPIError, match="append-only"), db.begin_nested():
        db.execute(text("DELETE FROM audit_events"))
