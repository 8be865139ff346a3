"""OGC API - Features as QGIS and GDAL use it: discovery, paging, filters, errors, caching."""

import datetime as dt
import gzip
import uuid
from urllib.parse import parse_qs, urlsplit

import pytest
from sqlalchemy import text

from service.config import get_settings
from tests.map_incidents import make_incidents, random_points, set_status

ITEMS = "/collections/incidents/items"
# Links start with the configured public base URL, whatever Host the request named.
BASE = get_settings().public_base_url


@pytest.fixture
def incidents(db, submitter):
    """25 incidents, two of them at the same instant (the id breaks the tie); 15 verified."""
    ids = make_incidents(db, submitter, random_points(23))
    twins = make_incidents(
        db,
        submitter,
        random_points(2, seed=99),
        start=dt.datetime(2017, 1, 7, 12, tzinfo=dt.UTC),
        step=dt.timedelta(0),
    )
    ids += twins
    set_status(db, ids[:15], "verified")
    return ids


def follow(client, url, headers=None, between=None):
    """Every feature id over every page, following next links (absolute, typed)."""
    seen, pages = [], 0
    while url:
        response = client.get(url, headers=headers or {})
        assert response.status_code == 200, response.text
        assert response.headers["content-type"] == "application/geo+json"
        body = response.json()
        assert body["numberReturned"] == len(body["features"])
        seen += [f["id"] for f in body["features"]]
        nexts = [link for link in body["links"] if link["rel"] == "next"]
        assert len(nexts) <= 1
        url = None
        if nexts:
            assert nexts[0]["type"] == "application/geo+json"
            assert nexts[0]["href"].startswith(f"{BASE}/collections/")
            url = nexts[0]["href"]
        pages += 1
        if between:
            between(pages)
    return seen, pages


def test_landing_page_links_are_absolute_and_typed(client):
    body = client.get("/").json()
    rels = {link["rel"]: link for link in body["links"]}
    assert rels["service-desc"]["href"] == f"{BASE}/api"
    assert rels["service-desc"]["type"] == "application/vnd.oai.openapi+json;version=3.0"
    assert rels["data"]["href"] == f"{BASE}/collections"
    assert rels["conformance"]["href"] == f"{BASE}/conformance"
    own = [link for link in body["links"] if link["rel"] != "license"]  # licences: elsewhere
    assert all(link["href"].startswith(f"{BASE}/") and link["type"] for link in own)
    licences = [link for link in body["links"] if link["rel"] == "license"]
    assert licences and all(link["href"].startswith("https://") for link in licences)


def test_conformance_classes(client):
    classes = client.get("/conformance").json()["conformsTo"]
    base = "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/"
    assert {base + c for c in ("core", "geojson", "oas30")} <= set(classes)


def test_api_advertises_the_limit_as_qgis_reads_it(client):
    response = client.get("/api")
    assert response.headers["content-type"].startswith("application/vnd.oai.openapi+json")
    doc = response.json()
    schema = doc["components"]["parameters"]["limit"]["schema"]
    assert (schema["default"], schema["maximum"]) == (100, 10000)
    parameters = doc["paths"]["/collections/incidents/items"]["get"]["parameters"]
    assert {"$ref": "#/components/parameters/limit"} in parameters
    declared = {p["name"]: p for p in parameters if "name" in p}
    queryables = {
        n for n, p in declared.items() if p.get("style") == "form" and p.get("explode") is False
    }
    # What QGIS offers as filterable properties: the property filters, nothing else.
    assert queryables == {
        "province",
        "violation_type",
        "ceasefire_status",
        "guarantor",
        "party",
        "status",
    }
    assert all(declared[n]["schema"]["type"] == "string" for n in queryables)
    components = doc["components"]["parameters"]
    assert "style" not in components["cursor"] and "style" not in components["f"]


