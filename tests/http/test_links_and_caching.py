"""Links from configuration, not from the request; Vary and privacy of cached answers;
/metrics behind a key.

A forged ``Host`` used to be copied into every absolute link (OGC paging, TileJSON, Atom,
``Link`` headers) of answers marked ``Cache-Control: public``; a shared cache could then
hand other users links to the forger's host.
"""

from __future__ import annotations

import base64
import datetime as dt
import xml.etree.ElementTree as ET
from contextlib import nullcontext

import pytest

from service.config import get_settings
from service.digest.service import build_days
from tests.http.report_helpers import auth, report_body
from tests.incidents import make_incidents as make_day_incidents
from tests.incidents import report as day_report
from tests.map_incidents import make_incidents, random_points, set_status

EVIL = "evil.example"
ATOM = "{http://www.w3.org/2005/Atom}"


@pytest.fixture
def data(db, submitter):
    """Enough incidents for every list to have a next page, and one day's digest."""
    ids = make_incidents(db, submitter, random_points(6))
    set_status(db, ids, "verified")
    make_day_incidents(db, submitter, day_report(at="2017-02-10T08:00:00+02:00"))
    build_days(session=db, first=dt.date(2017, 2, 10), last=dt.date(2017, 2, 10))
    return ids


def _answers(client, data, make_key, reporter, host: str):
    """(what, response) for every endpoint that writes links, asked with ``host``."""
    _, monitor = make_key("monitor")
    _, admin = make_key("admin")
    _, reporter_secret = reporter
    forged = {"Host": host}
    as_monitor = {**forged, **auth(monitor)}
    incident = data[0]
    gets = [
        ("/", forged),
        ("/conformance", forged),
        ("/api", forged),
        ("/collections", forged),
        ("/collections/incidents", forged),
        ("/collections/provinces", forged),
        ("/collections/incidents/items?limit=2", forged),
        ("/collections/incidents/items?limit=2", as_monitor),
        (f"/collections/incidents/items/{incident}", forged),
        ("/collections/provinces/items?limit=2", forged),
        ("/collections/districts/items?limit=2&province=SY07", forged),
        ("/collections/provinces/items/SY07", forged),
        ("/tiles/incidents.json?violation_type=shelling", forged),
        ("/tiles/incidents.json", as_monitor),
        ("/v1/digests/feed.atom", forged),
        ("/v1/digests/feed.atom?province=SY07", forged),
        ("/v1/digests/daily/latest", forged),
        ("/v1/digests/daily/2017-02-10/revisions", forged),
        ("/v1/incidents?limit=2", as_monitor),
        ("/v1/reports?limit=2", {**forged, **auth(reporter_secret)}),
        ("/v1/audit?limit=2", {**forged, **auth(admin)}),
        ("/v1/stats/provinces", forged),
        ("/openapi.json", forged),
        ("/docs", forged),
        # A trailing slash: Starlette answers with a redirect built from the request's URL.
        ("/collections/", forged),
        ("/healthz", forged),
        ("/metrics", as_monitor),
    ]
    answers = [
        (path, client.get(path, headers=headers, follow_redirects=False)) for path, headers in gets
    ]
    posted = client.post(
        "/v1/reports", json=report_body(), headers={**forged, **auth(reporter_secret)}
    )
    answers.append(("POST /v1/reports", posted))
    return answers


def test_no_answer_carries_a_forged_host(client, data, make_key, reporter):
    base = get_settings().public_base_url
    links_seen = 0
    for what, response in _answers(client, data, make_key, reporter, EVIL):
        assert response.status_code < 400, (what, response.status_code, response.text[:300])
        assert EVIL not in response.text, what
        for name, value in response.headers.items():
            assert EVIL not in value, (what, name, value)
        links_seen += response.text.count(base) + sum(
            v.count(base) for v in response.headers.values()
        )
    # The links are there, from the configuration.
    assert links_seen > 50


def test_every_kind_of_link_starts_with_the_configured_base(client, data, make_key, reporter):
    base = get_settings().public_base_url
    answers = dict(_answers(client, data, make_key, reporter, EVIL))
    page = answers["/collections/incidents/items?limit=2"].json()
    assert {link["rel"] for link in page["links"]} >= {"self", "collection", "next"}
    assert all(link["href"].startswith(base + "/") for link in page["links"])
    tilejson = answers["/tiles/incidents.json?violation_type=shelling"].json()
    assert tilejson["tiles"] == [
        f"{base}/tiles/incidents/{{z}}/{{x}}/{{y}}.mvt?violation_type=shelling"
    ]
    feed = ET.fromstring(answers["/v1/digests/feed.atom"].content)  # noqa: S314 - ours
    hrefs = [link.get("href") for link in feed.iter(f"{ATOM}link")]
    assert len(hrefs) >= 5 and all(h.startswith(base + "/") for h in hrefs)
    for path in ("/v1/incidents?limit=2", "/v1/reports?limit=2", "/v1/audit?limit=2"):
        assert answers[path].headers["link"].startswith(f"<{base}{path.split('?')[0]}?"), path
    assert answers["POST /v1/reports"].headers["location"].startswith(f"{base}/v1/reports/")
    assert answers["/collections/"].headers["location"] == f"{base}/collections"


