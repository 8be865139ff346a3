"""Parsing what map clients send: datetime values, boxes, cursors, parameter lists."""

import datetime as dt
from zoneinfo import ZoneInfo

import pytest

from service.errors import BadRequest
from service.event.filters import BBox, TimeRange, ceil_to_local_day
from service.event.parameters import Params
from service.maps.view import IncidentView
from service.stats.service import grid_factor
from service.tiles.service import cell_factor

DAMASCUS = ZoneInfo("Asia/Damascus")
UTC = dt.UTC


def at(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text)


def test_an_instant_is_one_microsecond_and_a_date_a_local_day():
    assert TimeRange.parse("2017-01-10T09:30:00Z", DAMASCUS) == TimeRange(
        at("2017-01-10T09:30:00+00:00"), at("2017-01-10T09:30:00.000001+00:00")
    )
    # Damascus is UTC+2 in January: its 10th runs from 22:00 UTC on the 9th.
    assert TimeRange.parse("2017-01-10", DAMASCUS) == TimeRange(
        at("2017-01-09T22:00:00+00:00"), at("2017-01-10T22:00:00+00:00")
    )


def test_intervals_are_inclusive_and_may_be_open():
    closed = TimeRange.parse("2017-01-01/2017-01-31", DAMASCUS)
    assert closed.since == at("2016-12-31T22:00:00+00:00")
    assert closed.until == at("2017-01-31T22:00:00+00:00")  # the 31st is included
    assert TimeRange.parse("../2017-01-31T10:00:00+02:00", DAMASCUS) == TimeRange(
        None, at("2017-01-31T08:00:00.000001+00:00")
    )
    assert TimeRange.parse("2017-01-01T00:00:00Z/..", DAMASCUS).until is None
    assert TimeRange.parse("2017-01-01T00:00:00Z/", DAMASCUS).until is None
    assert TimeRange.parse("../..", DAMASCUS) == TimeRange()


@pytest.mark.parametrize(
    "value",
    [
        "",
        "..",
        "yesterday",
        "2017-13-01",
        "2017-02-30",
        "2017-01-10T09:30:00",  # no offset
        "2017-01-31/2017-01-01",
        "2017-01-01/2017-01-02/2017-01-03",
    ],
)
def test_malformed_datetimes_are_refused(value):
    with pytest.raises(BadRequest) as info:
        TimeRange.parse(value, DAMASCUS)
    assert info.value.detail.startswith("datetime:")


def test_ceil_to_local_day_keeps_midnights_and_moves_everything_else_up():
    midnight = at("2017-01-09T22:00:00+00:00")
    assert ceil_to_local_day(midnight, DAMASCUS) == midnight
    assert ceil_to_local_day(midnight + dt.timedelta(microseconds=1), DAMASCUS) == at(
        "2017-01-10T22:00:00+00:00"
    )
    # 31 March 2017: Damascus skipped from 00:00 to 01:00, so that day began at 22:00 UTC
    # (01:00 local), as PostgreSQL's AT TIME ZONE also has it; the next one at 21:00 UTC.
    assert ceil_to_local_day(at("2017-03-30T21:30:00+00:00"), DAMASCUS) == at(
        "2017-03-30T22:00:00+00:00"
    )
    assert ceil_to_local_day(at("2017-03-30T22:00:01+00:00"), DAMASCUS) == at(
        "2017-03-31T21:00:00+00:00"
    )


def test_public_days_cover_exactly_the_days_starting_in_the_range():
    times = TimeRange(at("2017-01-10T05:00:00+00:00"), at("2017-01-12T23:00:00+00:00"))
    assert times.local_days(DAMASCUS) == (dt.date(2017, 1, 11), dt.date(2017, 1, 14))
    assert not times.is_whole_local_days(DAMASCUS)
    assert TimeRange.parse("2017-01-11/2017-01-13", DAMASCUS).is_whole_local_days(DAMASCUS)


def test_bbox_accepts_qgis_digits_encoded_commas_and_3d_boxes():
    qgis = "36.6199999999999974%2C35.8999999999999986%2C36.7000000000000028%2C35.9500000000000028"
    assert BBox.parse_ogc(qgis) == BBox(36.62, 35.9, 36.7, 35.95)
    assert BBox.parse_ogc("36.6,35.9,-10,36.7,35.95,100") == BBox(36.6, 35.9, 36.7, 35.95)
    for bad in ("36.6,35.9,36.7", "a,b,c,d", "36,36,35,35", "36.6,35.9,36.7,nan"):
        with pytest.raises(BadRequest):
            BBox.parse_ogc(bad)


def test_params_refuse_unknown_and_repeated_names():
    with pytest.raises(BadRequest, match="unknown query parameter 'bboxx'"):
        Params.read([("bboxx", "1,2,3,4")], {"bbox", "limit"})
    with pytest.raises(BadRequest, match="limit: give this parameter once"):
        Params.read([("limit", "1"), ("limit", "2")], {"limit"})
    params = Params.read([("limit", "10"), ("bbox", "1,2,3,4")], {"bbox", "limit"})
    assert params.normalised() == "bbox=1,2,3,4&limit=10"
    assert params.integer("limit", default=100, minimum=1) == 10
    with pytest.raises(BadRequest):
        Params.read([("limit", "0")], {"limit"}).integer("limit", default=100, minimum=1)


def public(cell: float = 0.1) -> IncidentView:
    return IncidentView(public=True, cell=cell, timezone=DAMASCUS)


def test_public_grids_are_whole_multiples_of_the_public_cell():
    assert grid_factor(public(), 0.5) == 5
    assert grid_factor(public(), 0.1) == 1
    for bad in (0.05, 0.15, 0.0, -0.2, 20.0):
        with pytest.raises(BadRequest):
            grid_factor(public(), bad)
    full = IncidentView(public=False, cell=0.1, timezone=DAMASCUS)
    assert grid_factor(full, 0.05) is None
    with pytest.raises(BadRequest):
        grid_factor(full, 0.001)


def test_tile_cells_nest_from_zoom_to_zoom_and_never_go_below_the_public_cell():
    factors = [cell_factor(z, public()) for z in range(0, 12)]
    assert all(f >= 1 and f & (f - 1) == 0 for f in factors)  # powers of two
    assert factors == sorted(factors, reverse=True)
    assert factors[-1] == 1
