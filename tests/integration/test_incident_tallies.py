"""The rollup, totals and data versions the triggers keep as incidents change."""

import datetime as dt

from sqlalchemy import text

from tests.map_incidents import make_incidents, random_points, set_status


def rollup(db, table="incident_daily_counts_now"):
    """What readers see: the rollup plus the deltas not yet folded (the view), per key; or,
    with ``table="incident_daily_counts"``, the folded rollup alone."""
    rows = db.execute(
        text(
            "SELECT day, province_pcode, status, ceasefire_status, guarantors, sum(incidents),"
            " sum(killed), sum(injured), sum(civilians_killed), confidence_band"
            f" FROM {table} GROUP BY 1, 2, 3, 4, 5, 10"
            " HAVING sum(incidents) <> 0 OR sum(killed) <> 0 ORDER BY 1, 2, 3, 4, 5, 10"
        )
    )
    return [tuple(r) for r in rows]


def fold(db):
    """Run the compaction the scheduler runs; returns how many deltas it folded."""
    return db.execute(text("SELECT compact_incident_rollups()")).scalar_one()


def from_scratch(db):
    """The rollup computed directly from the incidents."""
    rows = db.execute(
        text(
            "SELECT (occurred_at AT TIME ZONE theatre_timezone())::date, province_pcode, status,"
            " ceasefire_status, responsible_guarantors, count(*), sum(killed), sum(injured),"
            " sum(civilians_killed), confidence_band FROM incidents GROUP BY 1, 2, 3, 4, 5, 10"
            " ORDER BY 1, 2, 3, 4, 5, 10"
        )
    )
    return [tuple(r) for r in rows]


def version(db, name="incidents"):
    return db.execute(
        text("SELECT sum(version) FROM data_versions WHERE name = :n"), {"n": name}
    ).scalar_one()


def totals(db):
    return dict(
        db.execute(
            text(
                "SELECT status, sum(incidents) FROM incident_totals_now GROUP BY status"
                " HAVING sum(incidents) <> 0"
            )
        ).all()
    )


def test_new_incidents_are_counted_on_their_local_day(db, submitter):
    # 23:30 UTC on 5 January is 01:30 on the 6th in Damascus.
    start = dt.datetime(2017, 1, 5, 23, 30, tzinfo=dt.UTC)
    make_incidents(db, submitter, random_points(3), start=start, step=dt.timedelta(minutes=1))
    days = {row[0] for row in rollup(db)}
    assert days == {dt.date(2017, 1, 6)}
    assert rollup(db) == from_scratch(db)
    assert totals(db) == {"unverified": 3}


def test_status_changes_move_counts_and_bump_the_version(db, submitter):
    ids = make_incidents(db, submitter, random_points(6))
    before = version(db)
    set_status(db, ids[:4], "verified")
    assert version(db) == before + 1
    assert totals(db) == {"unverified": 2, "verified": 4}
    assert rollup(db) == from_scratch(db)
    db.execute(text("UPDATE incidents SET killed = killed + 5 WHERE id = :id"), {"id": ids[0]})
    assert rollup(db) == from_scratch(db)
    db.execute(text("DELETE FROM reports WHERE incident_id = :id"), {"id": ids[5]})
    db.execute(text("DELETE FROM incidents WHERE id = :id"), {"id": ids[5]})
    assert rollup(db) == from_scratch(db)
    assert totals(db) == {"unverified": 1, "verified": 4}


def test_a_statement_that_changes_nothing_keeps_the_version(db, submitter):
    make_incidents(db, submitter, random_points(2))
    before = version(db)
    db.execute(text("UPDATE incidents SET status = 'verified' WHERE false"))
    assert version(db) == before


def test_corroborating_reports_keep_the_rollup_exact(db, submitter, make_key):
    from service.report.service import Submitter, submit
    from tests.map_incidents import report

    [incident] = make_incidents(db, submitter, random_points(1))
    at = db.execute(
        text("SELECT ST_X(geom), ST_Y(geom), occurred_at FROM incidents WHERE id = :id"),
        {"id": incident},
    ).one()
    more = report(
        at[0],
        at[1],
        at[2],
        incident_id=str(incident),
        casualties={"killed": 9, "injured": 0, "civilians_killed": 0},
    )
    # Two more keys saying 9 against the first key's 2: the median across keys is 9.
    for _ in range(2):
        other, _ = make_key("reporter")
        submit(
            session=db,
            submitter=Submitter(key_id=other.key_id, actor=other.actor),
            reports_in=[more],
        )
    assert rollup(db) == from_scratch(db)
    assert [r[6] for r in rollup(db)] == [9]


