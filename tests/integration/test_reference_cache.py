"""Intakes share the reference data (terms, parties, areas) while it stays as it was loaded:
``Lookups.load`` reads one row of table states, and loads again when any table changed."""

import dataclasses

import pytest
from sqlalchemy import text
from sqlalchemy.orm import Session

from service.geography.service import AreaNames, area_rows
from service.party.service import PartyDirectory
from service.report.service import REFERENCE_TABLES, Lookups, _ReferenceCache
from service.text import normalise_name
from service.theatre.terms import load_terms

_SCANS = text(
    "SELECT relname, seq_scan + coalesce(idx_scan, 0) AS scans FROM pg_stat_xact_user_tables"
)


def _scans(db) -> dict[str, int]:
    return {row.relname: row.scans for row in db.execute(_SCANS)}


def _a_coalition(db) -> None:
    """The seeded theatre declares none: with both its tables empty, a join need not scan
    them, and the tests want every table to hold a row."""
    party = db.execute(text("SELECT id FROM parties ORDER BY id LIMIT 1")).scalar_one()
    db.execute(
        text("INSERT INTO party_coalitions (name_norm, name) VALUES ('testfront', 'Test Front')")
    )
    db.execute(
        text(
            "INSERT INTO party_coalition_members (coalition_norm, party_id, position)"
            " VALUES ('testfront', :p, 1)"
        ),
        {"p": party},
    )


def test_the_state_covers_exactly_the_tables_the_loaders_read(db):
    _a_coalition(db)
    before = _scans(db)
    load_terms(db)
    PartyDirectory.load(db)
    AreaNames.load(db)
    area_rows(db)
    after = _scans(db)
    read = {table for table, scans in after.items() if scans > before.get(table, 0)}
    assert read == set(REFERENCE_TABLES)


def test_an_unchanged_state_serves_the_loaded_copy(db):
    first = Lookups.load(db)
    second = Lookups.load(db)
    assert second.directory is first.directory
    assert second.areas is first.areas
    assert second.now == first.now  # the transaction's clock, read afresh each time


@pytest.mark.parametrize("table", REFERENCE_TABLES)
def test_any_change_to_a_reference_table_is_loaded_by_the_next_intake(db, table):
    _a_coalition(db)
    Lookups.load(db)
    loaded = _ReferenceCache.last
    column = db.execute(
        text(
            "SELECT column_name FROM information_schema.columns"
            " WHERE table_name = :t ORDER BY ordinal_position LIMIT 1"
        ),
        {"t": table},
    ).scalar_one()
    assert db.execute(text(f'UPDATE {table} SET "{column}" = "{column}"')).rowcount > 0
    Lookups.load(db)
    assert _ReferenceCache.last is not loaded
    assert _ReferenceCache.last.state != loaded.state


def test_a_renamed_party_and_a_new_alias_are_read_at_once(db):
    Lookups.load(db)
    party = db.execute(text("SELECT id FROM parties ORDER BY id LIMIT 1")).scalar_one()
    db.execute(text("UPDATE parties SET name = 'Renamed for the test' WHERE id = :p"), {"p": party})
    db.execute(
        text(
            "INSERT INTO party_aliases (alias, alias_norm, party_id)"
            " VALUES ('Test Alias', :norm, :p)"
        ),
        {"p": party, "norm": normalise_name("Test Alias")},
    )
    lookups = Lookups.load(db)
    assert lookups.directory.name_of(party) == "Renamed for the test"
    assert lookups.directory.resolve("Test Alias", lookups.now.date()).id == party


def test_a_rolled_back_change_is_not_served_afterwards(engine):
    with Session(engine) as session:
        party = session.execute(text("SELECT id, name FROM parties ORDER BY id LIMIT 1")).one()
        session.execute(
            text("UPDATE parties SET name = 'Never committed' WHERE id = :p"), {"p": party.id}
        )
        assert Lookups.load(session).directory.name_of(party.id) == "Never committed"
        session.rollback()
        assert Lookups.load(session).directory.name_of(party.id) == party.name
        session.rollback()


def test_a_copy_older_than_a_minute_is_loaded_again(db):
    Lookups.load(db)
    loaded = _ReferenceCache.last
    _ReferenceCache.last = dataclasses.replace(
        loaded, loaded_at=loaded.loaded_at - _ReferenceCache.MAX_AGE_S
    )
    Lookups.load(db)
    assert _ReferenceCache.last.state == loaded.state
    assert _ReferenceCache.last.loaded_at > loaded.loaded_at - _ReferenceCache.MAX_AGE_S
    assert _ReferenceCache.last.directory is not loaded.directory