def test_collections_list_three_with_typed_item_links(client, db, incidents):
    body = client.get("/collections").json()
    assert [c["id"] for c in body["collections"]] == ["incidents", "provinces", "districts"]
    for collection in body["collections"]:
        [items] = [link for link in collection["links"] if link["rel"] == "items"]
        assert items["type"] == "application/geo+json"
        assert items["href"] == f"{BASE}/collections/{collection['id']}/items"
        assert collection["extent"]["spatial"]["bbox"][0][0] < 37
    incidents_collection = client.get("/collections/incidents").json()
    days = db.execute(
        text(
            "SELECT min(d)::text, max(d)::text FROM (SELECT (occurred_at AT TIME ZONE"
            " 'Asia/Damascus')::date AS d FROM incidents WHERE status = 'verified') x"
        )
    ).one()
    assert incidents_collection["extent"]["temporal"]["interval"] == [list(days)]
    assert client.get("/collections/nothing").status_code == 404


def test_paging_by_next_returns_every_incident_exactly_once(client, db, incidents, monitor):
    seen, pages = follow(client, f"{ITEMS}?limit=4", monitor)
    assert sorted(seen) == sorted(str(i) for i in incidents)
    assert len(seen) == len(set(seen)) and pages == 7
    stored = db.execute(
        text("SELECT id::text FROM incidents ORDER BY occurred_at DESC, id DESC")
    ).scalars()
    assert seen == list(stored)  # newest first, ties broken by id


def test_paging_the_public_view_returns_every_verified_incident_once(client, incidents):
    seen, _ = follow(client, f"{ITEMS}?limit=4")
    assert sorted(seen) == sorted(str(i) for i in incidents[:15])


def test_paging_stays_exact_while_incidents_arrive(client, db, submitter, incidents, monitor):
    arrived = []

    def insert(page):
        # Some newer than everything seen, some older than everything left: neither may
        # shift the pages already fixed by the cursor.
        newer = make_incidents(
            db,
            submitter,
            random_points(2, seed=page),
            start=dt.datetime(2017, 1, 20, tzinfo=dt.UTC),
        )
        older = make_incidents(
            db,
            submitter,
            random_points(1, seed=50 + page),
            start=dt.datetime(2016, 12, 1, tzinfo=dt.UTC),
        )
        arrived.extend(newer + older)

    seen, _ = follow(client, f"{ITEMS}?limit=5", monitor, between=insert)
    assert len(seen) == len(set(seen))
    assert set(str(i) for i in incidents) <= set(seen)
    # Only those arriving behind the cursor can appear (once), never those ahead of it.
    assert set(seen) - set(str(i) for i in incidents) <= set(str(i) for i in arrived)


def test_limit_is_clamped_not_refused(client, incidents):
    body = client.get(f"{ITEMS}?limit=50000").json()
    assert body["numberReturned"] == 15
    body = client.get(f"{ITEMS}?limit=3").json()
    [nxt] = [link for link in body["links"] if link["rel"] == "next"]
    assert parse_qs(urlsplit(nxt["href"]).query)["limit"] == ["3"]


def test_the_cheap_count_is_made_once_on_the_first_page(client, incidents, monitor):
    first = client.get(f"{ITEMS}?limit=10", headers=monitor).json()
    assert first["numberMatched"] == 25
    [nxt] = [link for link in first["links"] if link["rel"] == "next"]
    second = client.get(nxt["href"], headers=monitor).json()
    assert "numberMatched" not in second and second["numberReturned"] == 10
    counted = client.get(f"{nxt['href']}&count=true", headers=monitor).json()
    assert counted["numberMatched"] == 25


def test_features_carry_top_level_ids_and_count_when_cheap(client, incidents, monitor):
    body = client.get(f"{ITEMS}?limit=10", headers=monitor).json()
    assert all(uuid.UUID(f["id"]) for f in body["features"])
    assert body["numberMatched"] == 25
    assert client.get(f"{ITEMS}?limit=10").json()["numberMatched"] == 15
    filtered = client.get(f"{ITEMS}?status=verified,disputed&province=Idlib", headers=monitor)
    assert filtered.json()["numberMatched"] == sum(
        1 for f in follow(client, f"{ITEMS}?status=verified,disputed&province=Idlib", monitor)[0]
    )
    by_box = client.get(f"{ITEMS}?bbox=36,35,38,37", headers=monitor).json()
    assert "numberMatched" not in by_box  # a spatial count would cost a scan
    counted = client.get(f"{ITEMS}?bbox=36,35,38,37&count=true&limit=2", headers=monitor).json()
    assert counted["numberMatched"] == len(follow(client, f"{ITEMS}?bbox=36,35,38,37", monitor)[0])
    [nxt] = [link for link in counted["links"] if link["rel"] == "next"]
    assert "count=true" in nxt["href"]
    links = {link["rel"]: link for link in body["links"]}
    assert links["self"]["type"] == "application/geo+json"
    assert links["collection"]["type"] == "application/json"
    assert body["timeStamp"].endswith("Z")


