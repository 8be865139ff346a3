"""Security promises not covered elsewhere: denied attempts are audited, and logs never hold
exact coordinates, secrets or reporter identity (reliability.md rows 25 and 22)."""

import json
import logging

from sqlalchemy import text

from service.observability import JSONFormatter


def test_a_role_denied_is_audited(client, db, reporter):
    principal, secret = reporter
    response = client.get("/v1/audit", headers={"Authorization": f"Bearer {secret}"})
    assert response.status_code == 403
    assert "needs admin" in response.json()["detail"]
    event = db.execute(
        text(
            "SELECT action, entity_id, actor_key_id, reason FROM audit_events"
            " WHERE action = 'access.denied' AND actor_key_id = :key"
        ),
        {"key": principal.key_id},
    ).one()
    assert event.entity_id == "GET /v1/audit"
    assert event.reason == "role reporter; needs admin"


def test_logs_hold_no_coordinates_secrets_or_reporter(client, reporter, caplog):
    principal, secret = reporter
    caplog.set_level(logging.DEBUG)
    body = {
        "occurred_at": "2017-01-10T09:30:00+02:00",
        "location": {"type": "Point", "coordinates": [36.6312377, 35.9311181]},
        "violation_type": "shelling",
        "perpetrator": "SAA",
        "description": "shells hit the market",
    }
    headers = {"Authorization": f"Bearer {secret}", "Idempotency-Key": "log-check-1"}
    assert client.post("/v1/reports", json=body, headers=headers).status_code == 201
    client.get("/v1/locate", params={"lon": 36.6312377, "lat": 35.9311181})
    client.get("/v1/reports", params={"bbox": "36.6312,35.9311,36.6313,35.9312"}, headers=headers)
    # The test's own HTTP client logs the URLs it requests; only the service's logs count.
    server_side = [r for r in caplog.records if not r.name.startswith(("httpx", "httpcore"))]
    lines = [JSONFormatter().format(record) for record in server_side]
    assert any(json.loads(line).get("route") == "/v1/reports" for line in lines)
    everything = "\n".join(lines)
    for secret_or_exact in (secret, "36.6312", "35.9311", principal.name, "shells hit"):
        assert secret_or_exact not in everything
