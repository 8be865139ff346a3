"""Standard outputs: what map clients, validators and browsers read from the service is what
the standards they follow say (RFC 7946 rings, typed MVT properties, attribution, OpenAPI
version, request ids, documentation pages that load nothing from another site)."""

from __future__ import annotations

import math
import re
import uuid
from html.parser import HTMLParser
from urllib.parse import urlsplit

import mapbox_vector_tile
import pytest
from schemathesis.specs.openapi.definitions import OPENAPI_30_VALIDATOR
from shapely.geometry import shape

from service.theatre.service import read_theatre_file
from tests.map_incidents import make_incidents, random_points, set_status


@pytest.fixture
def incidents(db, submitter):
    ids = make_incidents(db, submitter, random_points(60, seed=33))
    set_status(db, ids[:30], "verified")
    return ids


# ---- RFC 7946 ring orientation ----


def _signed_area(ring) -> float:
    """Shoelace sum: positive for a counter-clockwise ring (lon east, lat north)."""
    return sum(x0 * y1 - x1 * y0 for (x0, y0), (x1, y1) in zip(ring, ring[1:], strict=False)) / 2


def _polygons(geometry: dict) -> list[list]:
    if geometry["type"] == "Polygon":
        return [geometry["coordinates"]]
    if geometry["type"] == "MultiPolygon":
        return geometry["coordinates"]
    return []


def assert_rfc7946_rings(features: list[dict]) -> int:
    """Every exterior ring counter-clockwise and every hole clockwise, by shapely's
    orientation check and by the signed area; returns how many polygons were checked."""
    checked = 0
    for feature in features:
        geometry = feature["geometry"]
        if geometry is None:
            continue
        for polygon in _polygons(geometry):
            exterior, *holes = polygon
            assert _signed_area(exterior) > 0, f"{feature.get('id')}: clockwise exterior ring"
            for hole in holes:
                assert _signed_area(hole) < 0, f"{feature.get('id')}: counter-clockwise hole"
            checked += 1
        parsed = shape(geometry)
        for part in getattr(parsed, "geoms", [parsed]):
            if part.geom_type == "Polygon":
                assert part.exterior.is_ccw, feature.get("id")
                assert not any(hole.is_ccw for hole in part.interiors), feature.get("id")
    return checked


def _items(client, path, headers=None) -> list[dict]:
    features, url = [], f"{path}?limit=1000"
    while url:
        body = client.get(url, headers=headers).json()
        features += body["features"]
        url = next((link["href"] for link in body["links"] if link["rel"] == "next"), None)
    return features


@pytest.mark.parametrize("simplify", ["0", "0.01"])
def test_every_area_polygon_of_the_v1_routes_is_wound_counter_clockwise(client, simplify):
    provinces = client.get(f"/v1/provinces?simplify={simplify}").json()["features"]
    districts = client.get(f"/v1/districts?simplify={simplify}").json()["features"]
    assert len(provinces) == 14 and len(districts) == 62
    assert assert_rfc7946_rings(provinces + districts) >= 76
    for kind, feature in (("provinces", provinces[0]), ("districts", districts[-1])):
        one = client.get(f"/v1/{kind}/{feature['id']}?simplify={simplify}").json()
        assert assert_rfc7946_rings([one]) >= 1


def test_every_area_polygon_of_the_ogc_collections_is_wound_counter_clockwise(client):
    for name, count in (("provinces", 14), ("districts", 62)):
        features = _items(client, f"/collections/{name}/items")
        assert len(features) == count
        assert assert_rfc7946_rings(features) >= count
        one = client.get(f"/collections/{name}/items/{features[0]['id']}").json()
        assert assert_rfc7946_rings([one]) >= 1


def test_stats_polygons_are_wound_counter_clockwise(client, incidents, monitor):
    provinces = client.get("/v1/stats/provinces", headers=monitor).json()["features"]
    assert assert_rfc7946_rings(provinces) >= 14
    for keyed in (monitor, None):
        cells = client.get("/v1/stats/grid?cell=0.5", headers=keyed).json()["features"]
        assert cells and assert_rfc7946_rings(cells) == len(cells)


def test_stored_area_polygons_are_counter_clockwise(db):
    from sqlalchemy import text

    rings = db.execute(
        text("SELECT count(*) FILTER (WHERE ST_IsPolygonCCW(geom)), count(*) FROM admin_areas")
    ).one()
    assert rings[0] == rings[1] == 76


