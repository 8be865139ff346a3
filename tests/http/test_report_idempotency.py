"""Retries are safe (reliability.md rows 1-8): Idempotency-Key and client_report_id."""

import json
import uuid

import pytest
from sqlalchemy import text

from service.report.idempotency import purge_idempotency_keys
from tests.http.report_helpers import assert_problem, auth, count, counts, new_key, report_body


def post(client, secret, body, key=None, raw=None):
    headers = auth(secret)
    if key is not None:
        headers["Idempotency-Key"] = key
    if raw is not None:
        headers["Content-Type"] = "application/json"
        return client.post("/v1/reports", content=raw, headers=headers)
    return client.post("/v1/reports", json=body, headers=headers)


def test_without_a_key_a_report_is_still_accepted(client, db, reporter):
    # Row 1 does not apply: the key is optional (client_report_id also makes retries safe).
    _, secret = reporter
    assert post(client, secret, report_body()).status_code == 201
    assert count(db, "idempotency_keys") == 0


def test_a_replay_returns_the_same_body_and_stores_nothing_new(client, db, reporter):
    _, secret = reporter
    key = new_key()
    first = post(client, secret, report_body(), key)
    assert first.status_code == 201 and "idempotent-replayed" not in first.headers
    before = counts(db)
    again = post(client, secret, report_body(), key)
    assert again.status_code == 201
    assert again.content == first.content  # byte for byte, same id
    assert again.headers["location"] == first.headers["location"]
    assert again.headers["idempotent-replayed"] == "true"
    assert counts(db) == before
    assert count(db, "reports", "id = :id", id=first.json()["id"]) == 1


def test_the_replay_counter_counts(client, reporter, make_key):
    _, secret = reporter
    _, monitor = make_key("monitor")
    key = new_key()
    post(client, secret, report_body(), key)

    def replays():
        metrics = client.get("/metrics", headers={"Authorization": f"Bearer {monitor}"}).text
        [line] = [
            m for m in metrics.splitlines() if m.startswith("ceasefire_idempotent_replays_total")
        ]
        return float(line.split()[-1])

    before = replays()
    post(client, secret, report_body(), key)
    assert replays() == before + 1


def test_the_same_key_with_a_different_body_is_422_and_changes_nothing(client, db, reporter):
    _, secret = reporter
    key = new_key()
    first = post(client, secret, report_body(), key).json()
    before = counts(db)
    moved = report_body(location={"type": "Point", "coordinates": [36.64, 35.93]})
    problem = assert_problem(post(client, secret, moved, key), 422)
    assert "different payload" in problem["detail"]
    assert counts(db) == before
    stored = client.get(f"/v1/reports/{first['id']}", headers=auth(secret)).json()
    assert stored["location"]["coordinates"] == [36.63, 35.93]


def test_reordered_fields_and_whitespace_are_the_same_request(client, db, reporter):
    _, secret = reporter
    key = new_key()
    body = report_body()
    first = post(client, secret, None, key, raw=json.dumps(body))
    reordered = json.dumps(dict(reversed(list(body.items()))), indent=4)
    before = counts(db)
    again = post(client, secret, None, key, raw=reordered)
    assert again.status_code == 201 and again.json()["id"] == first.json()["id"]
    assert counts(db) == before


def test_a_key_belongs_to_its_api_key(client, db, make_key):
    _, alice = make_key("reporter", "alice")
    _, bob = make_key("reporter", "bob")
    key = new_key()
    a = post(client, alice, report_body(), key).json()
    b = post(client, bob, report_body(place_name="elsewhere"), key)
    assert b.status_code == 201 and "idempotent-replayed" not in b.headers
    assert b.json()["id"] != a["id"] and b.json()["place_name"] == "elsewhere"
    assert count(db, "idempotency_keys", "key = :key", key=key) == 2


@pytest.mark.parametrize(
    "key",
    [
        "",
        " ",
        "x" * 256,
        "abc\tdef",
        "' OR 1=1 --",
        "a b",
        "naïve".encode(),
        '"',
        "a,b",
        "<script>",
    ],
)
def test_malformed_keys_are_400_with_no_lookup_or_insert(client, db, reporter, key):
    _, secret = reporter
    before = counts(db)
    problem = assert_problem(post(client, secret, report_body(), key), 400)
    assert "Idempotency-Key" in problem["detail"]
    assert counts(db) == before


