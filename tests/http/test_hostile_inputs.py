"""Hostile input (issue 9, "no 500 from any input" and "one strictness everywhere"): extreme
dates, NUL and control characters, over-long values, loose JSON bodies, malformed Basic
credentials and anonymous floods each get a 4xx problem+json that changes nothing; an error
log never holds a value bound to SQL."""

from __future__ import annotations

import base64
import json
import logging
import time
import uuid
from pathlib import Path

import pytest
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient
from sqlalchemy import text

from service.api import StrictJSONRoute
from service.auth import ratelimit
from service.config import get_settings
from service.db import SessionDep
from service.observability import JSONFormatter
from tests.http.report_helpers import assert_problem, auth, counts, report_body

OPENAPI = json.loads((Path(__file__).resolve().parents[2] / "openapi" / "openapi.json").read_text())

EXTREME_DATETIMES = [
    "0001-01-01",
    "9999-12-31",
    "0001-01-01/..",
    "../9999-12-31",
    "../9999-12-31T23:59:59Z",
    "0001-01-01T00:00:00Z/..",
    "0001-01-01T00:00:00+14:00",
    "9999-12-31T23:59:59.999999-12:00",
    "0001-01-01/9999-12-31",
    "10000-01-01",
    "10000-01-01T00:00:00Z/..",
]
EXTREME_TIMESTAMPS = [
    "0001-01-01T00:00:00Z",
    "0001-01-01T00:00:00+14:00",
    "9999-12-31T23:59:59Z",
    "9999-12-31T23:59:59.999999-12:00",
    "10000-01-01T00:00:00Z",
]
EXTREME_DAYS = ["0001-01-01", "9999-12-31", "10000-01-01"]
# Values for path parameters that name something (ids are taken as they come).
PATH_VALUES = {"z": "6", "x": "38", "y": "25", "revision": "1", "date": "2017-01-10"}


def _parameter_names(operation: dict) -> set[str]:
    return {
        p.get("name") or p.get("$ref", "").rsplit("/", 1)[-1]
        for p in operation.get("parameters", [])
    }


def _fill(path: str, **values: str) -> str:
    for name, value in {**PATH_VALUES, **values}.items():
        path = path.replace("{" + name + "}", value)
    return path


def _gets_with(parameter: str) -> list[str]:
    return sorted(
        path
        for path, operations in OPENAPI["paths"].items()
        if "get" in operations and parameter in _parameter_names(operations["get"])
    )


DATETIME_PATHS = _gets_with("datetime")
SINCE_UNTIL_PATHS = sorted(set(_gets_with("since")) & set(_gets_with("until")))
# Every GET with a path parameter, each parameter in turn made hostile.
PATH_PARAMETERS = sorted(
    (path, name)
    for path, operations in OPENAPI["paths"].items()
    if "get" in operations
    for name in _parameter_names(operations["get"])
    if "{" + name + "}" in path
)


@pytest.fixture
def admin(make_key):
    return make_key("admin", "hostile admin")[1]


def test_the_lists_of_endpoints_cover_what_they_claim():
    # The public time-filtered reads (items, stats, tiles, TileJSON), three keyed lists.
    assert len(DATETIME_PATHS) >= 8, DATETIME_PATHS
    # Every reader of events takes since and until (service/event), and the audit trail.
    assert {"/v1/audit", "/v1/incidents", "/v1/reports", "/v1/stats/grid"} <= set(SINCE_UNTIL_PATHS)
    assert len(PATH_PARAMETERS) >= 10


# ---- extreme dates ----


@pytest.mark.parametrize("value", EXTREME_DATETIMES)
@pytest.mark.parametrize("path", DATETIME_PATHS)
def test_extreme_datetimes_are_400_on_every_endpoint(client, admin, path, value):
    response = client.get(_fill(path), params={"datetime": value}, headers=auth(admin))
    problem = assert_problem(response, 400)
    assert problem["detail"].startswith("datetime:")


