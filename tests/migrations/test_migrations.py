"""The real migrations: a full round trip, and no drift between them and the models."""

import datetime as dt
import uuid

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import create_engine, inspect, text

from service.cli import alembic_config
from service.config import sqlalchemy_url
from service.db import include_in_migrations
from service.models import Base
from tests.conftest import TEST_MIGRATIONS_DATABASE_URL as MIGRATIONS_URL
from tests.conftest import recreate_database


@pytest.fixture(scope="module")
def config():
    recreate_database(MIGRATIONS_URL)
    cfg = alembic_config()
    cfg.set_main_option("sqlalchemy.url", sqlalchemy_url(MIGRATIONS_URL))
    return cfg


@pytest.fixture(scope="module")
def engine(config):
    eng = create_engine(sqlalchemy_url(MIGRATIONS_URL))
    yield eng
    eng.dispose()


def tables(engine) -> set[str]:
    return set(inspect(engine).get_table_names()) - {"spatial_ref_sys"}


def test_upgrade_downgrade_upgrade(config, engine):
    command.upgrade(config, "heads")
    created = tables(engine)
    assert {"admin_areas", "parties", "party_aliases", "guarantors", "theatres"} <= created
    command.downgrade(config, "base")
    assert tables(engine) == {"alembic_version"}
    with engine.connect() as conn:
        assert (
            conn.execute(
                text("SELECT count(*) FROM pg_extension WHERE extname = 'postgis'")
            ).scalar()
            == 0
        )
    command.upgrade(config, "heads")
    assert tables(engine) == created


def test_models_and_migrations_agree(config, engine):
    command.upgrade(config, "heads")
    with engine.connect() as conn:
        context = MigrationContext.configure(
            conn, opts={"include_object": include_in_migrations, "compare_type": True}
        )
        diff = compare_metadata(context, Base.metadata)
    assert diff == []


def _subscriptions_columns(engine) -> set[str]:
    return {c["name"] for c in inspect(engine).get_columns("subscriptions")}


def test_0062_encrypts_the_stored_webhook_secrets_and_back(config, engine, monkeypatch, tmp_path):
    from service.config import get_settings
    from service.subscription import secret_store

    plaintext = "an-existing-plaintext-secret-0123"  # noqa: S105 - a test subscription's secret
    command.upgrade(config, "heads")
    command.downgrade(config, "0062-1")
    with engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO api_keys (id, name, role, prefix, secret_hash)"
                " VALUES ('00000000-0000-0000-0000-000000000062', 'm', 'monitor', 'cfm_x',"
                " repeat('a', 64))"
            )
        )
        conn.execute(
            text(
                "INSERT INTO subscriptions (id, owner_key_id, callback_url, secret)"
                " VALUES (gen_random_uuid(), '00000000-0000-0000-0000-000000000062',"
                " 'https://hooks.example/', :secret)"
            ),
            {"secret": plaintext},
        )

    settings = get_settings()
    with monkeypatch.context() as without_key:  # a secret to encrypt and no key: stop
        without_key.setattr(settings, "secrets_key", None)
        without_key.setattr(settings, "secrets_key_file", tmp_path / "missing")
        with pytest.raises(RuntimeError, match="CEASEFIRE_SECRETS_KEY"):
            command.upgrade(config, "0062")
    assert "secret" in _subscriptions_columns(engine)  # nothing changed

    command.upgrade(config, "0062")
    assert "secret" not in _subscriptions_columns(engine)
    with engine.connect() as conn:
        token = conn.execute(text("SELECT secret_encrypted FROM subscriptions")).scalar_one()
    assert plaintext not in token
    assert secret_store.unseal(token, settings) == plaintext

    command.downgrade(config, "0062-1")
    with engine.connect() as conn:
        assert conn.execute(text("SELECT secret FROM subscriptions")).scalar_one() == plaintext
    with engine.begin() as conn:
        conn.execute(text("DELETE FROM api_keys"))  # leave the database as the others expect
    command.upgrade(config, "heads")


def test_0070_winds_stored_areas_counter_clockwise_and_adds_theatre_sources(config, engine):
    command.upgrade(config, "heads")
    command.downgrade(config, "0070-1")
    clockwise = "MULTIPOLYGON(((0 0, 0 1, 1 1, 1 0, 0 0), (0.2 0.2, 0.8 0.2, 0.8 0.8, 0.2 0.2)))"
    with engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO admin_areas (pcode, level, name_en, geom)"
                " VALUES ('XX70', 1, 'Clockwise', ST_GeomFromText(:wkt, 4326))"
            ),
            {"wkt": clockwise},
        )
        assert conn.execute(text("SELECT ST_IsPolygonCW(geom) FROM admin_areas")).scalar_one()
    command.upgrade(config, "0070")
    with engine.begin() as conn:
        row = conn.execute(
            text(
                "SELECT ST_IsPolygonCCW(geom) AS ccw, ST_Area(geom) AS area,"
                " ST_NumInteriorRings(ST_GeometryN(geom, 1)) AS holes FROM admin_areas"
            )
        ).one()
        assert row.ccw and row.holes == 1 and abs(row.area - (1 - 0.18)) < 1e-9
        conn.execute(text("DELETE FROM admin_areas"))  # leave the database as the others expect
    assert "sources" in {c["name"] for c in inspect(engine).get_columns("theatres")}
    command.upgrade(config, "heads")


