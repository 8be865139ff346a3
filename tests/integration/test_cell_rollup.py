"""The per-category cell rollups (incident_cell_days, incident_cell_months) stay exactly what
a GROUP BY over incidents gives, through every kind of write the service makes."""

import datetime as dt

import pytest
from sqlalchemy import text

from service.audit.service import CONSOLE
from service.incident.verification import merge, review
from tests.map_incidents import make_incidents, random_points, set_status

_KEY = (
    "floor(ST_X(geom) / 0.1)::int, floor(ST_Y(geom) / 0.1)::int, province_pcode, status,"
    " ceasefire_status, violation_type, responsible_guarantors,"
    " coalesce(perpetrator_party_id, ''), coalesce(target_party_id, ''), confidence_band"
)
_COLUMNS = (
    "cell_i, cell_j, province_pcode, status, ceasefire_status, violation_type,"
    " responsible_guarantors, perpetrator_party_id, target_party_id, confidence_band"
)
_LOCAL_DAY = "CAST(occurred_at AT TIME ZONE theatre_timezone() AS date)"
_PERIODS = {
    "day": _LOCAL_DAY,
    "month": f"CAST(date_trunc('month', CAST({_LOCAL_DAY} AS timestamp)) AS date)",
}
_TABLES = {"day": "incident_cell_days", "month": "incident_cell_months"}


_ORDER = "ORDER BY 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11"


def kept(db, grain, suffix="_now"):
    """What readers see (the rollup plus the deltas not yet folded); with ``suffix=""``
    the folded rollup alone."""
    rows = db.execute(
        text(
            f"SELECT {grain}, {_COLUMNS}, sum(incidents), sum(killed)"
            f" FROM {_TABLES[grain]}{suffix} GROUP BY 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11"
            f" HAVING sum(incidents) <> 0 OR sum(killed) <> 0 {_ORDER}"
        )
    )
    return [tuple(r) for r in rows]


def counted(db, grain):
    """The rollup computed directly from the incidents."""
    rows = db.execute(
        text(
            f"SELECT {_PERIODS[grain]}, {_KEY}, count(*), sum(killed) FROM incidents"
            f" WHERE geom IS NOT NULL GROUP BY 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11 {_ORDER}"
        )
    )
    return [tuple(r) for r in rows]


def assert_exact(db):
    """Exact before the deltas are folded in, and after (then in the tables alone)."""
    for grain in _TABLES:
        assert kept(db, grain) == counted(db, grain), grain
    db.execute(text("SELECT compact_incident_rollups()"))
    for grain in _TABLES:
        assert kept(db, grain) == kept(db, grain, suffix="") == counted(db, grain), grain
    assert counted(db, "day")


@pytest.fixture
def incidents(db, submitter):
    # Every 26 hours from 20 January: across local midnights and into February and March.
    ids = make_incidents(
        db,
        submitter,
        random_points(40, seed=80),
        start=dt.datetime(2017, 1, 20, 21, 45, tzinfo=dt.UTC),
        step=dt.timedelta(hours=26, minutes=3),
    )
    assert_exact(db)
    return ids


def test_inserts_are_counted_on_their_local_day_and_month(db, submitter, incidents):
    # 22:30 UTC on 31 January is 00:30 on 1 February in Damascus.
    make_incidents(
        db,
        submitter,
        random_points(3, seed=3),
        start=dt.datetime(2017, 1, 31, 22, 30, tzinfo=dt.UTC),
        step=dt.timedelta(minutes=1),
        violation_type="airstrike",
    )
    assert_exact(db)
    months = {row[0] for row in kept(db, "month")}
    assert months == {dt.date(2017, 1, 1), dt.date(2017, 2, 1), dt.date(2017, 3, 1)}
    feb_first = [r for r in kept(db, "day") if r[0] == dt.date(2017, 2, 1) and r[6] == "airstrike"]
    assert sum(r[-2] for r in feb_first) == 3