@pytest.mark.parametrize("value", EXTREME_TIMESTAMPS)
@pytest.mark.parametrize("name", ["since", "until"])
@pytest.mark.parametrize("path", SINCE_UNTIL_PATHS)
def test_extreme_since_and_until_are_400(client, admin, path, name, value):
    # A bad query parameter is a 400 everywhere (as OGC API - Features asks on the maps).
    response = client.get(_fill(path), params={name: value}, headers=auth(admin))
    problem = assert_problem(response, 400)
    assert name in problem["detail"]


@pytest.mark.parametrize("day", EXTREME_DAYS)
@pytest.mark.parametrize(
    "path",
    [
        "/v1/digests/daily/{date}",
        "/v1/digests/daily/{date}/revisions",
        "/v1/digests/daily/{date}/revisions/1",
        "/v1/parties/resolve?name=SAA&date={date}",
    ],
)
def test_extreme_days_are_refused(client, admin, path, day):
    response = client.get(path.format(date=day), headers=auth(admin))
    # A day in the path is a 422; in the query, a bad query parameter, 400 as everywhere.
    assert_problem(response, 400 if "?" in path else 422)


@pytest.mark.parametrize(
    "value", ["1900-01-01/2999-12-31", "1900-01-01T00:00:00Z/..", "../2999-12-31", "2999-12-31"]
)
@pytest.mark.parametrize("path", DATETIME_PATHS)
def test_the_edges_of_the_supported_range_still_answer(client, admin, path, value):
    response = client.get(_fill(path), params={"datetime": value}, headers=auth(admin))
    # Answered, or refused for another reason (a timeseries of 400,000 days is too long).
    assert response.status_code in (200, 204, 400), response.text
    if response.status_code == 400:
        assert "outside" not in response.json()["detail"]


@pytest.mark.parametrize("value", EXTREME_TIMESTAMPS)
def test_an_extreme_occurred_at_is_422_and_stores_nothing(client, db, reporter, value):
    _, secret = reporter
    before = counts(db)
    response = client.post("/v1/reports", json=report_body(occurred_at=value), headers=auth(secret))
    assert_problem(response, 422)
    assert counts(db) == before


# ---- NUL and control characters ----


@pytest.mark.parametrize("hostile", ["%00", "a%00b", "a%01b", "a%0Ab", "%7F", "%C2%85"])
@pytest.mark.parametrize(("path", "name"), PATH_PARAMETERS)
def test_control_characters_in_a_path_id_are_400(client, admin, path, name, hostile):
    response = client.get(_fill(path, **{name: hostile}), headers=auth(admin))
    problem = assert_problem(response, 400)
    assert "control character" in problem["detail"]


@pytest.mark.parametrize("hostile", ["%00", "a%00b", "a%1Bb", "a\x00b"])
@pytest.mark.parametrize(
    ("path", "name"),
    [
        ("/v1/audit", "entity_id"),
        ("/v1/audit", "entity_type"),
        ("/v1/audit", "action"),
        ("/v1/audit", "actor"),
        ("/v1/reports", "party"),
        ("/v1/incidents", "province"),
        ("/v1/review-queue", "province"),
        ("/v1/review-queue", "order"),
        ("/v1/incidents", "confidence"),
        ("/collections/incidents/items", "confidence"),
        ("/v1/parties/resolve", "name"),
        ("/v1/districts", "province"),
        ("/collections/incidents/items", "party"),
        ("/collections/incidents/items", "datetime"),
        ("/v1/stats/provinces", "province"),
        ("/tiles/incidents.json", "guarantor"),
        ("/v1/digests/daily/latest", "province"),
        ("/v1/parties/unresolved", "limit"),
        ("/v1/parties/unresolved", "format"),
        ("/v1/curation/jobs", "status"),
    ],
)
def test_control_characters_in_a_query_value_are_400(client, admin, path, name, hostile):
    raw = hostile if "%" in hostile else hostile.replace("\x00", "%00")
    response = client.get(f"{path}?{name}={raw}", headers=auth(admin))
    problem = assert_problem(response, 400)
    assert "control character" in problem["detail"]


