"""A window split into whole local months, whole local days and partial days covers exactly
the window: every instant once, none outside it."""

import datetime as dt
from zoneinfo import ZoneInfo

from hypothesis import given, settings
from hypothesis import strategies as st

from service.event.filters import local_day_start
from service.tiles.rollup import periods

START = dt.datetime(2016, 12, 20, tzinfo=dt.UTC)


def instants():
    return st.one_of(
        st.none(),
        st.integers(0, 200 * 86400).map(lambda s: START + dt.timedelta(seconds=s)),
        # local midnights, month starts among them
        st.integers(0, 200).map(
            lambda d: local_day_start(
                START.date() + dt.timedelta(days=d), ZoneInfo("Asia/Damascus")
            )
        ),
    )


@settings(max_examples=300)
@given(
    since=instants(),
    until=instants(),
    tz=st.sampled_from(["Asia/Damascus", "Asia/Kolkata", "America/St_Johns"]),
)
def test_months_days_and_edges_tile_the_window(since, until, tz):
    if since is not None and until is not None and since >= until:
        since, until = until, since + dt.timedelta(seconds=1)
    zone = ZoneInfo(tz)
    split = periods(since, until, zone)
    pieces = []
    if split.months is not None:
        first, end = split.months
        assert first is None or first.day == 1
        assert end is None or end.day == 1
        pieces.append(
            (
                None if first is None else local_day_start(first, zone),
                None if end is None else local_day_start(end, zone),
            )
        )
    for first, end in split.days:
        assert first < end and (end - first).days <= 62
        pieces.append((local_day_start(first, zone), local_day_start(end, zone)))
    for edge in split.edges:
        assert edge.until - edge.since < dt.timedelta(days=2)  # (no whole day: one piece)
        pieces.append((edge.since, edge.until))
    pieces.sort(key=lambda p: (p[0] is not None, p[0] or START))
    # Contiguous, from the window's start to its end.
    assert pieces[0][0] == since
    for (_, end), (first, _) in zip(pieces, pieces[1:], strict=False):
        assert end == first
    assert pieces[-1][1] == until
