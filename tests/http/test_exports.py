"""Exports of incidents (CSV, HXL, GeoPackage) against the API: the same incidents, ids and
attributes as ``/v1/incidents`` (full view) and the OGC items (the public's), the same
filters and the same refusals. The CSV is read with libhxl, the GeoPackage with GDAL
(pyogrio)."""

from __future__ import annotations

import csv
import datetime as dt
import io
import os
import time

import hxl
import pyogrio
import pytest
import shapely
from hxl.input import InputOptions
from sqlalchemy import text

from service.config import get_settings
from service.export import limits
from tests.map_incidents import make_incidents, random_points, report, set_status

CSV = "/v1/exports/incidents.csv"
GPKG = "/v1/exports/incidents.gpkg"
ITEMS = "/collections/incidents/items"
WITHHELD = {
    "occurred_at",
    "actor1_reported",
    "actor2_reported",
    "location",
    "geo_precision",
    "location_match",
    "confidence",
    "merged_into",
    "created_at",
    "updated_at",
}


@pytest.fixture
def stored(db, submitter):
    """30 incidents with a point (12 verified, 6 disputed, 3 rejected, the rest unverified),
    two types, and 3 located to a province only (2 of them verified)."""
    from service.report.service import submit

    ids = make_incidents(db, submitter, random_points(30, seed=5))
    ids += make_incidents(
        db,
        submitter,
        random_points(6, seed=9),
        violation_type="airstrike",
        start=dt.datetime(2017, 3, 2, 21, 40, tzinfo=dt.UTC),
    )
    set_status(db, ids[:12], "verified")
    set_status(db, ids[12:18], "disputed")
    set_status(db, ids[18:21], "rejected")
    at = dt.datetime(2017, 2, 11, 8, 0, tzinfo=dt.UTC)
    reports = [
        report(0, 0, at + dt.timedelta(hours=k), location=None, province="Idlib") for k in range(3)
    ]
    outcomes = submit(session=db, submitter=submitter, reports_in=reports)
    assert all(o.status == 201 for o in outcomes), [o.error for o in outcomes]
    no_point = [o.report["incident_id"] for o in outcomes]
    set_status(db, no_point[:2], "verified")
    return ids + no_point


def pages(client, url: str, headers: dict, key: str) -> list[dict]:
    found = []
    while url:
        response = client.get(url, headers=headers)
        assert response.status_code == 200, response.text
        body = response.json()
        found += body[key]
        if key == "items":
            url = body["next"]
        else:
            url = next((link["href"] for link in body["links"] if link["rel"] == "next"), None)
    return found


def incidents(client, headers: dict, query: str = "") -> list[dict]:
    return pages(client, f"/v1/incidents?limit=7{query}", headers, "items")


def features(client, headers: dict | None = None, query: str = "") -> list[dict]:
    return pages(client, f"{ITEMS}?limit=7{query}", headers or {}, "features")


def read_hxl(body: bytes) -> tuple[list[str], list[dict[str, str]]]:
    """The export as libhxl reads it: its hashtags and rows (display tags to values)."""
    dataset = hxl.data(io.BytesIO(body), InputOptions(encoding="utf-8"))
    tags = dataset.display_tags
    rows = [dict(zip(tags, row.values, strict=True)) for row in dataset]
    return tags, rows


def read_csv(body: bytes) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(body.decode())))


def utc_second(value: str) -> str:
    at = dt.datetime.fromisoformat(value).astimezone(dt.UTC)
    return at.strftime("%Y-%m-%dT%H:%M:%SZ")


def number(value: str) -> float | None:
    return None if value == "" else float(value)