def test_a_control_character_in_a_query_name_is_400(client):
    assert_problem(client.get("/v1/provinces?sim%00plify=1"), 400)


@pytest.mark.parametrize("value", ["a\x00b", "\x00", "key\x1b[2J", "key\r"])
def test_control_characters_in_the_idempotency_key_are_400_and_store_nothing(
    client, db, reporter, value
):
    _, secret = reporter
    before = counts(db)
    response = client.post(
        "/v1/reports", json=report_body(), headers=auth(secret, **{"Idempotency-Key": value})
    )
    assert_problem(response, 400)
    assert counts(db) == before


@pytest.mark.parametrize("header", ["If-None-Match", "Accept", "X-Request-ID", "User-Agent"])
def test_a_nul_in_any_header_is_400(client, header):
    response = client.get("/collections/incidents/items", headers={header: "a\x00b"})
    problem = assert_problem(response, 400)
    assert "control character" in problem["detail"]


@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("/v1/reports", report_body(place_name="a\x00b")),
        ("/v1/reports", report_body(description="a\x00b")),
        ("/v1/reports", report_body(perpetrator="a\x00b")),
    ],
)
def test_a_nul_in_a_json_string_is_refused_and_stores_nothing(client, db, reporter, path, body):
    _, secret = reporter
    before = counts(db)
    response = client.post(path, json=body, headers=auth(secret))
    assert "NUL" in assert_problem(response, 422)["detail"]
    assert counts(db) == before


def test_a_nul_in_a_batch_item_refuses_that_item(client, db, reporter):
    _, secret = reporter
    before = counts(db)
    body = {"reports": [report_body(description="\x00")]}
    result = client.post("/v1/reports/batch", json=body, headers=auth(secret)).json()
    assert result["refused"] == 1
    assert result["results"][0]["problem"]["status"] == 422
    assert counts(db) == before


def test_a_nul_in_other_json_bodies_is_refused(client, db, make_key):
    _, monitor = make_key("monitor")
    _, verifier = make_key("verifier")
    _, reporter = make_key("reporter")
    _, admin = make_key("admin")
    created = client.post("/v1/reports", json=report_body(), headers=auth(reporter)).json()
    before = counts(db)
    attempts = [
        ("POST", "/v1/subscriptions", monitor, {"callback_url": "http://a\x00b.example/"}),
        ("POST", "/v1/subscriptions", monitor, {"callback_url": "https://x.example/", "province": "\x00"}),
        ("PATCH", f"/v1/reports/{created['id']}", reporter, {"place_name": "a\x00b"}),
        ("PATCH", f"/v1/reports/{created['id']}", reporter, {"description": "\x00"}),
        ("POST", f"/v1/incidents/{created['incident_id']}/review", verifier, {"status": "verified", "note": "\x00"}),
        ("POST", f"/v1/incidents/{created['incident_id']}/merge", verifier, {"into": str(uuid.uuid4()), "note": "\x00"}),
        ("POST", "/v1/parties", admin, {"id": "x", "name": "a\x00b", "side": "x"}),
        ("POST", "/v1/parties/hezbollah/aliases", admin, {"alias": "\x00"}),
        ("POST", "/v1/parties/hezbollah/aliases/Hizbollah/end", admin, {"valid_to": "2018-01-01", "reason": "\x00"}),
        ("POST", "/v1/parties/hezbollah/guarantors", admin, {"guarantor": "R\x00S"}),
        ("POST", "/v1/parties/hezbollah/guarantors/IRN/end", admin, {"valid_to": "2018-01-01", "reason": "\x00"}),
        ("POST", "/v1/coalitions", admin, {"name": "X", "members": ["hezbollah", "\x00"]}),
        ("POST", f"/v1/reports/{created['id']}/split", verifier, {"note": "\x00"}),
    ]  # fmt: skip
    for method, path, secret, body in attempts:
        response = client.request(method, path, json=body, headers=auth(secret))
        assert_problem(response, 422)
    assert counts(db) == before


