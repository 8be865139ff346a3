"""Aggregates at any window: the counts of provinces, time series, grids and digests are the
items' counts for the same filters, also for windows that cut local days (QGIS's temporal
controller sends ``Z`` instants). The property test over random windows and filters is
tests/integration/test_aggregates_agree.py."""

import datetime as dt

import pytest

from service.config import get_settings
from service.digest.service import build_days
from tests.incidents import ALEPPO, DARAA, IDLEB, make_incidents, merge, report, set_status

ITEMS = "/collections/incidents/items"
COUNTED = "unverified,verified,disputed"
IDLEB_NORTH = [36.75, 36.05]  # SY07, 17 km from IDLEB: never corroborates it
ALEPPO_EAST = [37.4, 36.15]  # SY02, 22 km from ALEPPO
# QGIS's temporal controller: March 2017 in UTC. In Damascus (UTC+2, UTC+3 from 31 March)
# the window begins at 02:00 on 1 March and ends at 03:00 on 1 April.
MARCH_Z = "2017-03-01T00:00:00Z/2017-04-01T00:00:00Z"


@pytest.fixture
def around_march(db, submitter):
    """Four incidents on the local days the Z window cuts: two inside it, two outside."""
    ids = make_incidents(
        db,
        submitter,
        # Idlib, 06:15Z on 1 March (08:15 local): inside; its local day began at 22:00Z on
        # 28 February, outside the window.
        report(at="2017-03-01T06:15:00Z", where=IDLEB),
        # Idlib, 23:30Z on 28 February (01:30 local on 1 March): same local day, outside.
        report(at="2017-02-28T23:30:00Z", where=IDLEB_NORTH),
        # Aleppo, 02:30Z on 1 April (05:30 local): its local day began inside the window,
        # but the incident is after its end.
        report(at="2017-04-01T02:30:00Z", where=ALEPPO),
        # Aleppo, 23:50Z on 31 March (02:50 local on 1 April): inside.
        report(at="2017-03-31T23:50:00Z", where=ALEPPO_EAST),
    )
    set_status(db, ids, "verified")
    return dict(zip(("idlib_in", "idlib_out", "aleppo_out", "aleppo_in"), ids, strict=True))


def matched(client, query, headers=None):
    body = client.get(f"{ITEMS}?{query}&count=true&limit=10", headers=headers or {}).json()
    return body["numberMatched"], {f["id"] for f in body["features"]}


def by_province(client, query, headers=None):
    body = client.get(f"/v1/stats/provinces?{query}", headers=headers or {}).json()
    return {f["id"]: f["properties"]["incidents"] for f in body["features"]}


def series_total(client, query, headers=None):
    body = client.get(f"/v1/stats/timeseries?{query}", headers=headers or {}).json()
    return sum(b["incidents"] for b in body["buckets"])


def grid_total(client, query, headers=None):
    body = client.get(f"/v1/stats/grid?cell=0.5&{query}", headers=headers or {}).json()
    return sum(f["properties"]["incidents"] for f in body["features"])


def test_a_z_window_counts_the_idlib_incident_of_0615z(client, around_march, monitor):
    """The issue's case: the rollup counted the local days starting inside the window, so it
    dropped 06:15Z on 1 March in Idlib and counted 02:30Z on 1 April in Aleppo."""
    query = f"datetime={MARCH_Z}&status={COUNTED}"
    n, ids = matched(client, query, monitor)
    assert ids == {str(around_march["idlib_in"]), str(around_march["aleppo_in"])}
    assert n == 2
    counts = by_province(client, query, monitor)
    assert (counts["SY07"], counts["SY02"]) == (1, 1)
    assert sum(counts.values()) == n
    assert series_total(client, query, monitor) == n
    assert grid_total(client, query, monitor) == n
    # The province filter takes the same path (one index range scan per edge).
    assert by_province(client, f"{query}&province=Idlib", monitor)["SY07"] == 1
    assert matched(client, f"{query}&province=Idlib", monitor)[0] == 1


def test_items_give_numbermatched_for_partial_days_without_count(client, around_march, monitor):
    body = client.get(f"{ITEMS}?datetime={MARCH_Z}&status={COUNTED}", headers=monitor).json()
    assert body["numberMatched"] == 2


def test_a_timeseries_of_a_z_window_spans_the_local_days_it_touches(client, around_march, monitor):
    body = client.get(f"/v1/stats/timeseries?datetime={MARCH_Z}", headers=monitor).json()
    days = [b["start"] for b in body["buckets"]]
    assert (days[0], days[-1], len(days)) == ("2017-03-01", "2017-04-01", 32)
    counts = {b["start"]: b["incidents"] for b in body["buckets"] if b["incidents"]}
    # The 1st of March and of April hold one incident each inside the window (of two).
    assert counts == {"2017-03-01": 1, "2017-04-01": 1}
    provinces = client.get(f"/v1/stats/provinces?datetime={MARCH_Z}", headers=monitor).json()
    assert provinces["days"] == {
        "first": "2017-03-01",
        "last": "2017-04-01",
        "timezone": "Asia/Damascus",
    }


def test_a_window_inside_one_local_day_is_counted_exactly(client, around_march, monitor):
    for window, expected in (
        ("2017-03-01T06:00:00Z/2017-03-01T06:30:00Z", 1),
        ("2017-03-01T06:15:00Z", 1),  # an instant
        ("2017-03-01T06:15:00.000001Z/2017-03-01T07:00:00Z", 0),
        ("2017-02-28T21:00:00Z/2017-03-01T12:00:00Z", 2),  # across a local midnight
        ("../2017-03-01T06:15:00Z", 2),  # open start; both ends are inclusive (OGC)
        ("../2017-03-01T06:14:59Z", 1),
        ("2017-03-31T23:50:00Z/..", 2),  # open end
    ):
        query = f"datetime={window}&status={COUNTED}"
        assert matched(client, query, monitor)[0] == expected, window
        assert sum(by_province(client, query, monitor).values()) == expected, window
        assert series_total(client, query, monitor) == expected, window
        assert grid_total(client, query, monitor) == expected, window


