"""Same question, same answer, everywhere: a filter is refused alike on every reader of
events (same status, same problem type, same message), and a valid one selects the same
events on every list."""

from __future__ import annotations

import pytest

from service.config import get_settings
from tests.http.report_helpers import auth, report_body

# Every reader of events, as (name, method, path). Tiles are asked at z6 over Idleb.
READERS = [
    ("reports", "GET", "/v1/reports"),
    ("incidents", "GET", "/v1/incidents"),
    ("review-queue", "GET", "/v1/review-queue"),
    ("items", "GET", "/collections/incidents/items"),
    ("stats-provinces", "GET", "/v1/stats/provinces"),
    ("stats-timeseries", "GET", "/v1/stats/timeseries"),
    ("stats-grid", "GET", "/v1/stats/grid"),
    ("tilejson", "GET", "/tiles/incidents.json"),
    ("tile", "GET", "/tiles/incidents/6/38/25.mvt"),
    ("digests", "GET", "/v1/digests/daily/2017-02-10"),
    ("subscriptions", "POST", "/v1/subscriptions"),
    # Areas are not events, but a governorate is named there the same way.
    ("districts", "GET", "/v1/districts"),
    ("district-items", "GET", "/collections/districts/items"),
]
# These take a province only; reports have no review status, the queue its own statuses.
_PROVINCE_ONLY = {"digests", "subscriptions", "districts", "district-items"}
_NO_STATUS = {"reports", "review-queue"}

BAD_FILTERS = {
    "unknown province": {"province": "Atlantis"},
    "unknown guarantor": {"guarantor": "USA"},
    "unknown party": {"party": "nobody at all"},
    "bad violation_type": {"violation_type": "tickling"},
    "bad ceasefire_status": {"ceasefire_status": "maybe"},
    "bad status": {"status": "lost"},
    "bad confidence": {"confidence": "certain"},
    "empty confidence": {"confidence": "high,"},
    "malformed bbox": {"bbox": "36,35,37"},
    "non-finite bbox": {"bbox": "nan,35,37,36"},
    "inverted bbox": {"bbox": "36,36,37,35"},
    "inverted since/until": {"since": "2017-02-01T00:00:00Z", "until": "2017-01-01T00:00:00Z"},
    "inverted datetime": {"datetime": "2017-02-01/2017-01-01"},
    "datetime without offset": {"datetime": "2017-01-10T09:30:00"},
    "extreme datetime": {"datetime": "0001-01-01/.."},
    "extreme since": {"since": "9999-12-31T23:59:59Z"},
    "extreme until": {"until": "0001-01-01T00:00:00+14:00"},
}


def _applies(reader: str, params: dict[str, str]) -> bool:
    if reader in _PROVINCE_ONLY:
        return set(params) == {"province"}
    if reader in _NO_STATUS:
        return "status" not in params and "confidence" not in params
    return True


@pytest.fixture
def admin(make_key):
    return make_key("admin", "filters admin")[1]


@pytest.fixture
def loopback_allowed(monkeypatch):
    monkeypatch.setattr(get_settings(), "webhook_allow_private", True)
    monkeypatch.setattr(get_settings(), "webhook_allowed_ports", [80, 443, 8420])


def ask(client, secret: str, reader: tuple[str, str, str], params: dict[str, str]):
    _, method, path = reader
    if method == "POST":
        body = {"callback_url": "http://127.0.0.1:8420/hook", **params}
        return client.post(path, json=body, headers=auth(secret))
    return client.get(path, params=params, headers=auth(secret))


@pytest.mark.parametrize("case", list(BAD_FILTERS))
def test_a_bad_filter_is_refused_alike_on_every_reader(client, admin, loopback_allowed, case):
    params = BAD_FILTERS[case]
    answers = {}
    for reader in READERS:
        if not _applies(reader[0], params):
            continue
        response = ask(client, admin, reader, params)
        assert response.headers["content-type"] == "application/problem+json", (reader, response)
        problem = response.json()
        answers[reader[0]] = (response.status_code, problem["type"], problem["detail"])
    first = next(iter(answers.values()))
    assert first[0] == 400, answers
    assert first[1].endswith("/invalid-parameter"), answers
    assert all(answer == first for answer in answers.values()), answers
    assert len(answers) >= (2 if "province" in params and len(params) == 1 else 1)


@pytest.mark.parametrize("reader", READERS, ids=[r[0] for r in READERS])
def test_every_reader_refuses_an_unknown_province_alike(client, admin, loopback_allowed, reader):
    response = ask(client, admin, reader, {"province": "Atlantis"})
    assert response.status_code == 400, response.text
    problem = response.json()
    assert problem["type"].endswith("/invalid-parameter")
    assert problem["detail"] == "province: no province is known as 'Atlantis'"


_FIELD = {
    "unknown party": "query.party",
    "malformed bbox": "query.bbox",
    "inverted since/until": "query.until",
}


@pytest.mark.parametrize(
    "reader", [r for r in READERS if r[0] not in _PROVINCE_ONLY], ids=lambda r: r[0]
)
@pytest.mark.parametrize("case", ["unknown party", "malformed bbox", "inverted since/until"])
def test_each_reader_gives_the_shared_answer(client, admin, reader, case):
    response = ask(client, admin, reader, BAD_FILTERS[case])
    problem = response.json()
    assert (response.status_code, problem["type"]) == (
        400,
        "https://ceasefire-monitor.example/problems/invalid-parameter",
    ), problem
    assert problem["errors"][0]["field"] == _FIELD[case]