def test_two_key_headers_are_400(client, db, reporter):
    _, secret = reporter
    before = counts(db)
    headers = [
        ("Authorization", f"Bearer {secret}"),
        ("Idempotency-Key", new_key()),
        ("Idempotency-Key", new_key()),
    ]
    response = client.post("/v1/reports", json=report_body(), headers=headers)
    assert "one Idempotency-Key" in assert_problem(response, 400)["detail"]
    assert counts(db) == before


def test_good_keys_of_every_allowed_shape(client, reporter):
    _, secret = reporter
    for key in [new_key(), "x" * 255, "01J9ZK8Q3V5W:a.b_c~d+e/f=", f'"{new_key()}"']:
        assert post(client, secret, report_body(), key).status_code == 201


def test_a_quoted_key_is_the_same_key(client, reporter):
    _, secret = reporter
    key = new_key()
    first = post(client, secret, report_body(), key).json()
    assert post(client, secret, report_body(), f'"{key}"').json()["id"] == first["id"]


def test_a_refused_request_does_not_use_up_its_key(client, db, reporter):
    _, secret = reporter
    key = new_key()
    assert_problem(post(client, secret, report_body(province="Aleppo"), key), 422)
    assert count(db, "idempotency_keys", "key = :key", key=key) == 0
    assert post(client, secret, report_body(), key).status_code == 201


def test_after_the_key_expired_client_report_id_still_prevents_a_duplicate(client, db, reporter):
    _, secret = reporter
    key, client_id = new_key(), str(uuid.uuid4())
    body = report_body(client_report_id=client_id)
    first = post(client, secret, body, key).json()
    db.execute(
        text("UPDATE idempotency_keys SET created_at = now() - interval '31 days' WHERE key = :k"),
        {"k": key},
    )
    assert purge_idempotency_keys(session=db, older_than_days=30) == 1
    assert count(db, "idempotency_keys", "key = :key", key=key) == 0
    again = post(client, secret, body, key)
    assert again.status_code == 201 and again.json()["id"] == first["id"]
    assert count(db, "reports", "client_report_id = :c", c=client_id) == 1
    # Without any key, the same client_report_id with another body is refused, naming the report.
    other = post(client, secret, {**body, "place_name": "changed"})
    assert first["id"] in assert_problem(other, 422)["detail"]


def test_purge_keeps_recent_keys(db, client, reporter):
    _, secret = reporter
    post(client, secret, report_body(), new_key())
    db.execute(text("UPDATE idempotency_keys SET created_at = now() - interval '29 days'"))
    assert purge_idempotency_keys(session=db) == 0
    assert count(db, "idempotency_keys") == 1


def test_a_batch_key_replays_the_batch(client, db, reporter):
    _, secret = reporter
    key = new_key()
    batch = {"reports": [report_body(client_report_id=str(uuid.uuid4())), {"nonsense": 1}]}
    headers = auth(secret, **{"Idempotency-Key": key})
    first = client.post("/v1/reports/batch", json=batch, headers=headers)
    before = counts(db)
    again = client.post("/v1/reports/batch", json=batch, headers=headers)
    assert again.content == first.content and again.headers["idempotent-replayed"] == "true"
    assert counts(db) == before
    # The same key on the single endpoint is another request: refused, not replayed.
    assert_problem(client.post("/v1/reports", json=report_body(), headers=headers), 422)


def test_the_purge_job_uses_the_retention_setting(db, client, reporter, monkeypatch):
    from sqlalchemy.orm import sessionmaker

    from service.report import jobs

    _, secret = reporter
    post(client, secret, report_body(), new_key())
    post(client, secret, report_body(), new_key())
    db.execute(
        text(
            "UPDATE idempotency_keys SET created_at = now() - interval '40 days'"
            " WHERE key = (SELECT min(key) FROM idempotency_keys)"
        )
    )
    factory = sessionmaker(bind=db.connection(), join_transaction_mode="create_savepoint")
    monkeypatch.setattr(jobs, "get_sessionmaker", lambda: factory)
    assert jobs.purge_expired_idempotency_keys() == 1
    assert count(db, "idempotency_keys") == 1
