"""What the public may learn: verified incidents, at a grid cell's centre, on a day. Never an
exact position, an exact time, a reporter, a description or a raw name."""

import datetime as dt
import math
import re

import pytest
from sqlalchemy import text

from service.config import get_settings
from tests.map_incidents import make_incidents, random_points, set_status

ITEMS = "/collections/incidents/items"
CELL = 0.1


@pytest.fixture
def stored(db, submitter):
    """40 incidents, 25 verified; their exact positions and times as stored."""
    ids = make_incidents(db, submitter, random_points(40, seed=11))
    set_status(db, ids[:25], "verified")
    set_status(db, ids[25:30], "disputed")
    rows = db.execute(
        text(
            "SELECT id::text, ST_X(geom) AS lon, ST_Y(geom) AS lat, occurred_at, status"
            " FROM incidents"
        )
    ).all()
    return {row.id: row for row in rows}


def centre(value: float) -> float:
    return round((math.floor(value / CELL) + 0.5) * CELL, 6)


def all_public(client, query="", headers=None):
    features, url = [], f"{ITEMS}?limit=7{query}"
    bodies = []
    while url:
        response = client.get(url, headers=headers or {})
        assert response.status_code == 200, response.text
        # The response's own timeStamp is the only time of day a public body may hold.
        bodies.append(re.sub(r'"timeStamp":"[^"]*"', "", response.text))
        body = response.json()
        features += body["features"]
        url = next((link["href"] for link in body["links"] if link["rel"] == "next"), None)
    return features, "".join(bodies)


def exact_strings(row) -> list[str]:
    """How an exact coordinate or time could appear in a body."""
    return [
        f"{row.lon:.6f}".rstrip("0"),
        f"{row.lat:.6f}".rstrip("0"),
        row.occurred_at.astimezone(dt.UTC).strftime("%H:%M:%S"),
        row.occurred_at.astimezone(dt.UTC).isoformat()[:16],
    ]


def test_public_features_are_verified_generalised_and_anonymous(client, stored, reporter):
    features, raw = all_public(client)
    verified = {k for k, row in stored.items() if row.status == "verified"}
    assert {f["id"] for f in features} == verified
    for feature in features:
        row = stored[feature["id"]]
        lon, lat = feature["geometry"]["coordinates"]
        assert (lon, lat) == (centre(row.lon), centre(row.lat))
        assert (lon, lat) != (row.lon, row.lat)
        assert re.fullmatch(r"\d{4}-\d{2}-\d{2}", feature["properties"]["occurred_at"])
        hidden = {
            "place_name",
            "perpetrator_raw",
            "target_raw",
            "description",
            "sources",
            "reporter",
            "geo_precision",
            "location_distance_km",
            "updated_at",
        }
        assert not hidden & set(feature["properties"])
    # Nothing exact anywhere in the bodies: no coordinate, no time of day.
    for row in stored.values():
        for exact in exact_strings(row):
            assert exact not in raw, exact
    principal, _ = reporter
    for secret in (
        "seen from the roof",
        "the school on the north road",
        "Syrian Arab Army",
        "field reporter A",
        str(principal.key_id),
    ):
        assert secret not in raw


def test_a_reporter_key_sees_the_public_view(client, stored, reporter):
    _, secret = reporter
    features, _ = all_public(client, headers={"Authorization": f"Bearer {secret}"})
    assert len(features) == 25
    assert all(re.fullmatch(r"\d{4}-\d{2}-\d{2}", f["properties"]["occurred_at"]) for f in features)


def test_monitors_see_everything_exactly(client, stored, make_key):
    _, secret = make_key("monitor")
    features, _ = all_public(client, headers={"Authorization": f"Bearer {secret}"})
    assert len(features) == 40
    for feature in features:
        row = stored[feature["id"]]
        assert feature["geometry"]["coordinates"] == pytest.approx([row.lon, row.lat], abs=1e-6)
        assert feature["properties"]["place_name"] == "the school on the north road"


