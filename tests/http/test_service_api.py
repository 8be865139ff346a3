"""Health, readiness, metrics, errors and the committed OpenAPI document."""

import json
from pathlib import Path

OPENAPI_FILE = Path(__file__).resolve().parents[2] / "openapi" / "openapi.json"


def test_healthz(client):
    assert client.get("/healthz").json() == {"status": "ok"}


def test_readyz_when_migrated_and_seeded(client):
    response = client.get("/readyz")
    assert response.status_code == 200
    assert response.json()["checks"] == {
        "database": "ok",
        "migrations": "ok",
        "reference_data": "ok",
    }


def test_readyz_is_503_when_the_database_is_unreachable(app, client):
    from sqlalchemy.orm import sessionmaker

    from service.db import make_engine
    from service.health.ops import ops_sessions

    dead = make_engine("postgresql+psycopg://postgres@127.0.0.1:1/ceasefire")
    app.dependency_overrides[ops_sessions] = lambda: sessionmaker(bind=dead)
    response = client.get("/readyz")
    assert response.status_code == 503
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["checks"] == {"database": "unreachable"}
    dead.dispose()


def test_metrics_count_requests_by_route_template(client, make_key):
    _, secret = make_key("monitor")
    client.get("/v1/provinces/SY07")
    client.get("/v1/provinces/SY99")
    text = client.get("/metrics", headers={"Authorization": f"Bearer {secret}"}).text
    assert 'route="/v1/provinces/{pcode}",status="200"' in text
    assert 'route="/v1/provinces/{pcode}",status="404"' in text
    assert "ceasefire_http_request_duration_seconds_bucket" in text


def test_unknown_route_is_a_404_problem(client):
    response = client.get("/v1/nothing-here")
    assert response.status_code == 404
    assert response.headers["content-type"] == "application/problem+json"
    assert set(response.json()) >= {"type", "title", "status", "detail"}


def test_wrong_method_is_a_405_with_allow(client):
    response = client.delete("/v1/parties")
    assert response.status_code == 405
    assert response.headers["allow"] == "GET, POST"  # read by all, curated by admins
    assert response.headers["content-type"] == "application/problem+json"


def test_every_response_carries_a_request_id(client):
    assert client.get("/healthz").headers["x-request-id"]
    incoming = "0b6f5a4e-8c1d-4d2a-9f3e-2a7b6c5d4e3f"
    assert (
        client.get("/healthz", headers={"X-Request-ID": incoming}).headers["x-request-id"]
        == incoming
    )


def test_request_logs_are_json_without_coordinates(client, caplog):
    caplog.set_level("INFO", logger="ceasefire.access")
    client.get("/v1/locate", params={"lon": 36.6312345, "lat": 35.9312345})
    [record] = [r for r in caplog.records if r.name == "ceasefire.access"]
    fields = record.fields
    assert fields["route"] == "/v1/locate" and fields["status"] == 200
    from service.observability import JSONFormatter

    line = JSONFormatter().format(record)
    assert json.loads(line)["request_id"]
    assert "36.63" not in line and "35.93" not in line


def test_committed_openapi_matches_the_app(app):
    committed = json.loads(OPENAPI_FILE.read_text())
    assert committed == app.openapi(), (
        "openapi/openapi.json is stale: run `ceasefire openapi > openapi/openapi.json`"
    )


def test_operation_ids_are_stable_and_unique(app):
    ids = [op["operationId"] for path in app.openapi()["paths"].values() for op in path.values()]
    assert len(ids) == len(set(ids))
    assert "geography-locate" in ids and "parties-resolve_party" in ids
