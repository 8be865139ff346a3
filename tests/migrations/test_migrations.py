"""The real migrations: a full round trip, and no drift between them and the models."""

import os

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import create_engine, inspect, text

from service.cli import alembic_config
from service.config import sqlalchemy_url
from service.db import include_in_migrations
from service.models import Base
from tests.conftest import recreate_database

MIGRATIONS_URL = os.environ.get(
    "TEST_MIGRATIONS_DATABASE_URL",
    "postgresql://postgres@127.0.0.1:5432/ceasefire_test_migrations",
)


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
