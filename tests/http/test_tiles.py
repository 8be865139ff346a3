"""Vector tiles: points up close, cells with counts far out, public rules in both."""

import math

import mapbox_vector_tile
import pytest
from sqlalchemy import text

from service.config import get_settings
from tests.map_incidents import make_incidents, random_points, set_status


@pytest.fixture
def incidents(db, submitter):
    ids = make_incidents(db, submitter, random_points(60, seed=21))
    set_status(db, ids[:35], "verified")
    return ids


def tile_of(lon, lat, z):
    n = 2**z
    x = int((lon + 180) / 360 * n)
    y = int((1 - math.asinh(math.tan(math.radians(lat))) / math.pi) / 2 * n)
    return x, y


def tile_bounds(z, x, y):
    n = 2**z

    def lat(row):
        return math.degrees(math.atan(math.sinh(math.pi * (1 - 2 * row / n))))

    return x / n * 360 - 180, lat(y + 1), (x + 1) / n * 360 - 180, lat(y)


def decode(content):
    return mapbox_vector_tile.decode(content) if content else {}


def test_tilejson_describes_absolute_tile_urls(client):
    body = client.get("/tiles/incidents.json?violation_type=shelling").json()
    assert body["tilejson"] == "3.0.0"
    assert body["tiles"] == [
        get_settings().public_base_url + "/tiles/incidents/{z}/{x}/{y}.mvt?violation_type=shelling"
    ]
    assert {layer["id"] for layer in body["vector_layers"]} == {"cells", "incidents"}
    assert 35 < body["center"][0] < 42 and body["minzoom"] == 0


def test_a_low_zoom_tile_holds_cells_that_count_every_incident(client, db, incidents, monitor):
    x, y = tile_of(36.8, 36.0, 5)
    response = client.get(f"/tiles/incidents/5/{x}/{y}.mvt", headers=monitor)
    assert response.headers["content-type"] == "application/vnd.mapbox-vector-tile"
    assert len(response.content) < 500_000
    layers = decode(response.content)
    assert set(layers) == {"cells"}
    assert sum(f["properties"]["incidents"] for f in layers["cells"]["features"]) == 60
    public = decode(client.get(f"/tiles/incidents/5/{x}/{y}.mvt").content)
    assert sum(f["properties"]["incidents"] for f in public["cells"]["features"]) == 35


def test_a_high_zoom_tile_holds_points(client, db, incidents, monitor):
    z = 9
    lon, lat = db.execute(
        text("SELECT ST_X(geom), ST_Y(geom) FROM incidents WHERE id = :id"), {"id": incidents[0]}
    ).one()
    x, y = tile_of(lon, lat, z)
    west, south, east, north = tile_bounds(z, x, y)
    layers = decode(client.get(f"/tiles/incidents/{z}/{x}/{y}.mvt", headers=monitor).content)
    ids = {f["properties"]["id"] for f in layers["incidents"]["features"]}
    inside = set(
        db.execute(
            text(
                "SELECT id::text FROM incidents WHERE geom && ST_MakeEnvelope(:w, :s, :e, :n, 4326)"
            ),
            {"w": west, "s": south, "e": east, "n": north},
        ).scalars()
    )
    assert str(incidents[0]) in ids and inside <= ids
    feature = layers["incidents"]["features"][0]
    assert feature["geometry"]["type"] == "Point"
    assert "T" in feature["properties"]["occurred_at"]


def test_public_point_tiles_show_verified_incidents_at_cell_centres(client, db, incidents, monitor):
    z = 9
    lon, lat = db.execute(
        text("SELECT ST_X(geom), ST_Y(geom) FROM incidents WHERE id = :id"), {"id": incidents[0]}
    ).one()
    x, y = tile_of(lon, lat, z)
    url = f"/tiles/incidents/{z}/{x}/{y}.mvt"
    public = decode(client.get(url).content)["incidents"]["features"]
    full = decode(client.get(url, headers=monitor).content)["incidents"]["features"]
    verified = {str(i) for i in incidents[:35]}
    assert public and {f["properties"]["id"] for f in public} <= verified
    assert all(len(f["properties"]["occurred_at"]) == 10 for f in public)
    shown = {f["properties"]["id"]: tuple(f["geometry"]["coordinates"]) for f in public}
    exact = {f["properties"]["id"]: tuple(f["geometry"]["coordinates"]) for f in full}
    cells = dict(
        db.execute(
            text(
                "SELECT id::text, floor(ST_X(geom) / 0.1) || ':' || floor(ST_Y(geom) / 0.1) FROM incidents"
            )
        ).all()
    )
    for a in shown:
        # (a public point may sit in this tile while its exact position is in the next one)
        assert shown[a] != exact.get(a)
        for b in shown:
            assert (shown[a] == shown[b]) == (cells[a] == cells[b])


def test_cells_from_the_rollup_match_cells_counted_live(client, incidents, monitor):
    from service.event.terms import ViolationType

    x, y = tile_of(36.8, 36.0, 6)
    every_type = ",".join(t.value for t in ViolationType)  # read from the per-category rollups
    world = "-180,-90,180,90"  # a box: no rollup answers it, the cells are counted live
    for headers in (monitor, {}):
        rolled = decode(client.get(f"/tiles/incidents/6/{x}/{y}.mvt", headers=headers).content)
        by_category = decode(
            client.get(
                f"/tiles/incidents/6/{x}/{y}.mvt?violation_type={every_type}", headers=headers
            ).content
        )
        live = decode(
            client.get(f"/tiles/incidents/6/{x}/{y}.mvt?bbox={world}", headers=headers).content
        )

        def cells(layers):
            return sorted(
                (str(f["geometry"]["coordinates"]), f["properties"]["incidents"])
                for f in layers["cells"]["features"]
            )

        assert cells(rolled) == cells(by_category) == cells(live) and cells(rolled)


def test_too_many_points_fall_back_to_cells(client, incidents, monitor, monkeypatch):
    monkeypatch.setattr(get_settings(), "tiles_max_points", 3)
    x, y = tile_of(36.8, 36.0, 8)
    layers = decode(client.get(f"/tiles/incidents/8/{x}/{y}.mvt", headers=monitor).content)
    assert set(layers) == {"cells"}


def test_tiles_have_etags_and_refuse_bad_coordinates(client, incidents):
    x, y = tile_of(36.8, 36.0, 6)
    first = client.get(f"/tiles/incidents/6/{x}/{y}.mvt")
    assert first.headers["cache-control"].startswith("public")
    again = client.get(
        f"/tiles/incidents/6/{x}/{y}.mvt", headers={"If-None-Match": first.headers["etag"]}
    )
    assert again.status_code == 304
    for bad in ("6/64/1", "6/a/1", "30/0/0", "-1/0/0"):
        assert client.get(f"/tiles/incidents/{bad}.mvt").status_code in (400, 404), bad
    # bbox is an event filter like any other (it narrows the tile); a malformed one is refused.
    assert client.get(f"/tiles/incidents/6/{x}/{y}.mvt?bbox=1,2").status_code == 400
    empty = client.get("/tiles/incidents/6/0/0.mvt")
    assert empty.status_code == 200 and empty.content == b""
