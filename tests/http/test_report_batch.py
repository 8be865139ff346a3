"""Offline batches (reliability.md rows 9 and 10): one result per item, valid ones stored,
nothing stored twice."""

import uuid

from tests.http.report_helpers import assert_problem, auth, count, counts, report_body


def item(**fields):
    return report_body(client_report_id=str(uuid.uuid4()), **fields)


def send(client, secret, items):
    return client.post("/v1/reports/batch", json={"reports": items}, headers=auth(secret))


def test_500_items_3_invalid(client, db, reporter):
    principal, secret = reporter
    items = [item() for _ in range(500)]
    items[7] = item(location={"type": "Point", "coordinates": [36.63, 91]})
    items[250] = item(occurred_at="2017-01-10T09:30:00")  # no offset
    items[499] = item(province="Aleppo")  # contradicts the point
    before = count(db, "reports")
    response = send(client, secret, items)
    assert response.status_code == 200, response.text
    result = response.json()
    assert (result["accepted"], result["refused"]) == (497, 3)
    statuses = [r["status"] for r in result["results"]]
    assert [r["index"] for r in result["results"]] == list(range(500))
    assert [i for i, s in enumerate(statuses) if s != 201] == [7, 250, 499]
    assert all(s == 422 for i, s in enumerate(statuses) if i in (7, 250, 499))
    fields = {
        i: [e["field"] for e in result["results"][i]["problem"]["errors"]] for i in (7, 250, 499)
    }
    assert fields[7][0].startswith("body.reports.7.location.coordinates")
    assert fields[250] == ["body.reports.250.occurred_at"]
    assert fields[499] == ["body.reports.499.province"]
    assert result["results"][0]["report"]["province"]["pcode"] == "SY07"
    assert "problem" not in result["results"][0] and "report" not in result["results"][7]
    assert count(db, "reports") == before + 497
    assert count(db, "reports", "reporter_key_id = :k", k=principal.key_id) == 497

    # The whole batch again: every valid item answers with its stored report, nothing new.
    snapshot = counts(db)
    again = send(client, secret, items).json()
    assert counts(db) == snapshot
    assert [r["status"] for r in again["results"]] == statuses
    assert [r.get("report", {}).get("id") for r in again["results"]] == [
        r.get("report", {}).get("id") for r in result["results"]
    ]


def test_every_item_needs_a_client_report_id(client, db, reporter):
    _, secret = reporter
    before = count(db, "reports")
    result = send(client, secret, [report_body(), item()]).json()
    assert [r["status"] for r in result["results"]] == [422, 201]
    assert result["results"][0]["problem"]["errors"][0]["field"] == (
        "body.reports.0.client_report_id"
    )
    assert count(db, "reports") == before + 1


def test_objects_of_any_shape_get_their_own_result(client, db, reporter):
    _, secret = reporter
    result = send(client, secret, [{}, {"status": "verified", **item()}, item()]).json()
    assert [r["status"] for r in result["results"]] == [422, 422, 201]
    assert result["results"][1]["problem"]["errors"][0]["field"] == "body.reports.1.status"


def test_items_that_are_not_objects_refuse_the_batch(client, db, reporter):
    # The documented envelope is an array of objects: anything else is not a batch.
    _, secret = reporter
    before = counts(db)
    response = send(client, secret, [item(), 42, "text", None, []])
    problem = assert_problem(response, 422)
    assert problem["errors"][0]["field"].startswith("body.reports.1")
    assert counts(db) == before


def test_a_batch_over_500_items_is_413_and_stores_nothing(client, db, reporter):
    _, secret = reporter
    before = counts(db)
    response = send(client, secret, [item() for _ in range(501)])
    assert "at most 500" in assert_problem(response, 413)["detail"]
    assert counts(db) == before


def test_an_empty_batch_is_fine(client, reporter):
    _, secret = reporter
    assert send(client, secret, []).json() == {"results": [], "accepted": 0, "refused": 0}


def test_the_batch_body_must_be_an_object_with_reports(client, db, reporter):
    _, secret = reporter
    before = counts(db)
    for body in ([item()], {"items": [item()]}, {"reports": item()}):
        response = client.post("/v1/reports/batch", json=body, headers=auth(secret))
        assert_problem(response, 422)
    assert counts(db) == before


def test_a_monitor_may_not_submit(client, db, make_key):
    _, monitor = make_key("monitor")
    before = counts(db)
    assert_problem(send(client, monitor, [item()]), 403)
    assert counts(db) == {**before, "audit_events": before["audit_events"] + 1}  # the attempt