# ---- over-long values ----


def test_an_over_long_path_is_414(client):
    response = client.get("/v1/provinces/" + "S" * 5000)
    assert "path" in assert_problem(response, 414)["detail"]


def test_an_over_long_query_is_414(client):
    response = client.get("/collections/incidents/items", params={"party": "x" * 10_000})
    assert_problem(response, 414)


def test_an_over_long_header_is_431(client, reporter):
    _, secret = reporter
    response = client.get("/v1/reports", headers=auth(secret, **{"X-Padding": "x" * 20_000}))
    assert "x-padding" in assert_problem(response, 431)["detail"]


@pytest.mark.parametrize(
    ("path", "params"),
    [
        ("/v1/provinces/" + "S" * 1500, {}),
        ("/v1/parties/" + "p" * 1500, {}),
        ("/collections/incidents/items/" + "f" * 1500, {}),
        ("/v1/parties/resolve", {"name": "n" * 3000}),
        ("/v1/audit", {"entity_id": "e" * 3000}),
        ("/v1/reports", {"party": "p" * 3000}),
        ("/collections/incidents/items", {"province": "p" * 3000}),
        ("/v1/incidents", {"confidence": "h" * 3000}),
        ("/v1/digests/daily/latest", {"province": "p" * 3000}),
        ("/v1/parties/unresolved", {"limit": "9" * 3000}),
        ("/v1/curation/jobs", {"status": "s" * 3000}),
        ("/v1/curation/jobs/" + "9" * 1500, {}),
    ],
)
def test_long_values_within_the_uri_limit_are_4xx(client, admin, path, params):
    response = client.get(path, params=params, headers=auth(admin))
    assert 400 <= response.status_code < 500, response.text
    assert response.headers["content-type"] == "application/problem+json"


def test_an_over_long_idempotency_key_is_400(client, db, reporter):
    _, secret = reporter
    before = counts(db)
    response = client.post(
        "/v1/reports", json=report_body(), headers=auth(secret, **{"Idempotency-Key": "k" * 300})
    )
    assert_problem(response, 400)
    assert counts(db) == before


# ---- one strictness for every JSON body ----


def _api_routes(routes) -> list[APIRoute]:
    """Every APIRoute, including those of included routers (FastAPI keeps them apart)."""
    found = []
    for route in routes:
        if isinstance(route, APIRoute):
            found.append(route)
        elif hasattr(route, "original_router"):
            found.extend(_api_routes(route.original_router.routes))
    return found


def _body_routes(app) -> list[APIRoute]:
    return [r for r in _api_routes(app.routes) if r.body_field is not None]


def test_every_route_with_a_body_is_strict(app):
    routes = _body_routes(app)
    assert {r.path for r in routes} >= {"/v1/subscriptions", "/v1/reports", "/v1/reports/batch"}
    loose = [f"{sorted(r.methods)} {r.path}" for r in routes if not isinstance(r, StrictJSONRoute)]
    assert loose == []


BODY_ENDPOINTS = [
    ("POST", "/v1/reports"),
    ("POST", "/v1/reports/batch"),
    ("PATCH", "/v1/reports/{id}"),
    ("POST", "/v1/incidents/{id}/review"),
    ("POST", "/v1/incidents/{id}/merge"),
    ("POST", "/v1/reports/{id}/split"),
    ("POST", "/v1/subscriptions"),
    ("POST", "/v1/parties"),
    ("POST", "/v1/parties/{id}/aliases"),
    ("POST", "/v1/parties/{id}/aliases/{alias}/end"),
    ("POST", "/v1/parties/{id}/guarantors"),
    ("POST", "/v1/parties/{id}/guarantors/{guarantor}/end"),
    ("POST", "/v1/coalitions"),
]