# ---- vector tiles ----


def tile_of(lon, lat, z):
    n = 2**z
    x = int((lon + 180) / 360 * n)
    y = int((1 - math.asinh(math.tan(math.radians(lat))) / math.pi) / 2 * n)
    return x, y


NUMERIC = {
    "cells": {"incidents": int, "violations": int, "killed": int, "cell_deg": float},
    "incidents": {"killed": int, "civilians_killed": int},
}


def _assert_typed(layers: dict) -> int:
    checked = 0
    for name, layer in layers.items():
        for feature in layer["features"]:
            for prop, kind in NUMERIC[name].items():
                value = feature["properties"].get(prop)
                if value is None:  # MVT has no null: an absent property
                    continue
                assert type(value) is kind, f"{name}.{prop} = {value!r}"
                checked += 1
    return checked


@pytest.mark.parametrize(
    "query",
    ["", "?violation_type=shelling,airstrike", "?status=verified"],
    ids=["rollup", "live", "statuses"],
)
def test_cell_tiles_carry_numbers_as_numbers(client, incidents, monitor, query):
    x, y = tile_of(36.8, 36.0, 4)
    response = client.get(f"/tiles/incidents/4/{x}/{y}.mvt{query}", headers=monitor)
    layers = mapbox_vector_tile.decode(response.content)
    assert set(layers) == {"cells"} and layers["cells"]["features"]
    assert _assert_typed(layers) >= 4 * len(layers["cells"]["features"]) - len(
        layers["cells"]["features"]
    )
    for feature in layers["cells"]["features"]:
        assert feature["properties"]["cell_deg"] > 0


def test_public_cell_tiles_carry_numbers_as_numbers(client, incidents):
    x, y = tile_of(36.8, 36.0, 4)
    layers = mapbox_vector_tile.decode(client.get(f"/tiles/incidents/4/{x}/{y}.mvt").content)
    assert layers["cells"]["features"] and _assert_typed(layers) > 0


def test_point_tiles_carry_numbers_as_numbers(client, db, submitter, monitor):
    make_incidents(db, submitter, [(36.63, 35.93)] * 3)
    x, y = tile_of(36.63, 35.93, 12)
    layers = mapbox_vector_tile.decode(
        client.get(f"/tiles/incidents/12/{x}/{y}.mvt", headers=monitor).content
    )
    assert set(layers) == {"incidents"}
    assert _assert_typed(layers) == 2 * len(layers["incidents"]["features"]) > 0


# ---- attribution ----


def _sources():
    from service.config import get_settings

    return read_theatre_file(get_settings().theatre_file).sources


def test_the_theatre_file_names_its_sources():
    sources = _sources()
    assert sources and all(s.license and s.license_url.startswith("https://") for s in sources)


def _assert_credits(html: str) -> None:
    for source in _sources():
        assert source.license in html and source.license_url in html
        assert source.attribution.replace("&", "&amp;") in html
    assert "<script" not in html.lower()


def _assert_license_links(links: list[dict]) -> None:
    licences = [link for link in links if link["rel"] == "license"]
    assert {link["href"] for link in licences} == {s.license_url for s in _sources()}
    assert all(link["type"] == "text/html" and link["title"] for link in licences)


def test_tilejson_carries_the_attribution_as_html(client):
    body = client.get("/tiles/incidents.json").json()
    _assert_credits(body["attribution"])
    assert re.search(r'<a href="https://[^"]+">', body["attribution"])


def test_landing_page_and_collections_carry_attribution_and_licence_links(client):
    landing = client.get("/").json()
    _assert_credits(landing["attribution"])
    _assert_license_links(landing["links"])
    collections = client.get("/collections").json()["collections"]
    assert len(collections) == 3
    for collection in collections:
        _assert_credits(collection["attribution"])
        _assert_license_links(collection["links"])
    one = client.get("/collections/districts").json()
    _assert_credits(one["attribution"])
    _assert_license_links(one["links"])


def test_attribution_follows_the_seeded_theatre(client, db):
    from sqlalchemy import text

    db.execute(text("UPDATE theatres SET sources = '[]'::jsonb"))
    assert "attribution" not in client.get("/").json()
    assert "attribution" not in client.get("/tiles/incidents.json").json()


