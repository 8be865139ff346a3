"""``confidence=`` filters are answered from the rollups (issue 12), and those answers are
the incidents counted live, before and after the deltas are folded in."""

import datetime as dt
import random
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import text

from service.event.filters import EventFilters
from service.maps import tallies
from service.maps.tallies import count_statement, counted_rows
from tests.map_incidents import make_incidents, random_points, set_status
from tests.seeded_theatre import give_bands

DAMASCUS = ZoneInfo("Asia/Damascus")


def live(db, filters: EventFilters) -> int:
    """The same count straight from incidents."""
    found = ["confidence_band = ANY(:bands)"]
    values: dict = {"bands": list(filters.confidences or ())}
    if filters.statuses is not None:
        found.append("status = ANY(:statuses)")
        values["statuses"] = list(filters.statuses)
    if filters.since is not None:
        found.append("occurred_at >= :since")
        values["since"] = filters.since
    if filters.until is not None:
        found.append("occurred_at < :until")
        values["until"] = filters.until
    sql = f"SELECT count(*) FROM incidents WHERE {' AND '.join(found)}"
    return db.execute(text(sql), values).scalar_one()


def count_matching(db, filters: EventFilters) -> int:
    """The tallies' count, as the first page of items reads it (``count_statement``)."""
    count = count_statement(filters, DAMASCUS)
    assert count is not None  # the tallies hold every filter asked here
    statement, values = count
    return db.execute(statement, values).scalar_one()


@pytest.fixture
def incidents(db, submitter):
    ids = make_incidents(
        db,
        submitter,
        random_points(60, seed=120),
        start=dt.datetime(2017, 2, 1, 21, 40, tzinfo=dt.UTC),
        step=dt.timedelta(hours=9, minutes=13),
    )
    set_status(db, ids[:20], "verified")
    give_bands(db, random.Random(120))  # noqa: S311 - test data
    bands = db.execute(text("SELECT DISTINCT confidence_band FROM incidents")).scalars().all()
    assert set(bands) == {"low", "medium", "high"}
    return ids


QUESTIONS = [
    EventFilters(confidences=("high",)),
    EventFilters(confidences=("low", "medium")),
    EventFilters(confidences=("medium",), statuses=("verified",)),
    # Whole local days and partial days at both ends (counted live).
    EventFilters(
        confidences=("high", "medium"),
        since=dt.datetime(2017, 2, 3, 6, 15, tzinfo=dt.UTC),
        until=dt.datetime(2017, 2, 17, 13, 0, tzinfo=dt.UTC),
    ),
]


@pytest.mark.parametrize("fold_first", [False, True])
def test_confidence_counts_come_from_the_rollup_and_equal_live_counts(db, incidents, fold_first):
    if fold_first:
        assert db.execute(text("SELECT compact_incident_rollups()")).scalar_one() > 0
        # and a few writes after the fold, waiting as deltas
        set_status(db, incidents[20:26], "verified")
        db.execute(
            text("UPDATE incidents SET confidence_band = 'high' WHERE id = ANY(:ids)"),
            {"ids": incidents[26:30]},
        )
    for filters in QUESTIONS:
        assert tallies._rollup_answers(filters)
        assert counted_rows(filters, DAMASCUS).rollup is not None
        expected = live(db, filters)
        assert count_matching(db, filters) == expected
    assert (
        sum(
            count_matching(db, EventFilters(confidences=(band,)))
            for band in ("low", "medium", "high")
        )
        == db.execute(text("SELECT count(*) FROM incidents")).scalar_one()
    )


def test_the_stats_of_a_confidence_band_equal_live_counts(client, db, incidents, monitor):
    for band in ("low", "medium", "high"):
        response = client.get(
            "/v1/stats/provinces",
            params={"confidence": band, "status": "unverified,verified"},
            headers=monitor,
        )
        assert response.status_code == 200, response.text
        features = response.json()["features"]
        assert not any(f["properties"]["suppressed"] for f in features)
        total = sum(f["properties"]["incidents"] for f in features)
        assert total == live(
            db, EventFilters(confidences=(band,), statuses=("unverified", "verified"))
        )