def test_reviews_and_merges_move_counts_between_statuses(db, incidents):
    set_status(db, incidents[:10], "verified")
    assert_exact(db)
    review(session=db, incident_id=incidents[10], status="disputed", note=None, actor=CONSOLE)
    review(session=db, incident_id=incidents[11], status="rejected", note=None, actor=CONSOLE)
    assert_exact(db)
    merge(session=db, incident_id=incidents[12], into_id=incidents[0], note=None, actor=CONSOLE)
    merge(session=db, incident_id=incidents[13], into_id=incidents[0], note=None, actor=CONSOLE)
    assert_exact(db)
    statuses = {r[4] for r in kept(db, "day")}
    assert {"verified", "disputed", "rejected", "merged", "unverified"} <= statuses


def test_relocation_and_reattribution_move_counts_between_cells_and_categories(db, incidents):
    db.execute(
        text(
            "UPDATE incidents SET geom = ST_SetSRID(ST_MakePoint(36.2, 33.51), 4326),"
            " province_pcode = 'SY01' WHERE id = ANY(:ids)"
        ),
        {"ids": incidents[:3]},
    )
    assert_exact(db)
    db.execute(
        text("UPDATE incidents SET geom = NULL, location_match = 'province_only' WHERE id = :id"),
        {"id": incidents[3]},
    )
    assert_exact(db)
    db.execute(
        text(
            "UPDATE incidents SET perpetrator_party_id = 'islamic-state', target_party_id = NULL,"
            " responsible_guarantors = '{}', ceasefire_status = 'excluded',"
            " violation_type = 'ied' WHERE id = ANY(:ids)"
        ),
        {"ids": incidents[4:9]},
    )
    assert_exact(db)
    db.execute(
        text("UPDATE incidents SET responsible_guarantors = '{RUS,TUR}' WHERE id = :id"),
        {"id": incidents[9]},
    )
    db.execute(
        text("UPDATE incidents SET killed = killed + 7 WHERE id = ANY(:ids)"),
        {"ids": incidents[9:12]},
    )
    # Moved in time: to another local day and month.
    db.execute(
        text("UPDATE incidents SET occurred_at = occurred_at + interval '40 days' WHERE id = :id"),
        {"id": incidents[12]},
    )
    assert_exact(db)


def test_deletes_leave_no_count_behind(db, incidents):
    db.execute(text("DELETE FROM reports WHERE incident_id = ANY(:ids)"), {"ids": incidents[:5]})
    db.execute(text("DELETE FROM incidents WHERE id = ANY(:ids)"), {"ids": incidents[:5]})
    assert_exact(db)
    db.execute(text("DELETE FROM reports"))
    db.execute(text("DELETE FROM incidents"))
    for grain in _TABLES:
        assert kept(db, grain) == []


def test_a_write_that_changes_no_key_writes_nothing(db, incidents):
    before = {
        grain: db.execute(text(f"SELECT count(*) FROM {table}")).scalar_one()
        for grain, table in _TABLES.items()
    }
    db.execute(text("UPDATE incidents SET updated_at = now(), review_note = 'looked at'"))
    assert_exact(db)
    for grain, table in _TABLES.items():
        assert db.execute(text(f"SELECT count(*) FROM {table}")).scalar_one() == before[grain]


def test_the_rebuild_agrees_and_a_new_time_zone_moves_days(db, incidents):
    set_status(db, incidents[:7], "verified")
    incremental = {grain: kept(db, grain) for grain in _TABLES}
    db.execute(text("SELECT rebuild_incident_cell_categories()"))
    assert {grain: kept(db, grain) for grain in _TABLES} == incremental
    db.execute(text("UPDATE theatres SET timezone = 'America/Los_Angeles'"))
    assert_exact(db)
    assert {grain: kept(db, grain) for grain in _TABLES} != incremental
