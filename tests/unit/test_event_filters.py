"""Reading event filters without names to resolve: terms, times, boxes, and the one error."""

import datetime as dt
from zoneinfo import ZoneInfo

import pytest

from service.errors import InvalidParameter
from service.event.filters import BBox
from service.event.resolve import read_filters

DAMASCUS = ZoneInfo("Asia/Damascus")


def read(**raw: list[str]):
    # No province, guarantor or party: nothing to look up, so no session is needed.
    return read_filters(session=None, raw=raw, timezone=DAMASCUS)  # type: ignore[arg-type]


def test_lists_are_comma_separated_or_repeated_and_kept_in_order_without_repeats():
    filters = read(violation_type=["shelling,airstrike", "shelling"], status=["verified"])
    assert filters.violation_types == ("shelling", "airstrike")
    assert filters.statuses == ("verified",)


def test_since_and_until_narrow_datetime():
    filters = read(datetime=["2017-01-01/2017-01-31"], since=["2017-01-10T00:00:00Z"])
    assert filters.since == dt.datetime(2017, 1, 10, tzinfo=dt.UTC)
    # The interval's end is inclusive: the end of 31 January, Damascus time.
    assert filters.until == dt.datetime(2017, 1, 31, 22, tzinfo=dt.UTC)
    # A date as `since` is the start of that local day.
    assert read(since=["2017-01-10"]).since == dt.datetime(2017, 1, 9, 22, tzinfo=dt.UTC)


def test_a_six_number_box_is_read_without_heights():
    assert read(bbox=["36,35,0,37,36,10"]).bbox == BBox(36, 35, 37, 36)


@pytest.mark.parametrize(
    ("raw", "field"),
    [
        ({"violation_type": ["shelling,"]}, "query.violation_type"),
        ({"ceasefire_status": ["maybe"]}, "query.ceasefire_status"),
        ({"status": ["lost"]}, "query.status"),
        ({"bbox": ["1,2,3,4", "5,6,7,8"]}, "query.bbox"),
        ({"since": ["2017-02-01T00:00:00Z"], "until": ["2017-01-01"]}, "query.until"),
        ({"datetime": ["2017-02-01"], "until": ["2017-02-01T00:00:00+02:00"]}, "query.until"),
        ({"datetime": ["2017-02-01/2017-01-01"]}, "query.datetime"),
        ({"until": ["10000-01-01T00:00:00Z"]}, "query.until"),
    ],
)
def test_every_refusal_is_one_error_naming_its_parameter(raw, field):
    with pytest.raises(InvalidParameter) as info:
        read(**raw)
    assert info.value.status == 400
    assert info.value.errors is not None and info.value.errors[0]["field"] == field
    assert info.value.detail.startswith(field.removeprefix("query.") + ": ")