def test_0080_backfills_the_cell_rollups_and_goes_back_cleanly(config, engine):
    command.upgrade(config, "heads")
    command.downgrade(config, "0080-1")
    assert not {"incident_cell_days", "incident_cell_months"} & tables(engine)
    with engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO admin_areas (pcode, level, name_en, geom) VALUES ('XX80', 1, 'Square',"
                " ST_GeomFromText('MULTIPOLYGON(((36 35, 37 35, 37 36, 36 36, 36 35)))', 4326))"
            )
        )
        # Two incidents in one cell on one UTC day (no theatre: local days are UTC's), one
        # on the next month, one without a position.
        conn.execute(
            text(
                "INSERT INTO incidents (id, occurred_at, geom, province_pcode, location_match,"
                " violation_type, ceasefire_status, killed, perpetrator_party_id)"
                " SELECT gen_random_uuid(), CAST(t AS timestamptz),"
                " CASE WHEN p THEN ST_SetSRID(ST_MakePoint(36.55, 35.45), 4326) END, 'XX80',"
                " CASE WHEN p THEN 'inside' ELSE 'province_only' END, 'shelling', 'violation', 3,"
                " NULL"
                " FROM (VALUES ('2017-01-31 10:00Z', true), ('2017-01-31 23:00Z', true),"
                " ('2017-02-01 00:00Z', true), ('2017-02-02 00:00Z', false)) v(t, p)"
            )
        )
    command.upgrade(config, "0080")
    with engine.connect() as conn:
        days = conn.execute(
            text(
                "SELECT day, cell_i, cell_j, perpetrator_party_id, incidents, killed"
                " FROM incident_cell_days ORDER BY day"
            )
        ).all()
        months = conn.execute(
            text("SELECT month, incidents, killed FROM incident_cell_months ORDER BY month")
        ).all()
    assert [tuple(r) for r in days] == [
        (dt.date(2017, 1, 31), 365, 354, "", 2, 6),
        (dt.date(2017, 2, 1), 365, 354, "", 1, 3),
    ]
    assert [tuple(r) for r in months] == [(dt.date(2017, 1, 1), 2, 6), (dt.date(2017, 2, 1), 1, 3)]
    # Kept by the triggers from here on.
    with engine.begin() as conn:
        conn.execute(text("UPDATE incidents SET status = 'verified'"))
        statuses = conn.execute(
            text("SELECT status, sum(incidents) FROM incident_cell_months GROUP BY 1")
        )
        assert dict(statuses.all()) == {"unverified": 0, "verified": 3}
    command.downgrade(config, "0080-1")
    assert not {"incident_cell_days", "incident_cell_months"} & tables(engine)
    with engine.begin() as conn:
        conn.execute(text("UPDATE incidents SET status = 'rejected'"))  # no trigger left behind
        conn.execute(text("DELETE FROM incidents"))
        conn.execute(text("DELETE FROM admin_areas"))  # leave the database as the others expect
    command.upgrade(config, "heads")


def test_0100_gives_aliases_periods_and_goes_back_to_one_row_per_alias(config, engine):
    command.upgrade(config, "heads")
    command.downgrade(config, "0080")
    assert not {"party_coalitions", "party_coalition_members", "curation_jobs"} & tables(engine)
    with engine.begin() as conn:
        conn.execute(text("DELETE FROM party_aliases"))
        conn.execute(
            text(
                "INSERT INTO parties (id, name, side) VALUES ('p-a', 'A', 'x'), ('p-b', 'B', 'x')"
                " ON CONFLICT DO NOTHING"
            )
        )
        conn.execute(
            text(
                "INSERT INTO party_aliases (alias_norm, alias, party_id) VALUES ('sna', 'SNA', 'p-a')"
            )
        )
    command.upgrade(config, "0100")
    with engine.begin() as conn:
        assert conn.execute(
            text("SELECT alias, party_id, valid_from, valid_to FROM party_aliases")
        ).all() == [("SNA", "p-a", None, None)]
        # One party at a time: an overlapping period for another party is refused ...
        with (
            pytest.raises(Exception, match="ex_party_aliases_one_party_at_a_time"),
            conn.begin_nested(),
        ):
            conn.execute(
                text(
                    "INSERT INTO party_aliases (alias_norm, alias, party_id, valid_from)"
                    " VALUES ('sna', 'SNA', 'p-b', '2018-01-01')"
                )
            )
        # ... a later one, once the first has ended, is not.
        conn.execute(text("UPDATE party_aliases SET valid_to = '2017-12-31'"))
        conn.execute(
            text(
                "INSERT INTO party_aliases (alias_norm, alias, party_id, valid_from)"
                " VALUES ('sna', 'SNA', 'p-b', '2018-01-01')"
            )
        )
    command.downgrade(config, "0080")
    with engine.begin() as conn:
        # The alias is the key again: its current row (open-ended) is the one kept.
        assert conn.execute(text("SELECT alias_norm, party_id FROM party_aliases")).all() == [
            ("sna", "p-b")
        ]
        assert (
            conn.execute(
                text("SELECT count(*) FROM pg_extension WHERE extname = 'btree_gist'")
            ).scalar()
            == 0
        )
        conn.execute(text("DELETE FROM party_aliases"))
        conn.execute(text("DELETE FROM parties WHERE id IN ('p-a', 'p-b')"))
    command.upgrade(config, "heads")


