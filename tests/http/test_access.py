"""Who may do what (reliability.md rows 24-28): deny by default, 401 with a challenge for
missing, unknown and revoked keys, 403 naming the roles needed, 429 at the per-key limit."""

import uuid

import pytest

from service.audit.service import CONSOLE
from service.auth import ratelimit
from service.auth.service import revoke_key
from service.config import get_settings
from tests.http.report_helpers import assert_problem, auth, counts, report_body

SUBMITTERS = {"reporter", "verifier", "admin"}
EVERYONE = {"reporter", "verifier", "monitor", "admin"}
READERS = {"verifier", "monitor", "admin"}
VERIFIERS = {"verifier", "admin"}

# (method, path template, roles allowed)
ENDPOINTS = [
    ("POST", "/v1/reports", SUBMITTERS),
    ("POST", "/v1/reports/batch", SUBMITTERS),
    ("GET", "/v1/reports", EVERYONE),
    ("GET", "/v1/reports/{own_report}", EVERYONE),
    ("PATCH", "/v1/reports/{own_report}", SUBMITTERS),
    ("GET", "/v1/reports/{own_report}/history", EVERYONE),
    ("GET", "/v1/incidents", READERS),
    ("GET", "/v1/incidents/{incident}", READERS),
    ("GET", "/v1/incidents/{incident}/candidates", READERS),
    ("POST", "/v1/incidents/{incident}/review", VERIFIERS),
    ("POST", "/v1/incidents/{incident}/merge", VERIFIERS),
    ("GET", "/v1/review-queue", VERIFIERS),
    ("POST", "/v1/reports/{linked_report}/split", VERIFIERS),
    ("GET", "/v1/audit", {"admin"}),
]


def body_for(path: str, other_incident: str):
    if path.endswith("/batch"):
        return {"reports": [report_body(client_report_id=str(uuid.uuid4()))]}
    if path.endswith("/review"):
        return {"status": "verified", "note": "seen"}
    if path.endswith("/merge"):
        return {"into": other_incident}
    if path.endswith("/split"):
        return {"note": "another event"}
    if path.startswith("/v1/reports/"):
        return {"place_name": "Saraqib"}
    return report_body()


@pytest.fixture
def world(client, make_key):
    """A report of the caller's own where it may submit, and two incidents (apart: not
    correlated), the other with a second report that correlation linked to it."""
    _, reporter_secret = make_key("reporter", "someone else")
    _, third_secret = make_key("reporter", "a third")
    elsewhere = report_body(location={"type": "Point", "coordinates": [36.74, 35.93]})

    def make(role):
        _, secret = make_key(role, f"caller {role}")
        owner = secret if role in SUBMITTERS else reporter_secret
        own_report = client.post("/v1/reports", json=report_body(), headers=auth(owner)).json()
        other = client.post("/v1/reports", json=elsewhere, headers=auth(reporter_secret)).json()
        linked = client.post("/v1/reports", json=elsewhere, headers=auth(third_secret)).json()
        assert linked["incident_id"] == other["incident_id"] != own_report["incident_id"]
        return secret, {
            "own_report": own_report["id"],
            "incident": own_report["incident_id"],
            "other_incident": other["incident_id"],
            "linked_report": linked["id"],
        }

    return make


@pytest.mark.parametrize("role", sorted(EVERYONE))
@pytest.mark.parametrize(("method", "path", "allowed"), ENDPOINTS)
def test_role_matrix(client, db, world, role, method, path, allowed):
    secret, ids = world(role)
    url = path.format(**ids)
    json_body = body_for(url, ids["other_incident"]) if method != "GET" else None
    before = counts(db)
    response = client.request(method, url, json=json_body, headers=auth(secret))
    if role in allowed:
        assert response.status_code in (200, 201), response.text
    else:
        problem = assert_problem(response, 403)
        assert f"a {role} key may not do this" in problem["detail"]
        assert "needs" in problem["detail"]  # the roles that may
        # Nothing changes but the trace of the attempt (reliability.md row 25).
        assert counts(db) == {**before, "audit_events": before["audit_events"] + 1}


@pytest.mark.parametrize(("method", "path", "allowed"), ENDPOINTS)
@pytest.mark.parametrize(
    "authorization",
    [None, "Bearer cfm_not-a-key", "Bearer ", "Basic dXNlcjpwYXNz", "Bearer a.b.c", "cfm_x"],
)
def test_missing_or_unknown_keys_are_401_with_a_challenge(
    client, db, method, path, allowed, authorization
):
    url = path.format(
        own_report=uuid.uuid4(),
        incident=uuid.uuid4(),
        other_incident=uuid.uuid4(),
        linked_report=uuid.uuid4(),
    )
    headers = {"Authorization": authorization} if authorization is not None else {}
    before = counts(db)
    json_body = body_for(url, str(uuid.uuid4())) if method != "GET" else None
    response = client.request(method, url, json=json_body, headers=headers)
    assert_problem(response, 401)
    assert response.headers["www-authenticate"].startswith("Bearer")
    assert counts(db) == before


def test_a_revoked_key_is_401(client, db, make_key):
    principal, secret = make_key("reporter")
    assert client.get("/v1/reports", headers=auth(secret)).status_code == 200
    revoke_key(session=db, key_id=principal.key_id, actor=CONSOLE, reason="device lost")
    db.commit()
    before = counts(db)
    response = client.post("/v1/reports", json=report_body(), headers=auth(secret))
    assert "revoked" in assert_problem(response, 401)["detail"]
    assert 'error="invalid_token"' in response.headers["www-authenticate"]
    assert counts(db) == before


@pytest.fixture
def forget_counters():
    """Remove the Redis counters of the keys a test names (the limiter's store is shared)."""
    key_ids = []
    yield key_ids.append
    for key_id in key_ids:
        ratelimit.forget(f"key:{key_id}")


def test_the_per_key_limit_answers_429_with_retry_after(
    client, db, make_key, monkeypatch, forget_counters
):
    settings = get_settings()
    monkeypatch.setattr(settings, "rate_limit_requests", 3)
    # Windows are aligned to the clock: one of 10^9 s (2001-2033) is never crossed mid-test.
    monkeypatch.setattr(settings, "rate_limit_window_s", 10**9)
    principal, secret = make_key("reporter")
    forget_counters(principal.key_id)
    other_principal, other = make_key("reporter")
    forget_counters(other_principal.key_id)
    statuses = [client.get("/v1/reports", headers=auth(secret)).status_code for _ in range(3)]
    assert statuses == [200, 200, 200]
    before = counts(db)
    limited = client.post("/v1/reports", json=report_body(), headers=auth(secret))
    assert "rate limit" in assert_problem(limited, 429)["detail"]
    assert int(limited.headers["retry-after"]) >= 1
    assert counts(db) == before
    # The limit is per key: another key is unaffected.
    assert client.get("/v1/reports", headers=auth(other)).status_code == 200
