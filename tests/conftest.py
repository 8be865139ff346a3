"""Test database: created fresh once per session, migrated with the real migrations and seeded
with the real reference data; each test then runs inside a transaction that is rolled back.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from cryptography.fernet import Fernet
from sqlalchemy import Engine, create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session

TEST_DATABASE_URL = os.environ.get(
    "TEST_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/ceasefire_test"
)
# Settings are read once per process: point them at the test database before anything reads them.
os.environ["DATABASE_URL"] = TEST_DATABASE_URL
# Subscription secrets are encrypted at rest: a key of the test run's own, never a file's.
os.environ.setdefault("CEASEFIRE_SECRETS_KEY", Fernet.generate_key().decode())
# Every anonymous request of the suite comes from one address (TestClient's "testclient", or
# 127.0.0.1 for live servers): only the tests of these limits lower them.
os.environ.setdefault("CEASEFIRE_RATE_LIMIT_ANONYMOUS_REQUESTS", "1000000")
os.environ.setdefault("CEASEFIRE_RATE_LIMIT_AUTH_FAILURES", "1000000")

from service.config import get_settings, sqlalchemy_url  # noqa: E402


def recreate_database(url: str) -> None:
    """Drop and create the database named in ``url`` (via the server's maintenance database)."""
    target = make_url(sqlalchemy_url(url))
    admin = create_engine(target.set(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(
            text(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                " WHERE datname = :name AND pid <> pg_backend_pid()"
            ),
            {"name": target.database},
        )
        conn.execute(text(f'DROP DATABASE IF EXISTS "{target.database}"'))
        conn.execute(text(f'CREATE DATABASE "{target.database}"'))
    admin.dispose()


@pytest.fixture(scope="session")
def engine() -> Iterator[Engine]:
    from alembic import command

    from service.cli import alembic_config
    from service.db import get_engine, get_sessionmaker
    from service.theatre.service import seed

    get_settings.cache_clear()
    get_engine.cache_clear()
    get_sessionmaker.cache_clear()
    recreate_database(TEST_DATABASE_URL)
    command.upgrade(alembic_config(), "heads")
    settings = get_settings()
    eng = get_engine()
    with Session(eng) as session:
        seed(session, theatre_file=settings.theatre_file, data_dir=settings.data_dir)
        session.commit()
    yield eng
    eng.dispose()


@contextmanager
def rolled_back_session(engine: Engine) -> Iterator[Session]:
    """A session whose every commit is a savepoint inside one transaction rolled back at the end."""
    connection = engine.connect()
    outer = connection.begin()
    session = Session(
        bind=connection, join_transaction_mode="create_savepoint", expire_on_commit=False
    )
    try:
        yield session
    finally:
        session.close()
        outer.rollback()
        connection.close()


@pytest.fixture
def db(engine: Engine) -> Iterator[Session]:
    """One test's session, rolled back after it."""
    with rolled_back_session(engine) as session:
        yield session


@pytest.fixture
def app(db: Session):
    from contextlib import nullcontext

    from service.db import get_session
    from service.health.ops import ops_sessions
    from service.main import create_app

    application = create_app()
    application.dependency_overrides[get_session] = lambda: db
    # /readyz and /metrics use sessions of their own: here, the test's.
    application.dependency_overrides[ops_sessions] = lambda: lambda: nullcontext(db)
    return application


@pytest.fixture
def client(app):
    from fastapi.testclient import TestClient

    with TestClient(app) as test_client:
        yield test_client


@pytest.fixture
def make_key(db: Session):
    """Create an API key of a role in the test transaction; returns (principal, secret)."""
    from service.audit.service import CONSOLE
    from service.auth.models import Role
    from service.auth.service import Principal, create_key

    def make(role: str = "reporter", name: str | None = None):
        key, secret = create_key(session=db, role=role, name=name or f"test {role}", actor=CONSOLE)
        # Committed (a savepoint, in the test transaction), as the console commits it: a
        # request that rolls back must not take the key with it.
        db.commit()
        return Principal(key["id"], key["name"], Role(key["role"])), secret

    return make


@pytest.fixture
def monitor(make_key):
    """A monitor key's Authorization header."""
    _, secret = make_key("monitor")
    return {"Authorization": f"Bearer {secret}"}


@pytest.fixture
def reporter(make_key):
    return make_key("reporter", "field reporter A")


@pytest.fixture
def submitter(reporter):
    """The reporter fixture's key as ``submit()`` takes it: reports of its own."""
    from service.report.service import Submitter

    principal, _ = reporter
    return Submitter(key_id=principal.key_id, actor=principal.actor)