def test_the_body_endpoints_listed_here_are_every_one(app):
    listed = {(m, p.replace("{id}", "")) for m, p in BODY_ENDPOINTS}
    paths = [(r.methods, r.path.replace(":path}", "}")) for r in _body_routes(app)]
    routed = {
        (method, path.split("{")[0] + (path.split("}", 1)[1] if "{" in path else ""))
        for methods, path in paths
        for method in methods
    }
    assert routed == listed


@pytest.mark.parametrize(
    ("content_type", "body", "status"),
    [
        ("application/json", b'{"status": "verified", "status": "rejected"}', 400),
        ("application/json", b'{"callback_url": "https://a.example/",', 400),
        ("application/json", b"", 400),
        ("application/json", b"\xff\xfe", 400),
        ("text/plain", b'{"status": "verified"}', 415),
        ("application/x-www-form-urlencoded", b"status=verified", 415),
        (None, b'{"status": "verified"}', 415),
        ("application/json", b'{"status": NaN, "into": Infinity, "callback_url": -Infinity}', 422),
    ],
)
@pytest.mark.parametrize(("method", "path"), BODY_ENDPOINTS)
def test_every_json_body_is_strict(client, db, admin, method, path, content_type, body, status):
    headers = auth(admin)
    if content_type is not None:
        headers["Content-Type"] = content_type
    before = counts(db)
    response = client.request(
        method, path.replace("{id}", str(uuid.uuid4())), content=body, headers=headers
    )
    assert_problem(response, status)
    assert counts(db) == before


def test_subscriptions_refuse_duplicate_keys_text_and_malformed_json(client, make_key):
    _, monitor = make_key("monitor")
    duplicate = b'{"callback_url": "https://a.example/", "callback_url": "https://b.example/"}'
    assert "duplicate key" in assert_problem(
        client.post("/v1/subscriptions", content=duplicate, headers=auth(monitor, **{"Content-Type": "application/json"})), 400
    )["detail"]  # fmt: skip
    assert_problem(
        client.post("/v1/subscriptions", content=b'{"callback_url": "x"', headers=auth(monitor, **{"Content-Type": "application/json"})), 400
    )  # fmt: skip
    assert_problem(
        client.post("/v1/subscriptions", content=b"https://a.example/", headers=auth(monitor, **{"Content-Type": "text/plain"})), 415
    )  # fmt: skip


# ---- authentication errors ----


@pytest.mark.parametrize(
    "authorization",
    [
        "Basic !!!not-base64!!!",
        "Basic " + "A" * 5,  # bad padding
        "Basic " + base64.b64encode(b"\xff\xfe:\xff").decode(),  # not UTF-8
        "Basic " + base64.b64encode(b"qgis:cfm_unknown").decode(),  # unknown key
        "Basic " + base64.b64encode(b"qgis:").decode(),  # no key
    ],
)
@pytest.mark.parametrize(
    "path", ["/collections/incidents/items", "/v1/stats/provinces", "/tiles/incidents.json"]
)
def test_bad_basic_credentials_are_401_with_a_basic_challenge(client, path, authorization):
    response = client.get(path, headers={"Authorization": authorization})
    assert_problem(response, 401)
    assert response.headers["www-authenticate"].startswith('Basic realm="ceasefire-monitor"')


def test_a_good_key_as_basic_credentials_is_accepted(client, make_key):
    _, secret = make_key("monitor")
    basic = base64.b64encode(f"qgis:{secret}".encode()).decode()
    response = client.get(
        "/collections/incidents/items", headers={"Authorization": f"Basic {basic}"}
    )
    assert response.status_code == 200, response.text


