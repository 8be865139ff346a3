"""Aggregates: governorate choropleth, grid and time series, from the rollup."""

import datetime as dt

import pytest
from sqlalchemy import text

from tests.map_incidents import make_incidents, random_points, set_status


@pytest.fixture
def incidents(db, submitter):
    ids = make_incidents(db, submitter, random_points(30, seed=5))
    ids += make_incidents(
        db,
        submitter,
        random_points(6, seed=6),
        start=dt.datetime(2017, 1, 20, 8, tzinfo=dt.UTC),
        perpetrator="Ahrar al-Sham",
        target="SAA",
    )
    set_status(db, ids[:20], "verified")
    set_status(db, ids[20:22], "rejected")
    return ids


def expected_by_province(db, where="status IN ('unverified', 'verified', 'disputed')"):
    rows = db.execute(
        text(
            "SELECT province_pcode, count(*), count(*) FILTER (WHERE ceasefire_status ="
            " 'violation'), count(*) FILTER (WHERE status = 'verified'), sum(killed)"
            f" FROM incidents WHERE {where} GROUP BY 1"
        )
    )
    return {r[0]: tuple(r[1:]) for r in rows}


def observed(body):
    return {
        f["id"]: (
            f["properties"]["incidents"],
            f["properties"]["violations"],
            f["properties"]["verified"],
            f["properties"]["killed"],
        )
        for f in body["features"]
        if f["properties"]["incidents"]
    }


def test_province_counts_match_the_incidents(client, db, incidents, monitor):
    response = client.get("/v1/stats/provinces", headers=monitor)
    assert response.headers["content-type"] == "application/geo+json"
    body = response.json()
    assert len(body["features"]) == 14
    assert observed(body) == expected_by_province(db)
    assert all(f["geometry"]["type"] in ("Polygon", "MultiPolygon") for f in body["features"])
    by_guarantor = {
        g: sum(f["properties"]["violations_by_guarantor"][g] for f in body["features"])
        for g in ("IRN", "RUS", "TUR")
    }
    expected = dict(
        db.execute(
            text(
                "SELECT g, count(*) FROM incidents, unnest(responsible_guarantors) g"
                " WHERE ceasefire_status = 'violation'"
                " AND status IN ('unverified', 'verified', 'disputed') GROUP BY g"
            )
        ).all()
    )
    assert by_guarantor == {g: expected.get(g, 0) for g in ("IRN", "RUS", "TUR")}
    assert by_guarantor["TUR"] > 0 and by_guarantor["RUS"] > 0


def test_province_counts_for_a_period_of_local_days(client, db, incidents, monitor):
    body = client.get("/v1/stats/provinces?datetime=2017-01-06/2017-01-07", headers=monitor).json()
    assert body["days"] == {
        "first": "2017-01-06",
        "last": "2017-01-07",
        "timezone": "Asia/Damascus",
    }
    assert observed(body) == expected_by_province(
        db,
        "status IN ('unverified', 'verified', 'disputed') AND (occurred_at AT TIME ZONE"
        " 'Asia/Damascus')::date BETWEEN '2017-01-06' AND '2017-01-07'",
    )


def test_public_province_counts_are_verified_only(client, db, incidents):
    body = client.get("/v1/stats/provinces?simplify=0.05").json()
    assert observed(body) == expected_by_province(db, "status = 'verified'")


def test_counts_follow_changes_at_once(client, db, submitter, incidents, monitor):
    before = client.get("/v1/stats/provinces", headers=monitor)
    make_incidents(db, submitter, random_points(3, seed=8))
    set_status(db, incidents[:5], "disputed")
    after = client.get(
        "/v1/stats/provinces", headers={**monitor, "If-None-Match": before.headers["etag"]}
    )
    assert after.status_code == 200
    assert observed(after.json()) == expected_by_province(db)
    again = client.get(
        "/v1/stats/provinces", headers={**monitor, "If-None-Match": after.headers["etag"]}
    )
    assert again.status_code == 304