def assert_full_row(row: dict[str, str], incident: dict) -> None:
    """One CSV row against the incident as ``/v1/incidents`` shows it."""
    location = incident["location"]
    district = incident["district"] or {}
    expected = {
        "event_id": str(incident["id"]),
        "occurred_at": utc_second(incident["occurred_at"]),
        "time_precision": incident["time_precision"],
        "event_type": incident["violation_type"],
        "actor1": incident["perpetrator"]["party_name"] or "",
        "actor1_id": incident["perpetrator"]["party_id"] or "",
        "actor1_reported": incident["perpetrator"]["raw"] or "",
        "actor2": incident["target"]["party_name"] or "",
        "actor2_id": incident["target"]["party_id"] or "",
        "admin1": incident["province"]["name_en"],
        "admin1_pcode": incident["province"]["pcode"],
        "admin2": district.get("name_en") or "",
        "admin2_pcode": district.get("pcode") or "",
        "location": incident["place_name"] or "",
        "location_match": incident["location_match"],
        "fatalities": str(incident["casualties"]["killed"]),
        "injured": str(incident["casualties"]["injured"]),
        "civilians_killed": str(incident["casualties"]["civilians_killed"]),
        "status": incident["status"],
        "ceasefire_status": incident["ceasefire_status"],
        "guarantors": ";".join(incident["responsible_guarantors"]),
        "confidence_band": incident["confidence_band"],
        "report_count": str(incident["report_count"]),
    }
    assert {k: row[k] for k in expected} == expected
    assert float(row["confidence"]) == pytest.approx(incident["confidence"])
    if location is None:
        assert (row["longitude"], row["latitude"]) == ("", "")
    else:
        lon, lat = location["coordinates"]
        assert float(row["longitude"]) == round(lon, 6)
        assert float(row["latitude"]) == round(lat, 6)


def test_a_monitors_csv_is_v1_incidents_row_for_row_and_hxl_reads_it(
    client, stored, monitor, tmp_path
):
    response = client.get(f"{CSV}?hxl=true", headers=monitor)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/csv")
    assert "attachment" in response.headers["content-disposition"]
    assert ".csv" in response.headers["content-disposition"]
    listed = incidents(client, monitor)
    tags, hxl_rows = read_hxl(response.content)
    for tag in ("#event+id", "#date+occurred", "#adm1+name", "#adm1+code", "#adm2+name",
                "#adm2+code", "#loc+name", "#geo+lat", "#geo+lon", "#event+type",
                "#group+perpetrator+name", "#group+target+name", "#affected+killed"):  # fmt: skip
        assert tag in tags
    # Every status but merged, latest first, as /v1/incidents lists them.
    assert [r["#event+id"] for r in hxl_rows] == [str(i["id"]) for i in listed]
    assert len(listed) == len(stored)
    rows = read_csv(response.content)[1:]  # the hashtag row first
    for row, incident in zip(rows, listed, strict=True):
        assert_full_row(row, incident)
    by_id = {r["#event+id"]: r for r in hxl_rows}
    first = listed[0]
    assert by_id[str(first["id"])]["#affected+killed"] == str(first["casualties"]["killed"])
    assert by_id[str(first["id"])]["#adm1+code"] == first["province"]["pcode"]


def assert_public_row(row: dict[str, str], feature: dict) -> None:
    """One public CSV row against the incident as the public's OGC items show it."""
    p = feature["properties"]
    expected = {
        "event_id": feature["id"],
        "event_date": p["occurred_at"],
        "time_precision": p["time_precision"],
        "event_type": p["violation_type"],
        "actor1_id": p["perpetrator_party"] or "",
        "actor2_id": p["target_party"] or "",
        "admin1": p["province_name"],
        "admin1_pcode": p["province"],
        "admin2": p["district_name"] or "",
        "admin2_pcode": p["district"] or "",
        "fatalities": str(p["killed"]),
        "injured": str(p["injured"]),
        "civilians_killed": str(p["civilians_killed"]),
        "status": "verified",
        "ceasefire_status": p["ceasefire_status"],
        "guarantors": ";".join(p["responsible_guarantors"]),
        "report_count": str(p["report_count"]),
    }
    assert {k: row[k] for k in expected} == expected
    if feature["geometry"] is None:
        assert (row["longitude"], row["latitude"]) == ("", "")
    else:
        lon, lat = feature["geometry"]["coordinates"]
        assert (float(row["longitude"]), float(row["latitude"])) == (lon, lat)


def exact_traces(db) -> list[str]:
    """How an exact time or place of the stored incidents could appear in an export."""
    rows = db.execute(
        text("SELECT ST_X(geom) AS lon, ST_Y(geom) AS lat, occurred_at FROM incidents")
    ).all()
    traces = ["the school on the north road"]
    for row in rows:
        traces.append(row.occurred_at.astimezone(dt.UTC).strftime("T%H:%M:%S"))
        if row.lon is not None:
            traces += [f"{row.lon:.6f}".rstrip("0"), f"{row.lat:.6f}".rstrip("0")]
    return traces