@pytest.mark.parametrize(
    ("path", "authorization"),
    [
        ("/v1/reports", None),
        ("/v1/reports", "Bearer cfm_unknown"),
        ("/v1/reports", "Bearer"),
        ("/v1/audit", "Basic Zm9vOmJhcg=="),
        ("/collections/incidents/items", "Bearer cfm_unknown"),
        ("/collections/incidents/items", "Basic %%%"),
        ("/v1/digests/daily/latest", "Bearer cfm_unknown"),
    ],
)
def test_every_401_carries_a_challenge(client, path, authorization):
    headers = {"Authorization": authorization} if authorization else {}
    response = client.get(path, headers=headers)
    assert_problem(response, 401)
    assert "realm=" in response.headers["www-authenticate"]


def test_a_401_raised_without_a_challenge_still_carries_one(app, client):
    from service.errors import Unauthorized

    def forgetful() -> dict:
        raise Unauthorized("someone forgot the challenge")

    app.add_api_route("/forgetful", forgetful)
    response = client.get("/forgetful")
    assert_problem(response, 401)
    assert response.headers["www-authenticate"] == 'Bearer realm="ceasefire-monitor"'


# ---- rate limits per client address ----


@pytest.fixture
def address():
    """A client address of the test's own, its counters cleared before and after."""
    host = f"198.51.100.{uuid.uuid4().int % 250 + 1}"

    def clear():
        for bucket in (f"anon:{host}", f"authfail:{host}"):
            ratelimit.forget(bucket)

    clear()
    yield host
    clear()


@pytest.fixture
def tight_limits(monkeypatch):
    settings = get_settings()
    monkeypatch.setattr(settings, "rate_limit_anonymous_requests", 3)
    monkeypatch.setattr(settings, "rate_limit_auth_failures", 2)
    # Windows are aligned to the clock: one of 10^9 s (2001-2033) is never crossed mid-test.
    monkeypatch.setattr(settings, "rate_limit_window_s", 10**9)


def test_anonymous_requests_are_limited_per_address(app, make_key, address, tight_limits):
    _, secret = make_key("monitor")
    with TestClient(app, client=(address, 40000)) as flood:
        paths = ["/v1/provinces", "/collections/incidents/items", "/v1/digests/daily/latest"]
        assert [flood.get(p).status_code for p in paths] != [429] * 3
        limited = flood.get("/v1/parties")
        assert "without an API key" in assert_problem(limited, 429)["detail"]
        assert int(limited.headers["retry-after"]) >= 1
        # Keyed requests from the same address count against the key, not the address.
        keyed = flood.get("/collections/incidents/items", headers=auth(secret))
        assert keyed.status_code == 200
        # Health checks are never limited.
        assert flood.get("/healthz").status_code == 200
    with TestClient(app, client=("198.51.100.251", 40000)) as other:
        ratelimit.forget("anon:198.51.100.251")
        assert other.get("/v1/parties").status_code == 200
        ratelimit.forget("anon:198.51.100.251")


def test_a_bogus_authorization_header_does_not_escape_the_anonymous_limit(
    app, address, tight_limits
):
    with TestClient(app, client=(address, 40000)) as flood:
        for _ in range(3):
            flood.get("/v1/provinces", headers={"Authorization": "Bearer cfm_unknown"})
        assert_problem(flood.get("/v1/provinces", headers={"Authorization": "Bearer x"}), 429)