def test_aggregates_take_every_incident_filter_and_refuse_unknown_ones(client, incidents, monitor):
    """A box, a violation type or a party (which the rollup does not hold) are counted from
    incidents: the same incidents the items list for the same filters."""
    counted = "status=unverified,verified,disputed"
    for query in ("bbox=36.4,35.7,36.8,36.3", "violation_type=shelling", "party=SAA"):
        items = client.get(
            f"/collections/incidents/items?{query}&{counted}&count=true&limit=1", headers=monitor
        ).json()["numberMatched"]
        assert items > 0, query
        for path in ("provinces", "timeseries"):
            response = client.get(f"/v1/stats/{path}?{query}", headers=monitor)
            assert response.status_code == 200, (path, query, response.text)
            rows = response.json().get("features") or response.json().get("buckets")
            total = sum((r.get("properties") or r)["incidents"] for r in rows)
            assert total == items, (path, query)
    for query in ("colour=red", "simplify=2", "violation_type=knitting"):
        response = client.get(f"/v1/stats/provinces?{query}")
        assert response.status_code == 400, query
        assert response.headers["content-type"] == "application/problem+json"


def test_grid_cells_use_integer_keys(client, db, incidents, monitor):
    body = client.get("/v1/stats/grid?cell=0.25&bbox=36,35,38,37", headers=monitor).json()
    expected = dict(
        (tuple(map(int, k)), n)
        for *k, n in db.execute(
            text(
                "SELECT floor(ST_X(geom) / 0.25), floor(ST_Y(geom) / 0.25), count(*) FROM incidents"
                " WHERE status IN ('unverified', 'verified', 'disputed') GROUP BY 1, 2"
            )
        ).all()
    )
    assert {
        (f["properties"]["i"], f["properties"]["j"]): f["properties"]["incidents"]
        for f in body["features"]
    } == expected
    assert body["numberReturned"] == len(expected)


def test_timeseries_has_a_bucket_for_every_day(client, db, incidents, monitor):
    body = client.get(
        "/v1/stats/timeseries?interval=day&datetime=2017-01-04/2017-01-21", headers=monitor
    ).json()
    days = [b["start"] for b in body["buckets"]]
    assert days[0] == "2017-01-04" and days[-1] == "2017-01-21" and len(days) == 18
    assert body["buckets"][0]["incidents"] == 0  # quiet days are explicit zeros
    total = sum(b["incidents"] for b in body["buckets"])
    assert (
        total
        == db.execute(
            text(
                "SELECT count(*) FROM incidents WHERE status IN ('unverified', 'verified', 'disputed')"
            )
        ).scalar_one()
    )
    weekly = client.get("/v1/stats/timeseries?interval=week", headers=monitor).json()
    assert all(dt.date.fromisoformat(b["start"]).weekday() == 0 for b in weekly["buckets"])
    assert sum(b["incidents"] for b in weekly["buckets"]) == total


def test_timeseries_by_province_and_status(client, db, incidents, monitor):
    body = client.get(
        "/v1/stats/timeseries?province=Aleppo&status=verified", headers=monitor
    ).json()
    assert (
        sum(b["verified"] for b in body["buckets"])
        == db.execute(
            text(
                "SELECT count(*) FROM incidents WHERE province_pcode = 'SY02' AND status = 'verified'"
            )
        ).scalar_one()
    )
    assert client.get("/v1/stats/timeseries?interval=year").status_code == 400
    assert client.get("/v1/stats/timeseries?datetime=1990-01-01/2030-01-01").status_code == 400


@pytest.mark.parametrize("cell", ["1.9e307", "1e308", "-0.1", "0", "10.1"])
@pytest.mark.parametrize("keyed", [False, True])
def test_an_impossible_grid_cell_is_400(client, monitor, cell, keyed):
    """A cell too large to divide (1.9e307 overflowed to a 500) or outside the bounds."""
    response = client.get(f"/v1/stats/grid?cell={cell}", headers=monitor if keyed else {})
    assert response.status_code == 400, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert "cell" in response.json()["detail"]
