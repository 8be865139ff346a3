"""The read-only geography API over the real OCHA boundaries."""

import pytest

GEOJSON = "application/geo+json"
PROBLEM = "application/problem+json"


def test_provinces_are_a_feature_collection_of_the_14_governorates(client):
    response = client.get("/v1/provinces", params={"simplify": 0.01})
    assert response.status_code == 200
    assert response.headers["content-type"].startswith(GEOJSON)
    body = response.json()
    assert body["type"] == "FeatureCollection"
    assert [f["id"] for f in body["features"]] == [f"SY{n:02d}" for n in range(1, 15)]
    idleb = body["features"][6]
    assert (
        idleb["properties"].items()
        >= {"pcode": "SY07", "name_en": "Idleb", "name_ar": "إدلب"}.items()
    )
    assert idleb["geometry"]["type"] in ("Polygon", "MultiPolygon")


def test_simplify_reduces_the_vertices(client):
    def vertices(body):
        return len(str(body["geometry"]["coordinates"]))

    full = client.get("/v1/provinces/SY04").json()
    coarse = client.get("/v1/provinces/SY04", params={"simplify": 0.05}).json()
    assert vertices(coarse) < vertices(full) / 5


def test_one_province(client):
    response = client.get("/v1/provinces/SY07")
    assert response.status_code == 200
    assert response.json()["id"] == "SY07"


def test_an_unknown_province_is_a_404_problem(client):
    response = client.get("/v1/provinces/SY99")
    assert response.status_code == 404
    assert response.headers["content-type"] == PROBLEM
    body = response.json()
    assert body["status"] == 404 and "SY99" in body["detail"]


@pytest.mark.parametrize("province", ["SY07", "Idlib", "idleb governorate"])
def test_districts_of_a_province(client, province):
    body = client.get("/v1/districts", params={"province": province}).json()
    ids = [f["id"] for f in body["features"]]
    assert ids and all(i.startswith("SY07") for i in ids)
    assert all(f["properties"]["parent_pcode"] == "SY07" for f in body["features"])


def test_all_62_districts(client):
    assert len(client.get("/v1/districts").json()["features"]) == 62


def test_districts_of_an_unknown_province(client):
    response = client.get("/v1/districts", params={"province": "Atlantis"})
    assert response.status_code == 400  # the province resolver's answer on every reader
    assert "Atlantis" in response.json()["detail"]


def test_locate_inside_idleb(client):
    response = client.get("/v1/locate", params={"lon": 36.63, "lat": 35.93})
    assert response.status_code == 200
    body = response.json()
    assert body["province"] == {"pcode": "SY07", "name_en": "Idleb", "name_ar": "إدلب"}
    assert body["district"]["pcode"].startswith("SY07")
    assert (body["match"], body["distance_km"]) == ("inside", 0.0)


def test_locate_off_the_tartous_coast(client):
    body = client.get("/v1/locate", params={"lon": 35.85, "lat": 34.90}).json()
    assert body["province"]["pcode"] == "SY10"
    assert body["match"] == "nearest" and 0 < body["distance_km"] <= 5


def test_locate_in_cyprus_is_refused(client):
    response = client.get("/v1/locate", params={"lon": 33.36, "lat": 35.17})
    assert response.status_code == 422
    assert response.headers["content-type"] == PROBLEM
    assert "outside the area monitored" in response.json()["detail"]


@pytest.mark.parametrize(
    "params",
    [
        {"lon": "nan", "lat": 35},
        {"lon": 36, "lat": "inf"},
        {"lon": 36, "lat": 90.0000001},
        {"lon": -180.5, "lat": 35},
        {"lon": 36, "lat": "1e308"},
        {"lon": "east", "lat": 35},
        {"lon": 36},
    ],
)
def test_locate_rejects_bad_coordinates(client, params):
    response = client.get("/v1/locate", params=params)
    assert response.status_code == 400  # a bad query parameter, as everywhere
    body = response.json()
    assert body["errors"] and body["errors"][0]["field"].startswith("query.")


def test_simplify_out_of_range(client):
    response = client.get("/v1/provinces", params={"simplify": -1})
    assert response.status_code == 400
