"""Exports of incidents (CSV, HXL, GeoPackage) against the API: the same incidents, ids and
attributes as ``/v1/incidents`` (full view) and the OGC items (the public's), the same
filters and the same refusals. The CSV is read with libhxl, the GeoPackage with GDAL
(pyogrio)."""

from __future__ import annotations

import csv
import datetime as dt
import io
import uuid

import hxl
import pyogrio
import pytest
import shapely
from hxl.input import InputOptions

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
        report(0, 0, at + dt.timedelta(hours=k), location=None, province="Idlib")
        for k in range(3)
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