def test_desktop_clients_may_send_the_key_as_a_basic_password(client, stored, make_key):
    import base64

    _, secret = make_key("verifier")
    basic = base64.b64encode(f"qgis:{secret}".encode()).decode()
    features, _ = all_public(client, headers={"Authorization": f"Basic {basic}"})
    assert len(features) == 40
    wrong = base64.b64encode(b"qgis:cfm_wrong").decode()
    assert client.get(ITEMS, headers={"Authorization": f"Basic {wrong}"}).status_code == 401
    assert client.get(ITEMS, headers={"Authorization": "Basic !!!"}).status_code == 401


def known(stored):
    return next(row for row in stored.values() if row.status == "verified")


def box(lon, lat, half=0.0004):
    return f"&bbox={lon - half!r},{lat - half!r},{lon + half!r},{lat + half!r}"


def test_a_tiny_box_around_a_public_position_returns_the_same_cell_every_time(client, stored):
    row = known(stored)
    cx, cy = centre(row.lon), centre(row.lat)
    answers = []
    for shift in (0.0, 0.0001, -0.0002, 0.0003, 0.0):
        features, _ = all_public(client, box(cx + shift, cy - shift))
        answers.append(sorted((f["id"], tuple(f["geometry"]["coordinates"])) for f in features))
    assert all(answer == answers[0] for answer in answers)
    assert (row.id, (cx, cy)) in answers[0]
    assert {coords for _, coords in answers[0]} == {(cx, cy)}


def test_a_tiny_box_around_an_exact_position_finds_nothing_finer(client, stored):
    row = known(stored)
    results = [all_public(client, box(row.lon, row.lat))[0] for _ in range(3)]
    assert results[0] == results[1] == results[2]
    # The box holds the exact point but not the cell's centre: the incident is not there.
    assert row.id not in {f["id"] for f in results[0]}


def test_the_public_cannot_probe_an_exact_time(client, stored, make_key):
    row = known(stored)
    exact = row.occurred_at.astimezone(dt.UTC).isoformat().replace("+00:00", "Z")
    window = (
        (row.occurred_at - dt.timedelta(minutes=1))
        .astimezone(dt.UTC)
        .isoformat()
        .replace("+00:00", "Z")
        + "/"
        + (row.occurred_at + dt.timedelta(minutes=1))
        .astimezone(dt.UTC)
        .isoformat()
        .replace("+00:00", "Z")
    )
    _, secret = make_key("monitor")
    monitor = {"Authorization": f"Bearer {secret}"}
    for value in (exact, window):
        assert row.id in {f["id"] for f in all_public(client, f"&datetime={value}", monitor)[0]}
        public_ids = {f["id"] for f in all_public(client, f"&datetime={value}")[0]}
        # The public's times are days: an instant or a two-minute window holds no day start.
        assert row.id not in public_ids


def test_public_status_filters_are_limited_to_verified(client, stored):
    assert client.get(f"{ITEMS}?status=verified").status_code == 200
    response = client.get(f"{ITEMS}?status=unverified")
    assert response.status_code == 403
    assert response.headers["content-type"] == "application/problem+json"


def test_public_grids_and_counts_hold_only_verified_incidents(client, stored, monkeypatch):
    # Which incidents are counted, with small-number suppression off (its own tests are in
    # test_public_privacy.py): with it, cells of 1 or 2 incidents are withheld (null).
    monkeypatch.setattr(get_settings(), "public_min_count", 1)
    grid = client.get("/v1/stats/grid?cell=0.2").json()
    assert sum(f["properties"]["incidents"] for f in grid["features"]) == 25
    for feature in grid["features"]:
        i, j = feature["properties"]["i"], feature["properties"]["j"]
        ring = feature["geometry"]["coordinates"][0]
        assert min(x for x, _ in ring) == pytest.approx(i * 0.2)
        assert min(y for _, y in ring) == pytest.approx(j * 0.2)
    assert client.get("/v1/stats/grid?cell=0.05").status_code == 400
    assert client.get("/v1/stats/grid?cell=0.25").status_code == 400
    provinces = client.get("/v1/stats/provinces").json()
    assert sum(f["properties"]["incidents"] for f in provinces["features"]) == 25