# ---- the same events for the same valid filter ----


def _submit(client, secret, **fields) -> str:
    response = client.post("/v1/reports", json=report_body(**fields), headers=auth(secret))
    assert response.status_code == 201, response.text
    return response.json()["incident_id"]


def _listed(client, secret, path: str, params: dict[str, str]) -> set[str]:
    response = client.get(path, params=params, headers=auth(secret))
    assert response.status_code == 200, response.text
    body = response.json()
    if "features" in body:
        return {f["id"] for f in body["features"]}
    return {
        item["incident"]["id"] if "incident" in item else item.get("incident_id") or item["id"]
        for item in body["items"]
    }


# (Every event here is unverified, so the verifiers' queue holds them all.)
LISTS = ["/v1/reports", "/v1/incidents", "/v1/review-queue", "/collections/incidents/items"]


def test_a_party_is_matched_as_resolved_for_each_events_own_date(client, admin, reporter):
    """A coalition named in one field is the deciding member *on the event's date*: on
    2017-01-10 Ahrar al-Sham and Zenki were both covered (the first named decides), from
    2017-01-28 Zenki was excluded (it decides). A party filter follows what each event
    stored for its date, on every list, whatever the server's date."""
    _, secret = reporter
    coalition = "Ahrar al-Sham, Zenki"
    january = _submit(
        client,
        secret,
        occurred_at="2017-01-10T09:30:00+02:00",
        perpetrator=coalition,
        target="civilians",
    )
    february = _submit(
        client,
        secret,
        occurred_at="2017-02-10T09:30:00+02:00",
        perpetrator=coalition,
        target="civilians",
    )
    for path in LISTS:
        for name in ("Zenki", "Nour al-Din al-Zenki", "nour-al-din-al-zenki"):
            assert _listed(client, admin, path, {"party": name}) == {february}, (path, name)
        assert _listed(client, admin, path, {"party": "Ahrar al-Sham"}) == {january}, path
        assert _listed(client, admin, path, {"party": "HTS"}) == set(), path


def test_the_same_filters_select_the_same_events_on_every_list(client, admin, reporter):
    _, secret = reporter
    idleb = _submit(client, secret, violation_type="airstrike")
    aleppo = _submit(
        client,
        secret,
        location={"type": "Point", "coordinates": [37.16, 36.2]},
        occurred_at="2017-01-20T10:00:00+02:00",
        perpetrator="Turkish army",
    )
    cases = [
        ({"province": "Idlib"}, {idleb}),
        ({"province": "SY02,Idleb"}, {idleb, aleppo}),
        ({"violation_type": "airstrike"}, {idleb}),
        ({"party": "TSK"}, {aleppo}),
        ({"guarantor": "tur"}, {aleppo}),
        ({"since": "2017-01-15"}, {aleppo}),
        ({"until": "2017-01-15T00:00:00+02:00"}, {idleb}),
        ({"datetime": "2017-01-20"}, {aleppo}),
        ({"datetime": "2017-01-01/2017-01-31", "until": "2017-01-15T00:00:00Z"}, {idleb}),
        ({"bbox": "36.5,35.8,36.8,36.0"}, {idleb}),
    ]
    for params, expected in cases:
        for path in LISTS:
            assert _listed(client, admin, path, params) == expected, (path, params)


def test_a_confidence_band_selects_the_same_incidents_on_every_reader(
    client, admin, reporter, make_key
):
    """The band is stored on the incident (kept with its figures), so every incident
    reader filters on the same column: lists, items, aggregates and tiles agree."""
    _, secret = reporter
    _, other = make_key("reporter", "second key")
    graded = [{"kind": "media", "publisher": "Agency", "reliability": "A", "credibility": 1}]
    low = _submit(client, secret)
    high = _submit(
        client,
        secret,
        location={"type": "Point", "coordinates": [37.16, 36.2]},
        occurred_at="2017-01-20T10:00:00+02:00",
        sources=graded,
    )
    joined = client.post(
        "/v1/reports",
        json=report_body(
            location={"type": "Point", "coordinates": [37.16, 36.2]},
            occurred_at="2017-01-20T10:00:00+02:00",
            sources=[{"kind": "witness", "publisher": "Neighbour", "reliability": "C"}],
            incident_id=high,
        ),
        headers=auth(other),
    )
    assert joined.status_code == 201, joined.text
    for band, expected in (("high", {high}), ("low", {low}), ("medium", set())):
        for path in ("/v1/incidents", "/collections/incidents/items"):
            assert _listed(client, admin, path, {"confidence": band}) == expected, (path, band)
        totals = client.get(
            "/v1/stats/timeseries",
            params={"confidence": band, "interval": "month", "datetime": "2017-01-01/2017-01-31"},
            headers=auth(admin),
        )
        assert totals.status_code == 200, totals.text
        assert sum(b["incidents"] for b in totals.json()["buckets"]) == len(expected), band
        provinces = client.get(
            "/v1/stats/provinces",
            params={"confidence": band, "datetime": "2017-01-01/2017-01-31"},
            headers=auth(admin),
        )
        assert provinces.status_code == 200, provinces.text
        counted = sum(f["properties"]["incidents"] for f in provinces.json()["features"])
        assert counted == len(expected), band
    assert _listed(client, admin, "/v1/incidents", {"confidence": "low,high"}) == {low, high}