def test_public_windows_select_the_local_days_starting_in_them(client, around_march, monkeypatch):
    """The public's time of an incident is its local day, taken as the instant the day
    starts: a window selects the days whose start lies in it, for items and aggregates
    alike. March in UTC is, for the public, 2 March to 1 April (1 March began at 22:00Z on
    28 February); adjacent windows never select a day twice."""
    monkeypatch.setattr(get_settings(), "public_min_count", 1)
    n, ids = matched(client, f"datetime={MARCH_Z}")
    assert ids == {str(around_march["aleppo_in"]), str(around_march["aleppo_out"])}
    counts = by_province(client, f"datetime={MARCH_Z}")
    assert (counts["SY07"], counts["SY02"]) == (0, 2)
    assert sum(counts.values()) == n == series_total(client, f"datetime={MARCH_Z}")
    assert grid_total(client, f"datetime={MARCH_Z}") == n
    february_z = "2017-02-01T00:00:00Z/2017-03-01T00:00:00Z"
    assert matched(client, f"datetime={february_z}")[1] == {
        str(around_march["idlib_in"]),
        str(around_march["idlib_out"]),
    }
    assert sum(by_province(client, f"datetime={february_z}").values()) == 2


def test_public_partial_windows_still_withhold_small_rows(client, around_march, monkeypatch):
    monkeypatch.setattr(get_settings(), "public_min_count", 3)
    body = client.get(f"/v1/stats/provinces?datetime={MARCH_Z}").json()
    aleppo = next(f for f in body["features"] if f["id"] == "SY02")["properties"]
    assert aleppo["suppressed"] is True and aleppo["incidents"] is None
    grid = client.get(f"/v1/stats/grid?datetime={MARCH_Z}").json()
    assert all(f["properties"]["incidents"] is None for f in grid["features"])
    series = client.get(f"/v1/stats/timeseries?datetime={MARCH_Z}").json()
    assert {b["suppressed"] for b in series["buckets"] if b["incidents"] is None} == {True}
    assert all(b["incidents"] in (0, None) for b in series["buckets"])


def test_a_digest_counts_the_items_of_its_local_day(client, db, submitter, monitor, monkeypatch):
    """Digests count unverified, verified and disputed incidents (rejected and merged ones
    nowhere), by the local day they occurred on: the items of that day with those statuses.
    The public digest counts the verified ones, as the public items of the day."""
    monkeypatch.setattr(get_settings(), "public_min_count", 1)
    day = dt.date(2017, 2, 10)  # 2017-02-09T22:00Z to 2017-02-10T22:00Z
    ids = make_incidents(
        db,
        submitter,
        report(at="2017-02-09T21:59:00Z", where=IDLEB),  # the 9th, local
        report(at="2017-02-09T22:00:00Z", where=IDLEB_NORTH),  # local midnight: the 10th
        report(at="2017-02-10T06:15:00Z", where=ALEPPO),
        report(at="2017-02-10T21:59:59Z", where=IDLEB),  # 23:59:59 local
        report(at="2017-02-10T22:00:00Z", where=IDLEB_NORTH),  # the 11th
        report(at="2017-02-10T13:00:00Z", where=ALEPPO_EAST),
        report(at="2017-02-10T15:00:00Z", where=DARAA),
    )
    set_status(db, ids[1:3], "verified")
    set_status(db, [ids[3]], "disputed")
    set_status(db, [ids[5]], "rejected")
    merge(db, ids[6], ids[2])
    build_days(session=db, first=day, last=day, notify=False)
    for headers, statuses in ((monitor, COUNTED), ({}, "verified")):
        digest = client.get(f"/v1/digests/daily/{day}", headers=headers).json()
        n, _ = matched(client, f"datetime={day}&status={statuses}", headers)
        assert digest["totals"]["incidents"] == n
        for province in digest["by_province"]:
            query = f"datetime={day}&status={statuses}&province={province['pcode']}"
            assert province["incidents"] == matched(client, query, headers)[0], province
    assert (
        client.get(f"/v1/digests/daily/{day}", headers=monitor).json()["totals"]["incidents"] == 3
    )


@pytest.mark.parametrize("query", ["", f"datetime={MARCH_Z}"])
def test_low_zoom_tiles_hold_the_theatre_s_incidents(client, around_march, monitor, query):
    """Tile 1/1/0 (the eastern hemisphere) came back empty: its buffered envelope crossed the
    antimeridian when transformed to degrees. At every zoom from 0 to 3, the one tile
    holding the theatre counts the items (every status, as items) of the same window."""
    import mapbox_vector_tile

    n, _ = matched(client, f"{query}&bbox=-180,-90,180,90", monitor)
    assert n == (4 if not query else 2)
    for z, x, y in ((0, 0, 0), (1, 1, 0), (2, 2, 1), (3, 4, 3)):
        response = client.get(f"/tiles/incidents/{z}/{x}/{y}.mvt?{query}", headers=monitor)
        assert response.status_code == 200
        layers = mapbox_vector_tile.decode(response.content) if response.content else {}
        cells = layers.get("cells", {"features": []})["features"]
        assert sum(int(f["properties"]["incidents"]) for f in cells) == n, (z, x, y)