def test_no_foreign_key_references_more_than_one_column(config, engine):
    # PostgreSQL checks a foreign key with a plan made once per connection, from the
    # statistics of that moment. On two columns, it could walk an index on the first alone
    # (``ix_reports_reporter_created_at`` for imported_records' (key, client report id)) and
    # read every row of the key per check: an import's time grew with what it had stored
    # (migration 0150). A key on one column has one index to walk.
    command.upgrade(config, "heads")
    with engine.connect() as conn:
        wide = conn.execute(
            text(
                "SELECT conrelid::regclass::text, conname FROM pg_constraint"
                " WHERE contype = 'f' AND cardinality(confkey) > 1"
            )
        ).all()
    assert wide == []


def test_0150_points_imported_records_to_their_report_and_back(config, engine):
    command.upgrade(config, "heads")
    command.downgrade(config, "0140")
    key, client, report, incident = (
        "00000000-0000-0000-0000-00000000015a",
        "00000000-0000-0000-0000-00000000015b",
        "00000000-0000-0000-0000-00000000015c",
        "00000000-0000-0000-0000-00000000015d",
    )
    event = "'2017-01-31 10:00Z', 'XX15', 'province_only', 'shelling', 'violation'"
    a_report = text(
        "INSERT INTO reports (id, reporter_key_id, client_report_id, incident_id, request_hash,"
        " occurred_at, province_pcode, location_match, violation_type, ceasefire_status)"
        f" VALUES ('{report}', '{key}', '{client}', '{incident}', 'h', {event})"
    )
    with engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO admin_areas (pcode, level, name_en, geom) VALUES ('XX15', 1, 'Square',"
                " ST_GeomFromText('MULTIPOLYGON(((36 35, 37 35, 37 36, 36 36, 36 35)))', 4326))"
            )
        )
        conn.execute(
            text(
                "INSERT INTO api_keys (id, name, role, prefix, secret_hash)"
                f" VALUES ('{key}', 'importer', 'reporter', 'cf_0150', 'x')"
            )
        )
        conn.execute(
            text(
                "INSERT INTO incidents (id, occurred_at, province_pcode, location_match,"
                f" violation_type, ceasefire_status) VALUES ('{incident}', {event})"
            )
        )
        conn.execute(a_report)
        conn.execute(
            text(
                "INSERT INTO imported_records (reporter_key_id, client_report_id, record_hash)"
                f" VALUES ('{key}', '{client}', 'fingerprint')"
            )
        )
    command.upgrade(config, "0150")
    with engine.begin() as conn:
        assert conn.execute(text("SELECT report_id FROM imported_records")).scalar_one() == (
            uuid.UUID(report)
        )
        conn.execute(text("DELETE FROM report_revisions"))
        conn.execute(text(f"DELETE FROM reports WHERE id = '{report}'"))
        # The record goes with its report, through the new key.
        assert conn.execute(text("SELECT count(*) FROM imported_records")).scalar_one() == 0
        conn.execute(a_report)
        conn.execute(
            text(
                "INSERT INTO imported_records (reporter_key_id, client_report_id, report_id,"
                f" record_hash) VALUES ('{key}', '{client}', '{report}', 'fingerprint')"
            )
        )
    command.downgrade(config, "0140")
    with engine.begin() as conn:
        assert conn.execute(text("SELECT record_hash FROM imported_records")).scalar_one() == (
            "fingerprint"
        )
        conn.execute(text("DELETE FROM imported_records"))
        conn.execute(text("DELETE FROM reports"))
        conn.execute(text("DELETE FROM incidents"))
        conn.execute(text("DELETE FROM api_keys"))
        conn.execute(text("DELETE FROM admin_areas"))  # leave the database as the others expect
    command.upgrade(config, "heads")