# ---- conformance and the API document ----

OAS30 = "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/oas30"


def test_api_document_is_the_openapi_version_conformance_claims(client):
    assert OAS30 in client.get("/conformance").json()["conformsTo"]
    response = client.get("/api")
    assert response.headers["content-type"] == "application/vnd.oai.openapi+json;version=3.0"
    document = response.json()
    assert document["openapi"].startswith("3.0.")
    errors = [str(e) for e in OPENAPI_30_VALIDATOR.iter_errors(document)]
    assert errors == []
    # The same API: every operation and parameter the 3.1 document has.
    full = client.get("/openapi.json").json()
    assert full["openapi"].startswith("3.1.")
    assert document["paths"].keys() == full["paths"].keys()
    assert document["components"]["parameters"] == full["components"]["parameters"]
    limit = document["components"]["parameters"]["limit"]["schema"]
    assert limit["maximum"] > limit["default"] > 0  # what QGIS reads
    landing = client.get("/").json()
    [desc] = [link for link in landing["links"] if link["rel"] == "service-desc"]
    assert desc["type"] == response.headers["content-type"]


# ---- request ids ----


def test_an_incoming_uuid_request_id_is_kept_and_logged(client, caplog):
    caplog.set_level("INFO", logger="ceasefire.access")
    incoming = str(uuid.uuid4())
    response = client.get("/healthz", headers={"X-Request-ID": incoming})
    assert response.headers["x-request-id"] == incoming
    [record] = [r for r in caplog.records if r.name == "ceasefire.access"]
    assert record.fields["request_id"] == incoming
    upper = str(uuid.uuid4()).upper()
    assert client.get("/healthz", headers={"X-Request-ID": upper}).headers["x-request-id"] == upper


@pytest.mark.parametrize(
    "incoming",
    [
        "abc123",
        "not-a-uuid",
        "0" * 32,
        "{" + str(uuid.UUID(int=5)) + "}",
        str(uuid.UUID(int=5)) + "0",
        "<script>",
    ],
)
def test_any_other_request_id_is_replaced_never_echoed(client, caplog, incoming):
    caplog.set_level("INFO", logger="ceasefire.access")
    response = client.get("/healthz", headers={"X-Request-ID": incoming})
    given = response.headers["x-request-id"]
    assert given != incoming and uuid.UUID(given).version == 4
    [record] = [r for r in caplog.records if r.name == "ceasefire.access"]
    assert record.fields["request_id"] == given


# ---- documentation pages with their own assets ----


class _References(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.urls: list[str] = []

    def handle_starttag(self, tag, attrs):
        for name, value in attrs:
            if name in ("src", "href", "spec-url") and value:
                self.urls.append(value)


def _referenced_urls(html: str) -> list[str]:
    parser = _References()
    parser.feed(html)
    # Swagger UI names its spec and assets in its inline start-up script.
    parser.urls += re.findall(r"""(?:url|src|href)\s*:\s*['"]([^'"]+)['"]""", html)
    parser.urls += re.findall(r"https?://[^\s'\"<>)]+", html)
    return parser.urls


MEDIA = {".js": "text/javascript", ".css": "text/css", ".png": "image/png", ".json": "json"}


@pytest.mark.parametrize("page", ["/docs", "/redoc"])
def test_documentation_pages_load_only_their_own_assets(client, page):
    response = client.get(page)
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/")
    csp = response.headers["content-security-policy"]
    assert "default-src 'self'" in csp and "http" not in csp
    urls = _referenced_urls(response.text)
    assert any(u.endswith(".js") for u in urls) and "/openapi.json" in urls
    for url in urls:
        parts = urlsplit(url)
        assert not parts.scheme and not parts.netloc, f"{page} names another site: {url}"
        assert url.startswith("/"), url
        asset = client.get(url)
        assert asset.status_code == 200, url
        suffix = next(s for s in MEDIA if parts.path.endswith(s))
        assert MEDIA[suffix] in asset.headers["content-type"], url
        assert len(asset.content) > 100


def test_only_the_listed_assets_are_served(client):
    assert client.get("/static/docs/package.json").status_code == 404
    assert client.get("/static/docs/..%2F..%2Fpackage.json").status_code == 404
    response = client.get("/static/docs/swagger-ui-bundle.js")
    assert response.status_code == 200 and "public" in response.headers["cache-control"]