def test_filters_select_what_they_name(client, db, incidents, monitor):
    idlib, _ = follow(client, f"{ITEMS}?province=SY07&limit=100", monitor)
    expected = db.execute(
        text("SELECT id::text FROM incidents WHERE province_pcode = 'SY07'")
    ).scalars()
    assert sorted(idlib) == sorted(expected)
    none, _ = follow(client, f"{ITEMS}?violation_type=airstrike", monitor)
    assert none == []
    party, _ = follow(client, f"{ITEMS}?party=Syrian%20Arab%20Army&guarantor=RUS", monitor)
    assert len(party) == 25
    day, _ = follow(client, f"{ITEMS}?datetime=2017-01-06", monitor)
    expected_day = db.execute(
        text(
            "SELECT id::text FROM incidents WHERE (occurred_at AT TIME ZONE 'Asia/Damascus')::date"
            " = '2017-01-06'"
        )
    ).scalars()
    assert sorted(day) == sorted(expected_day) and day
    later, _ = follow(client, f"{ITEMS}?datetime=2017-01-06T12:00:00Z/..", monitor)
    expected_later = db.execute(
        text("SELECT id::text FROM incidents WHERE occurred_at >= '2017-01-06T12:00:00Z'")
    ).scalars()
    assert sorted(later) == sorted(expected_later)


def test_qgis_style_bbox(client, db, incidents, monitor):
    url = f"{ITEMS}?bbox=36.4499999999999957%2C35.7000000000000028%2C36.8000000000000043%2C36.0499999999999972"
    seen, _ = follow(client, url, monitor)
    expected = db.execute(
        text(
            "SELECT id::text FROM incidents"
            " WHERE geom && ST_MakeEnvelope(36.45, 35.7, 36.8, 36.05, 4326)"
        )
    ).scalars()
    assert sorted(seen) == sorted(expected) and seen


@pytest.mark.parametrize(
    "query",
    [
        "colour=red",
        "bbox=1,2,3",
        "bbox=a,b,c,d",
        "bbox=36,36,35,35",
        "datetime=yesterday",
        "datetime=2017-02-01/2017-01-01",
        "limit=0",
        "limit=ten",
        "violation_type=tickling",
        "province=Atlantis",
        "guarantor=USA",
        "party=Nobody%20At%20All",
        "status=lost",
        "limit=1&limit=2",
        "cursor=not-a-cursor",
        "f=html",
        "count=yes",
    ],
)
def test_malformed_parameters_are_400_problems(client, query, monitor):
    response = client.get(f"{ITEMS}?{query}", headers=monitor)
    assert response.status_code == 400, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["status"] == 400


def test_a_public_cursor_cannot_carry_a_time(client, incidents, monitor):
    body = client.get(f"{ITEMS}?limit=2", headers=monitor).json()
    [nxt] = [link for link in body["links"] if link["rel"] == "next"]
    full_cursor = parse_qs(urlsplit(nxt["href"]).query)["cursor"][0]
    assert client.get(f"{ITEMS}?cursor={full_cursor}").status_code == 400


def test_one_item_by_id(client, incidents, monitor):
    feature = client.get(f"{ITEMS}/{incidents[0]}").json()
    assert feature["type"] == "Feature" and feature["id"] == str(incidents[0])
    assert {link["rel"] for link in feature["links"]} == {"self", "collection"}
    unverified = incidents[20]
    assert client.get(f"{ITEMS}/{unverified}").status_code == 404  # the public sees verified
    assert client.get(f"{ITEMS}/{unverified}", headers=monitor).status_code == 200
    assert client.get(f"{ITEMS}/{uuid.uuid4()}").status_code == 404
    assert client.get(f"{ITEMS}/not-a-uuid").status_code == 404


