"""A time range split at the theatre's local midnights: whole days for the rollup, partial
days at the edges for a live count."""

import datetime as dt
from zoneinfo import ZoneInfo

from service.event.filters import TimeRange, floor_to_local_day

DAMASCUS = ZoneInfo("Asia/Damascus")


def at(value: str) -> dt.datetime:
    return dt.datetime.fromisoformat(value)


def test_a_z_window_splits_into_whole_days_and_two_partial_edges():
    times = TimeRange.parse("2017-03-01T00:00:00Z/2017-04-01T00:00:00Z", DAMASCUS)
    whole, edges = times.whole_local_days(DAMASCUS)
    # 2 March began at 22:00Z on 1 March (UTC+2); 1 April at 21:00Z on 31 March (UTC+3).
    assert whole == TimeRange(at("2017-03-01T22:00:00+00:00"), at("2017-03-31T21:00:00+00:00"))
    assert edges == (
        TimeRange(times.since, at("2017-03-01T22:00:00+00:00")),
        TimeRange(at("2017-03-31T21:00:00+00:00"), times.until),
    )
    assert times.touched_local_days(DAMASCUS) == (dt.date(2017, 3, 1), dt.date(2017, 4, 2))


def test_whole_days_have_no_edges_and_open_ends_stay_open():
    days = TimeRange.parse("2017-03-30/2017-04-01", DAMASCUS)
    assert days.whole_local_days(DAMASCUS) == (days, ())
    assert TimeRange().whole_local_days(DAMASCUS) == (TimeRange(), ())
    since = TimeRange(at("2017-03-01T06:15:00+00:00"), None)
    assert since.whole_local_days(DAMASCUS) == (
        TimeRange(at("2017-03-01T22:00:00+00:00"), None),
        (TimeRange(since.since, at("2017-03-01T22:00:00+00:00")),),
    )


def test_a_window_inside_one_day_or_across_one_midnight_is_counted_live():
    inside = TimeRange(at("2017-03-01T06:00:00+00:00"), at("2017-03-01T07:00:00+00:00"))
    assert inside.whole_local_days(DAMASCUS) == (None, (inside,))
    across = TimeRange(at("2017-03-01T20:00:00+00:00"), at("2017-03-02T07:00:00+00:00"))
    assert across.whole_local_days(DAMASCUS) == (None, (across,))  # no whole day in it


def test_floor_to_local_day_across_the_skipped_midnight():
    # 31 March 2017 began at 22:00Z on the 30th (00:00 did not exist; 01:00 local, UTC+3).
    assert floor_to_local_day(at("2017-03-30T23:59:00+00:00"), DAMASCUS) == at(
        "2017-03-30T22:00:00+00:00"
    )
    assert floor_to_local_day(at("2017-03-30T21:59:59+00:00"), DAMASCUS) == at(
        "2017-03-29T22:00:00+00:00"
    )
    assert floor_to_local_day(at("2017-03-31T21:00:00+00:00"), DAMASCUS) == at(
        "2017-03-31T21:00:00+00:00"
    )
