"""Paging: one cursor codec behind every paged list, and one refusal of a token it did not
issue (issue 10). Issue 9's promise holds on each: a forged cursor carrying an extreme date,
a NUL or an enormous number is a 4xx problem, never a 500."""

import base64
import datetime as dt
import uuid

import orjson
import pytest

from service.config import get_settings
from service.digest.service import build_days
from service.errors import PROBLEM_BASE
from tests.http.report_helpers import assert_problem, auth, report_body
from tests.map_incidents import make_incidents, random_points


def token(value) -> str:
    """A token built the way the service builds its own, around whatever value a forger likes."""
    raw = value if isinstance(value, bytes) else orjson.dumps(value)
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


SOME_ID = str(uuid.uuid4())
FORGED = {
    "not base64": "!!!",
    "padded": "eHl6==",
    "empty": "",
    "too long": "A" * 201,
    "not JSON": token(b"xyz"),
    "an object": token({"at": "2017-01-01T00:00:00+00:00"}),
    "too many values": token(["2017-01-01T00:00:00+00:00", SOME_ID, 1, "x"]),
    "no values": token([]),
    "year 9999": token(["9999-12-31T23:59:59+00:00", SOME_ID]),
    "year 1": token(["0001-01-01T00:00:00+00:00", SOME_ID]),
    "a NUL": token(["2017-01-01T00:00:00+00:00\u0000", "\u0000"]),
    "an enormous number": token(b"[1180591620717411303424]"),
    "past bigint": token(b"[9223372036854775808]"),
    "raw 16 bytes": token(uuid.uuid4().bytes),
    "a boolean": token([True, False]),
}


@pytest.fixture
def admin(make_key):
    return make_key("admin", "admin A")


@pytest.fixture
def paged_lists(client, admin, monkeypatch):
    """Every paged list with the headers that may read it: (path, headers)."""
    monkeypatch.setattr(get_settings(), "webhook_allow_private", True)
    monkeypatch.setattr(get_settings(), "webhook_allowed_ports", [80, 443, 8420])
    _, secret = admin
    created = client.post(
        "/v1/subscriptions",
        json={"callback_url": "http://127.0.0.1:8420/hook"},
        headers=auth(secret),
    )
    assert created.status_code == 201, created.text
    signed_in = auth(secret)
    return [
        ("/v1/reports", signed_in),
        ("/v1/incidents", signed_in),
        ("/v1/review-queue", signed_in),
        ("/v1/review-queue?order=casualties", signed_in),
        ("/v1/audit", signed_in),
        (f"/v1/subscriptions/{created.json()['id']}/deliveries", signed_in),
        ("/collections/incidents/items", signed_in),
        ("/collections/incidents/items", {}),  # the public view pages by id alone
        ("/collections/provinces/items", {}),
        ("/collections/districts/items", {}),
    ]


@pytest.mark.parametrize("forged", FORGED.values(), ids=FORGED.keys())
def test_a_forged_cursor_is_refused_alike_on_every_list(client, paged_lists, forged):
    answers = set()
    for path, headers in paged_lists:
        problem = assert_problem(client.get(path, params={"cursor": forged}, headers=headers), 400)
        assert problem["type"] == PROBLEM_BASE + "invalid-parameter", (path, problem)
        assert problem["errors"] == [
            {"field": "query.cursor", "message": problem["detail"].removeprefix("cursor: ")}
        ]
        answers.add((problem["status"], problem["type"], problem["detail"]))
    assert len(answers) == 1, answers


def test_a_cursor_of_another_list_shape_is_refused(client, admin, reporter):
    _, admin_secret = admin
    _, reporter_secret = reporter
    for _ in range(3):
        client.post("/v1/reports", json=report_body(), headers=auth(reporter_secret))
    audit = client.get("/v1/audit", params={"limit": 1}, headers=auth(admin_secret)).json()
    reports = client.get("/v1/reports", params={"limit": 1}, headers=auth(admin_secret)).json()
    audit_cursor = audit["next"].split("cursor=")[1].split("&")[0]
    report_cursor = reports["next"].split("cursor=")[1].split("&")[0]
    # Each works on its own list...
    for path, cursor in (("/v1/audit", audit_cursor), ("/v1/reports", report_cursor)):
        page = client.get(path, params={"cursor": cursor}, headers=auth(admin_secret))
        assert page.status_code == 200, page.text
    # ...and is refused, in the same words, where the key has another shape.
    crossed = [
        client.get("/v1/reports", params={"cursor": audit_cursor}, headers=auth(admin_secret)),
        client.get("/v1/audit", params={"cursor": report_cursor}, headers=auth(admin_secret)),
        client.get("/collections/provinces/items", params={"cursor": report_cursor}),
    ]
    details = {assert_problem(r, 400)["detail"] for r in crossed}
    assert len(details) == 1


def _item_id(item: dict) -> str:
    # The verifiers' queue lists items around incidents.
    return item["incident"]["id"] if "incident" in item else item["id"]


def test_every_list_walks_to_the_end_by_its_own_cursors(
    client, db, admin, reporter, submitter, paged_lists
):
    """Each list's next cursor, fed back, walks every row once, in the list's order (the new
    formats included: audit, public incidents, areas)."""
    _, reporter_secret = reporter
    build_days(session=db, first=dt.date(2017, 1, 3), last=dt.date(2017, 1, 5))
    for _ in range(3):
        client.post("/v1/reports", json=report_body(), headers=auth(reporter_secret))
    make_incidents(db, submitter, random_points(5, seed=7), status="verified")
    for path, headers in paged_lists:
        ogc = path.startswith("/collections")
        everything = client.get(path, params={"limit": 200}, headers=headers).json()
        ids = (
            [f["id"] for f in everything["features"]]
            if ogc
            else [_item_id(i) for i in everything["items"]]
        )
        seen: list = []
        params: dict = {"limit": 2}
        while True:
            page = client.get(path, params=params, headers=headers)
            assert page.status_code == 200, (path, page.text)
            body = page.json()
            if ogc:
                seen += [f["id"] for f in body["features"]]
                following = [link["href"] for link in body["links"] if link["rel"] == "next"]
                cursor = following[0].split("cursor=")[1].split("&")[0] if following else None
            else:
                seen += [_item_id(i) for i in body["items"]]
                nxt = body.get("next") or body.get("next_cursor")
                cursor = nxt.split("cursor=")[1].split("&")[0] if nxt and "=" in nxt else nxt
            if cursor is None:
                break
            params = {"limit": 2, "cursor": cursor}
        assert seen == ids, path
        assert len(ids) > 2, path  # more than one page was walked