@pytest.fixture
def configured(app, db, monkeypatch):
    """An app built with a public base URL under a path prefix and a trusted-host list."""
    from service.db import get_session
    from service.health.ops import ops_sessions
    from service.main import create_app

    monkeypatch.setenv("CEASEFIRE_PUBLIC_BASE_URL", "https://maps.example.org/ceasefire/")
    monkeypatch.setenv("CEASEFIRE_TRUSTED_HOSTS", "api.example.org, 10.0.0.7")
    get_settings.cache_clear()
    try:
        application = create_app()
        application.dependency_overrides[get_session] = lambda: db
        application.dependency_overrides[ops_sessions] = lambda: lambda: nullcontext(db)
        from fastapi.testclient import TestClient

        with TestClient(application) as test_client:
            yield test_client
    finally:
        monkeypatch.undo()
        get_settings.cache_clear()


def test_an_untrusted_host_is_refused_when_hosts_are_listed(configured):
    refused = configured.get("/collections", headers={"Host": EVIL})
    assert refused.status_code == 400
    assert refused.headers["content-type"] == "application/problem+json"
    assert refused.json()["type"].endswith("/unknown-host")
    assert "Host" in refused.json()["detail"]
    # Two Host headers are not one trusted host.
    assert configured.get("/", headers=[("Host", "api.example.org"), ("Host", EVIL)]).status_code
    for host in ("api.example.org", "API.example.org:8443", "10.0.0.7:8000", "maps.example.org"):
        answer = configured.get("/", headers={"Host": host})
        assert answer.status_code == 200, host
        assert {link["href"] for link in answer.json()["links"]} >= {
            "https://maps.example.org/ceasefire/",
            "https://maps.example.org/ceasefire/collections",
        }
    # Probes address the service by IP: liveness and readiness answer any Host.
    assert configured.get("/healthz", headers={"Host": "10.1.2.3:8000"}).status_code == 200
    assert configured.get("/readyz", headers={"Host": "10.1.2.3:8000"}).status_code == 200


def test_with_any_host_allowed_the_host_is_ignored(client, data):
    # The default: "*". A forged Host is answered, with the configured links.
    answer = client.get("/collections/incidents/items?limit=2", headers={"Host": EVIL})
    assert answer.status_code == 200 and EVIL not in answer.text


# ---- Vary and Cache-Control ----

CACHED = [
    "/collections",
    "/collections/incidents",
    "/collections/incidents/items?limit=2",
    "/collections/provinces/items/SY07",
    "/tiles/incidents.json",
    "/tiles/incidents/6/38/25.mvt",
    "/v1/stats/provinces",
    "/v1/digests/daily/2017-02-10",
    "/v1/digests/daily/2017-02-10/revisions/1",
    "/v1/digests/feed.atom",
]


def _vary(response) -> list[str]:
    return [t.strip().lower() for t in response.headers.get("vary", "").split(",") if t.strip()]


@pytest.mark.parametrize("path", CACHED)
def test_cached_answers_vary_on_credentials_and_encoding(client, data, reporter, path):
    _, secret = reporter
    basic = base64.b64encode(f"qgis:{secret}".encode()).decode()
    for headers, shared in (
        ({}, True),
        ({"Accept-Encoding": "gzip"}, True),
        (auth(secret), False),  # a reporter sees the public view, but sent a key
        ({"Authorization": f"Basic {basic}"}, False),  # QGIS
    ):
        response = client.get(path, headers=headers)
        assert response.status_code == 200, (path, response.text[:200])
        vary = _vary(response)
        assert len(vary) == len(set(vary)), vary
        assert {"authorization", "accept-encoding"} <= set(vary), (path, vary)
        if path.startswith("/v1/digests/daily"):
            assert "accept" in vary  # JSON, CSV or Markdown by Accept
        control = response.headers["cache-control"]
        assert control.startswith("public" if shared else "private"), (path, headers, control)
        again = client.get(path, headers={**headers, "If-None-Match": response.headers["etag"]})
        assert again.status_code == 304
        assert set(_vary(again)) == set(vary)
        assert again.headers["cache-control"] == control


def test_a_gzipped_answer_names_each_vary_once(client, data):
    response = client.get(
        "/collections/provinces/items?limit=14", headers={"Accept-Encoding": "gzip"}
    )
    assert response.headers["content-encoding"] == "gzip"
    vary = _vary(response)
    assert len(vary) == len(set(vary)) and {"authorization", "accept-encoding"} <= set(vary)


# ---- /metrics ----


def test_metrics_need_a_monitor_or_admin_key(client, make_key, db):
    anonymous = client.get("/metrics")
    assert anonymous.status_code == 401
    assert anonymous.headers["content-type"] == "application/problem+json"
    assert anonymous.headers["www-authenticate"].startswith("Bearer")
    unknown = client.get("/metrics", headers=auth("cfm_not-a-key"))
    assert unknown.status_code == 401 and "invalid_token" in unknown.headers["www-authenticate"]
    _, reporter_secret = make_key("reporter")
    refused = client.get("/metrics", headers=auth(reporter_secret))
    assert refused.status_code == 403
    assert refused.headers["content-type"] == "application/problem+json"
    for role in ("monitor", "admin"):
        _, secret = make_key(role)
        answer = client.get("/metrics", headers=auth(secret))
        assert answer.status_code == 200, role
        assert "ceasefire_http_requests_total" in answer.text
    from sqlalchemy import text

    denied = db.execute(
        text(
            "SELECT count(*) FROM audit_events WHERE action = 'access.denied'"
            " AND entity_id = 'GET /metrics'"
        )
    ).scalar_one()
    assert denied == 1