@pytest.mark.parametrize("caller", ["anonymous", "reporter"])
def test_the_publics_csv_is_its_ogc_items_without_the_withheld_columns(
    client, db, stored, reporter, caller
):
    headers = {}
    if caller == "reporter":
        headers = {"Authorization": f"Bearer {reporter[1]}"}
    response = client.get(CSV, headers=headers)
    assert response.status_code == 200, response.text
    rows = read_csv(response.content)
    shown = features(client, headers)
    assert len(shown) == 14  # 12 verified with a point, 2 without
    # The same incidents, in the same order (by id: the order tells nothing of the time).
    assert [r["event_id"] for r in rows] == [f["id"] for f in shown]
    for row, feature in zip(rows, shown, strict=True):
        assert_public_row(row, feature)
    assert not WITHHELD & set(rows[0])
    body = response.content.decode()
    assert not [trace for trace in exact_traces(db) if trace in body]
    assert response.headers["cache-control"].startswith("private" if headers else "public")


FILTERS = [
    "province=Idlib",
    "violation_type=airstrike",
    "status=verified,disputed",
    "status=rejected&violation_type=shelling",
    "bbox=36.4,35.7,36.8,36.0",
    "since=2017-01-06&until=2017-01-09",
    "datetime=2017-01-05T12:00:00Z/2017-01-08",
    "confidence=low,medium",
    "province=Idlib&province=Aleppo",
]


@pytest.mark.parametrize("query", FILTERS)
def test_filters_select_what_v1_incidents_lists(client, stored, monitor, query):
    listed = incidents(client, monitor, f"&{query}")
    response = client.get(f"{CSV}?{query}", headers=monitor)
    assert response.status_code == 200, response.text
    rows = read_csv(response.content)
    assert [r["event_id"] for r in rows] == [str(i["id"]) for i in listed]
    for row, incident in zip(rows, listed, strict=True):
        assert_full_row(row, incident)


@pytest.mark.parametrize(
    "query",
    ["violation_type=shelling", "bbox=36.4,35.7,36.8,36.0", "datetime=2017-01-06/2017-01-09"],
)
def test_public_filters_select_what_the_public_items_show(client, stored, query):
    shown = features(client, query=f"&{query}")
    rows = read_csv(client.get(f"{CSV}?hxl=false&{query}").content)
    assert [r["event_id"] for r in rows] == [f["id"] for f in shown]
    assert shown  # the filters leave something to compare


def problem(response) -> tuple:
    body = response.json()
    assert response.headers["content-type"].startswith("application/problem+json")
    return response.status_code, body["type"], body["title"], body["detail"], body.get("errors")


BAD_FILTERS = [
    "violation_type=nuke",
    "province=Atlantis",
    "party=nobody%20at%20all",
    "guarantor=XYZ",
    "bbox=1,2,3",
    "bbox=10,10,5,5",
    "since=yesterday",
    "since=2017-01-09&until=2017-01-02",
    "datetime=1800-01-01/..",
    "status=gone",
    "confidence=certain",
    "province=",
]


@pytest.mark.parametrize("query", BAD_FILTERS)
@pytest.mark.parametrize("path", [CSV, GPKG])
def test_bad_filters_get_the_problem_v1_incidents_gives(client, monitor, path, query):
    expected = client.get(f"/v1/incidents?{query}", headers=monitor)
    assert 400 <= expected.status_code < 500
    assert problem(client.get(f"{path}?{query}", headers=monitor)) == problem(expected)


@pytest.mark.parametrize("path", [CSV, GPKG])
def test_the_public_may_not_ask_for_other_statuses_as_on_the_items(client, path):
    expected = client.get(f"{ITEMS}?status=unverified")
    assert expected.status_code == 403
    assert problem(client.get(f"{path}?status=unverified")) == problem(expected)