def cells(db):
    rows = db.execute(
        text(
            "SELECT cell_i, cell_j, status, ceasefire_status, sum(incidents), sum(killed)"
            " FROM incident_cell_counts_now GROUP BY 1, 2, 3, 4 HAVING sum(incidents) <> 0"
            " ORDER BY 1, 2, 3, 4"
        )
    )
    return [tuple(r) for r in rows]


def cells_from_scratch(db):
    rows = db.execute(
        text(
            "SELECT floor(ST_X(geom) / 0.1)::int, floor(ST_Y(geom) / 0.1)::int, status,"
            " ceasefire_status, count(*), sum(killed) FROM incidents WHERE geom IS NOT NULL"
            " GROUP BY 1, 2, 3, 4 ORDER BY 1, 2, 3, 4"
        )
    )
    return [tuple(r) for r in rows]


def test_cell_counts_follow_inserts_updates_and_deletes(db, submitter):
    ids = make_incidents(db, submitter, random_points(12, seed=4))
    assert cells(db) == cells_from_scratch(db) and cells(db)
    set_status(db, ids[:5], "verified")
    db.execute(
        text(
            "UPDATE incidents SET geom = ST_SetSRID(ST_MakePoint(36.71, 35.81), 4326) WHERE id = :id"
        ),
        {"id": ids[6]},
    )
    assert cells(db) == cells_from_scratch(db)
    db.execute(text("DELETE FROM reports WHERE incident_id = :id"), {"id": ids[0]})
    db.execute(text("DELETE FROM incidents WHERE id = :id"), {"id": ids[0]})
    assert cells(db) == cells_from_scratch(db)
    before = cells(db)
    db.execute(text("SELECT rebuild_incident_cell_counts()"))
    assert cells(db) == before


def test_rebuild_agrees_with_the_triggers(db, submitter):
    ids = make_incidents(db, submitter, random_points(10))
    set_status(db, ids[:3], "rejected")
    incremental = rollup(db)
    db.execute(text("SELECT rebuild_incident_tallies()"))
    assert rollup(db) == incremental == from_scratch(db)


def test_changing_the_theatres_time_zone_recounts_the_days(db, submitter):
    start = dt.datetime(2017, 1, 5, 23, 30, tzinfo=dt.UTC)
    make_incidents(db, submitter, random_points(2), start=start, step=dt.timedelta(minutes=1))
    db.execute(text("UPDATE theatres SET timezone = 'UTC'"))
    assert {row[0] for row in rollup(db)} == {dt.date(2017, 1, 5)}
    assert rollup(db) == from_scratch(db)


def test_areas_have_their_own_version(db):
    before = version(db, "areas")
    db.execute(text("UPDATE admin_areas SET name_en = name_en WHERE pcode = 'SY07'"))
    assert version(db, "areas") == before + 1


def test_folding_the_deltas_changes_no_answer_and_empties_them(db, submitter):
    ids = make_incidents(db, submitter, random_points(8, seed=12))
    set_status(db, ids[:3], "verified")
    db.execute(text("UPDATE incidents SET killed = killed + 2 WHERE id = :id"), {"id": ids[1]})
    seen, counted, cells_seen, version_before = rollup(db), totals(db), cells(db), version(db)
    assert seen == from_scratch(db)
    assert fold(db) > 0
    assert db.execute(text("SELECT count(*) FROM incident_rollup_deltas")).scalar_one() == 0
    # Readers see the same; the folded tables alone now hold it all; no version moved.
    assert (rollup(db), totals(db), cells(db)) == (seen, counted, cells_seen)
    assert rollup(db, "incident_daily_counts") == seen
    assert cells(db) == cells_from_scratch(db)
    assert version(db) == version_before
    assert fold(db) == 0


def test_a_writer_bumps_one_free_version_slot_and_keeps_it(db, submitter):
    before = db.execute(
        text("SELECT slot, version FROM data_versions WHERE name = 'incidents' ORDER BY slot")
    ).all()
    assert len(before) > 8  # slots for writers at once
    make_incidents(db, submitter, random_points(3, seed=13))
    make_incidents(db, submitter, random_points(2, seed=14))
    after = dict(
        db.execute(text("SELECT slot, version FROM data_versions WHERE name = 'incidents'")).all()
    )
    moved = {slot for slot, v in before if after[slot] != v}
    assert len(moved) == 1  # every statement of this transaction bumped the same slot
    assert version(db) > sum(v for _, v in before)