def test_failed_authentications_are_limited_per_address(app, db, make_key, address, tight_limits):
    _, secret = make_key("reporter")
    with TestClient(app, client=(address, 40000)) as guesser:
        statuses = [
            guesser.get("/v1/reports", headers=auth(f"cfm_guess{i}")).status_code for i in range(2)
        ]
        assert statuses == [401, 401]
        before = counts(db)
        limited = guesser.post("/v1/reports", json=report_body(), headers=auth(secret))
        assert "failed authentications" in assert_problem(limited, 429)["detail"]
        assert int(limited.headers["retry-after"]) >= 1
        assert counts(db) == before
        basic = base64.b64encode(b"qgis:cfm_guess").decode()
        assert_problem(
            guesser.get("/v1/stats/provinces", headers={"Authorization": f"Basic {basic}"}), 429
        )
    # Another address with the same key is unaffected.
    with TestClient(app, client=("198.51.100.252", 40000)) as honest:
        assert honest.get("/v1/reports", headers=auth(secret)).status_code == 200


def test_metrics_cannot_be_used_to_guess_keys(app, make_key, address, tight_limits):
    """/metrics checks keys on the health pool: failures there count against the address
    like anywhere else, and a spent address is refused before any key is looked up."""
    _, secret = make_key("monitor")
    with TestClient(app, client=(address, 40000)) as guesser:
        statuses = [
            guesser.get("/metrics", headers=auth(f"cfm_guess{i}")).status_code for i in range(2)
        ]
        assert statuses == [401, 401]
        limited = guesser.get("/metrics", headers=auth(secret))
        assert "failed authentications" in assert_problem(limited, 429)["detail"]
        assert_problem(guesser.get("/v1/reports", headers=auth(secret)), 429)


def test_requests_go_through_when_redis_is_down(client, monkeypatch, tight_limits):
    # The service's own client, configured as it is, pointed where nothing listens. (A client
    # of redis-py's defaults retries with backoff: 28 s for these six requests.)
    monkeypatch.setattr(get_settings(), "redis_url", "redis://127.0.0.1:1/0")
    ratelimit._client.cache_clear()
    try:
        started = time.monotonic()
        statuses = [client.get("/v1/parties").status_code for _ in range(5)]
        assert statuses == [200] * 5
        assert client.get("/v1/reports", headers=auth("cfm_unknown")).status_code == 401
        assert time.monotonic() - started < 10  # no retries with backoff on each request
    finally:
        ratelimit._client.cache_clear()


def test_counters_are_namespaced_by_database():
    assert ratelimit.namespace().endswith(":" + get_settings().database_url.rsplit("/", 1)[-1])


# ---- error logs ----


def test_a_database_error_logs_no_bound_values(app, db, caplog):
    marker = "hostile-value-5f3a91"

    def explode(session: SessionDep) -> dict:
        session.execute(text("SELECT CAST(:value AS integer)"), {"value": marker})
        return {}

    app.add_api_route("/explode", explode)
    caplog.set_level(logging.DEBUG)
    with TestClient(app, raise_server_exceptions=False) as explosive:
        response = explosive.get("/explode")
    assert_problem(response, 500)
    assert marker not in response.text
    lines = [
        JSONFormatter().format(r)
        for r in caplog.records
        if r.name.startswith(("ceasefire", "sqlalchemy", "uvicorn", "service"))
    ]
    logged = "\n".join(lines)
    assert "InvalidTextRepresentation" in logged  # the error itself is logged...
    assert "SELECT CAST" in logged  # ...with its statement...
    assert marker not in logged  # ...but not the value bound to it


def test_the_json_log_format_never_prints_a_database_errors_message(db, caplog):
    """Whoever logs a database error with its traceback, the JSON line holds no bound value."""
    marker = "hostile-value-77c2e0"
    caplog.set_level(logging.ERROR)
    try:
        with db.begin_nested():
            db.execute(text("SELECT CAST(:value AS uuid)"), {"value": marker})
    except Exception:
        logging.getLogger("ceasefire.jobs").exception("a job failed")
    (record,) = [r for r in caplog.records if r.name == "ceasefire.jobs"]
    line = json.loads(JSONFormatter().format(record))
    assert line["database_error"] == "InvalidTextRepresentation"
    assert line["sqlstate"] == "22P02"
    assert "CAST" in line["statement"]
    assert marker not in json.dumps(line)