@pytest.mark.parametrize(
    ("path", "query"),
    [(CSV, "provinse=Idlib"), (GPKG, "hxl=true"), (CSV, "hxl=yes"), (CSV, "hxl=true&hxl=true")],
)
def test_unknown_parameters_and_bad_options_are_400(client, monitor, path, query):
    response = client.get(f"{path}?{query}", headers=monitor)
    assert response.status_code == 400
    assert problem(response)[4][0]["field"] in ("query.provinse", "query.hxl")


def read_geopackage(tmp_path, body: bytes, name: str = "export.gpkg"):
    path = tmp_path / name
    path.write_bytes(body)
    return path


def layer_rows(path, layer: str) -> tuple[dict, list[dict], list]:
    """A layer as GDAL reads it: its metadata, rows (field names to values), geometries."""
    meta, _, geometry, fields = pyogrio.raw.read(path, layer=layer)
    names = list(meta["fields"])
    rows = [dict(zip(names, values, strict=True)) for values in zip(*fields, strict=True)]
    shapes = [] if geometry is None else list(shapely.from_wkb(geometry))
    return meta, rows, shapes


def test_a_monitors_geopackage_is_v1_incidents_with_points_and_typed_attributes(
    client, stored, monitor, tmp_path
):
    query = "status=verified,unverified,disputed"
    response = client.get(f"{GPKG}?{query}", headers=monitor)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "application/geopackage+sqlite3"
    assert ".gpkg" in response.headers["content-disposition"]
    path = read_geopackage(tmp_path, response.content)
    layers = {name: kind for name, kind in pyogrio.list_layers(path)}
    assert layers == {"incidents": "Point", "incidents_without_point": None}
    info = pyogrio.read_info(path, layer="incidents")
    assert info["crs"] == "EPSG:4326" and info["geometry_type"] == "Point"
    types = dict(zip(info["fields"], info["dtypes"], strict=True))
    assert types["fatalities"] == "int64" and types["report_count"] == "int64"
    assert types["latitude"] == "float64" and types["confidence"] == "float64"
    assert types["event_id"] == "object" and types["admin1"] == "object"
    assert types["event_date"].startswith("datetime64")  # a DATE
    assert types["occurred_at"].startswith("datetime64")  # a DATETIME

    listed = incidents(client, monitor, f"&{query}")
    with_point = [i for i in listed if i["location"] is not None]
    without = [i for i in listed if i["location"] is None]
    _, rows, shapes = layer_rows(path, "incidents")
    assert [r["event_id"] for r in rows] == [str(i["id"]) for i in with_point]
    for row, shape, incident in zip(rows, shapes, with_point, strict=True):
        lon, lat = incident["location"]["coordinates"]
        assert (shape.x, shape.y) == (round(lon, 6), round(lat, 6))
        assert (row["longitude"], row["latitude"]) == (shape.x, shape.y)
        assert row["fatalities"] == incident["casualties"]["killed"]
        assert row["event_type"] == incident["violation_type"]
        assert row["admin2_pcode"] == incident["district"]["pcode"]
        assert row["status"] == incident["status"]
        assert row["confidence"] == pytest.approx(incident["confidence"])
        exact = dt.datetime.fromisoformat(incident["occurred_at"]).replace(microsecond=0)
        occurred = row["occurred_at"].astype("datetime64[s]").item()
        assert occurred == exact.astimezone(dt.UTC).replace(tzinfo=None)
    _, others, _ = layer_rows(path, "incidents_without_point")
    assert [r["event_id"] for r in others] == [str(i["id"]) for i in without]
    assert len(without) == 3 and all(r["admin1_pcode"] == "SY07" for r in others)


def test_the_publics_geopackage_is_its_ogc_items(client, stored, tmp_path):
    query = "violation_type=shelling"
    response = client.get(f"{GPKG}?{query}")
    assert response.status_code == 200, response.text
    path = read_geopackage(tmp_path, response.content)
    shown = features(client, query=f"&{query}")
    _, rows, shapes = layer_rows(path, "incidents")
    assert not WITHHELD & set(rows[0])
    with_point = [f for f in shown if f["geometry"] is not None]
    assert [r["event_id"] for r in rows] == [f["id"] for f in with_point]
    for row, shape, feature in zip(rows, shapes, with_point, strict=True):
        assert [shape.x, shape.y] == feature["geometry"]["coordinates"]
        assert (
            str(row["event_date"].astype("datetime64[D]")) == feature["properties"]["occurred_at"]
        )
        assert row["admin1_pcode"] == feature["properties"]["province"]
    _, others, _ = layer_rows(path, "incidents_without_point")
    assert [r["event_id"] for r in others] == [f["id"] for f in shown if f["geometry"] is None]