def test_etag_and_304_follow_the_data(client, db, submitter, incidents):
    first = client.get(f"{ITEMS}?limit=5")
    tag = first.headers["etag"]
    assert tag.startswith('W/"')
    assert first.headers["cache-control"].startswith("public, max-age=")
    again = client.get(f"{ITEMS}?limit=5", headers={"If-None-Match": tag})
    assert again.status_code == 304 and again.content == b""
    assert client.get(f"{ITEMS}?limit=6", headers={"If-None-Match": tag}).status_code == 200
    make_incidents(db, submitter, random_points(1, seed=3), status="verified")
    changed = client.get(f"{ITEMS}?limit=5", headers={"If-None-Match": tag})
    assert changed.status_code == 200 and changed.headers["etag"] != tag


def test_authorised_answers_are_private(client, incidents, monitor):
    response = client.get(f"{ITEMS}?limit=5", headers=monitor)
    assert response.headers["cache-control"] == "private, no-cache"
    assert "Authorization" in response.headers["vary"]
    assert response.headers["etag"] != client.get(f"{ITEMS}?limit=5").headers["etag"]


def test_large_answers_are_gzipped_and_cors_is_open(client, incidents):
    response = client.get(
        f"{ITEMS}?limit=100",
        headers={"Accept-Encoding": "gzip", "Origin": "https://maps.example"},
    )
    assert response.headers["content-encoding"] == "gzip"
    assert response.headers["access-control-allow-origin"] == "*"
    raw = client.get("/conformance", headers={"Accept-Encoding": "gzip"})
    assert "content-encoding" not in raw.headers  # too small to be worth it
    assert gzip.compress(response.content)  # the client decoded it


def test_unknown_key_is_refused_not_downgraded(client):
    response = client.get(ITEMS, headers={"Authorization": "Bearer cfm_nonsense"})
    assert response.status_code == 401


def test_area_collections_page_and_filter(client):
    seen, pages = follow(client, "/collections/districts/items?limit=20")
    assert len(seen) == 62 and len(set(seen)) == 62 and pages == 4
    idlib, _ = follow(client, "/collections/districts/items?province=Idlib")
    assert idlib and all(code.startswith("SY07") for code in idlib)
    body = client.get("/collections/provinces/items?bbox=36.5,35.8,36.6,35.9").json()
    assert [f["id"] for f in body["features"]] == ["SY07"] and body["numberMatched"] == 1
    feature = client.get("/collections/provinces/items/SY07").json()
    assert feature["properties"]["name_en"] == "Idleb"
    assert client.get("/collections/provinces/items/SY99").status_code == 404
    assert client.get("/collections/provinces/items?province=SY07").status_code == 400


@pytest.mark.parametrize("limit", [5, 100])
def test_features_hold_the_rows_values_escaped_in_every_shape(
    client, db, submitter, incidents, monitor, limit
):
    """Pages of few and of many features (area names read per row or from one map per
    statement) and the single item write the same JSON, from the row's own values."""
    awkward = 'the "old" mill \\ north\tside, قرية'
    db.execute(
        text("UPDATE incidents SET place_name = :p WHERE id = :id"),
        {"p": awkward, "id": incidents[0]},
    )
    db.commit()
    row = db.execute(
        text(
            "SELECT i.*, pa.name_en AS province_name, da.name_en AS district_name"
            " FROM incidents i JOIN admin_areas pa ON pa.pcode = i.province_pcode"
            " LEFT JOIN admin_areas da ON da.pcode = i.district_pcode WHERE i.id = :id"
        ),
        {"id": incidents[0]},
    ).one()
    seen = {}
    url = f"{ITEMS}?limit={limit}"
    while url:
        body = client.get(url, headers=monitor).json()
        seen.update({f["id"]: f for f in body["features"]})
        url = next((link["href"] for link in body["links"] if link["rel"] == "next"), None)
    feature = seen[str(incidents[0])]
    single = client.get(f"{ITEMS}/{incidents[0]}", headers=monitor).json()
    assert {k: v for k, v in single.items() if k != "links"} == feature
    props = feature["properties"]
    assert props["place_name"] == awkward
    assert props["province_name"] == row.province_name
    assert props["district_name"] == row.district_name
    assert props["responsible_guarantors"] == list(row.responsible_guarantors)
    assert (props["killed"], props["injured"]) == (row.killed, row.injured)
    assert props["occurred_at"] == row.occurred_at.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    assert feature["geometry"]["type"] == "Point"