def test_an_export_without_incidents_is_a_header_and_an_empty_layer(client, monitor, tmp_path):
    query = "datetime=2999-01-01/.."
    response = client.get(f"{CSV}?hxl=true&{query}", headers=monitor)
    assert response.status_code == 200
    assert len(response.content.decode().splitlines()) == 2
    response = client.get(f"{GPKG}?{query}", headers=monitor)
    path = read_geopackage(tmp_path, response.content)
    assert [name for name, _ in pyogrio.list_layers(path)] == ["incidents"]
    assert pyogrio.read_info(path, layer="incidents")["features"] == 0


@pytest.mark.parametrize("path", [CSV, GPKG])
def test_a_client_holding_the_export_gets_304(client, db, stored, monitor, path):
    first = client.get(path, headers=monitor)
    tag = first.headers["etag"]
    again = client.get(path, headers={**monitor, "If-None-Match": tag})
    assert again.status_code == 304 and again.content == b""
    # Two spellings of one filter are one representation; another filter another.
    spelt = client.get(f"{path}?province=Idlib", headers=monitor).headers["etag"]
    assert client.get(f"{path}?province=SY07", headers=monitor).headers["etag"] == spelt
    assert spelt != tag
    set_status(db, stored[:1], "rejected")
    assert client.get(path, headers={**monitor, "If-None-Match": tag}).status_code == 200


def test_too_many_geopackage_exports_are_503_and_change_nothing(
    client, stored, monitor, monkeypatch
):
    monkeypatch.setattr(get_settings(), "export_gpkg_max_concurrent", 1)
    release = limits.GEOPACKAGES.take()
    try:
        response = client.get(GPKG, headers=monitor)
        assert response.status_code == 503
        assert response.headers["retry-after"]
        assert "retry" in problem(response)[3]
        assert limits.EXPORTS.taken == 0
    finally:
        release()
    assert client.get(GPKG, headers=monitor).status_code == 200
    assert limits.GEOPACKAGES.taken == 0 and limits.EXPORTS.taken == 0


def test_too_many_exports_are_503(client, stored, monkeypatch):
    monkeypatch.setattr(get_settings(), "export_max_concurrent", 1)
    release = limits.EXPORTS.take()
    try:
        assert client.get(CSV).status_code == 503
    finally:
        release()
    assert client.get(CSV).status_code == 200
    assert limits.EXPORTS.taken == 0


def test_the_temporary_geopackage_is_removed_and_disk_is_bounded(
    client, stored, monitor, monkeypatch, tmp_path
):
    directory = tmp_path / "exports"
    directory.mkdir()
    monkeypatch.setattr(get_settings(), "export_dir", directory)
    response = client.get(GPKG, headers=monitor)
    assert response.status_code == 200 and response.content.startswith(b"SQLite format 3")
    assert list(directory.iterdir()) == []
    monkeypatch.setattr(get_settings(), "export_min_free_mb", 10**12)
    response = client.get(GPKG, headers=monitor)
    assert response.status_code == 503 and "disk" in problem(response)[3]
    assert list(directory.iterdir()) == []
    assert limits.GEOPACKAGES.taken == 0 and limits.EXPORTS.taken == 0


def test_geopackages_left_by_a_dead_process_are_removed(client, monitor, monkeypatch, tmp_path):
    monkeypatch.setattr(get_settings(), "export_dir", tmp_path)
    stale = tmp_path / f"{limits.TEMPORARY_PREFIX}dead.gpkg"
    young = tmp_path / f"{limits.TEMPORARY_PREFIX}running.gpkg"
    other = tmp_path / "notes.gpkg"
    for path in (stale, young, other):
        path.write_bytes(b"x")
    old = time.time() - limits.STALE_AFTER_S - 60
    os.utime(stale, (old, old))
    os.utime(other, (old, old))
    assert client.get(GPKG, headers=monitor).status_code == 200
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([young.name, other.name])
