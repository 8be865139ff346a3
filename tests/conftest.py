"""Test database: migrated with the real migrations and seeded with the real reference data
once per session (a template), copied for each pytest-xdist worker; each test then runs inside a
transaction that is rolled back.
"""

from __future__ import annotations

import os
import uuid
import zlib
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from cryptography.fernet import Fernet
from sqlalchemy import Engine, create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session

# Under pytest-xdist ("make test", "make test-fast") each worker (gw0, gw1, ...) has databases
# of its own, named after the configured ones: ceasefire_test_gw0, ceasefire_test_gw0_live, ...
# Everything derived from these names is per worker too: the rate limiter's Redis namespace
# (service/auth/ratelimit.py), the live servers' and CLI subprocesses' DATABASE_URL.
WORKER = os.environ.get("PYTEST_XDIST_WORKER", "")


def worker_database_url(url: str) -> str:
    """``url`` with this worker's id appended to the database name (unchanged without xdist)."""
    if not WORKER:
        return url
    parsed = make_url(url)
    return parsed.set(database=f"{parsed.database}_{WORKER}").render_as_string(hide_password=False)


CONFIGURED_DATABASE_URL = os.environ.get(
    "TEST_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/ceasefire_test"
)
TEST_DATABASE_URL = worker_database_url(CONFIGURED_DATABASE_URL)
TEST_MIGRATIONS_DATABASE_URL = worker_database_url(
    os.environ.get(
        "TEST_MIGRATIONS_DATABASE_URL",
        "postgresql://postgres@127.0.0.1:5432/ceasefire_test_migrations",
    )
)
# The migrated, seeded database that every worker's test database is a copy of.
_configured = make_url(CONFIGURED_DATABASE_URL)
TEMPLATE_DATABASE_URL = _configured.set(
    database=f"{_configured.database}_template"
).render_as_string(hide_password=False)
# Settings are read once per process: point them at the test database before anything reads them.
os.environ["DATABASE_URL"] = TEST_DATABASE_URL
# Subscription secrets are encrypted at rest: a key of the test run's own, never a file's.
os.environ.setdefault("CEASEFIRE_SECRETS_KEY", Fernet.generate_key().decode())
# Every anonymous request of the suite comes from one address (TestClient's "testclient", or
# 127.0.0.1 for live servers): only the tests of these limits lower them.
os.environ.setdefault("CEASEFIRE_RATE_LIMIT_ANONYMOUS_REQUESTS", "1000000")
os.environ.setdefault("CEASEFIRE_RATE_LIMIT_AUTH_FAILURES", "1000000")

from service.config import get_settings, sqlalchemy_url  # noqa: E402

# Marks a module that starts servers, scheduler processes or a browser: not in `make test-fast`.
LIVE = "live"
# Marks a module that cannot share the machine (fixed ports, timing): after the parallel run,
# alone. Anything under these directories is marked so without saying it (browser tests drive
# a live server under a deadline).
SERIAL = "serial"
SERIAL_DIRECTORIES = ("browser",)


def _long_first(item: pytest.Item) -> int:
    """Tests that run long (servers and fuzzing, then property tests of many examples) start
    first, so that no worker begins one when the others are almost done."""
    if item.get_closest_marker(LIVE):
        return 0
    if getattr(getattr(item, "obj", None), "is_hypothesis_test", False):
        return 1
    return 2


def _shares_a_module_fixture(item: pytest.Item) -> bool:
    info = getattr(item, "_fixtureinfo", None)
    return info is not None and any(
        definition.scope in ("module", "class")
        for definitions in info.name2fixturedefs.values()
        for definition in definitions
    )


@pytest.hookimpl(tryfirst=True)  # before -m deselects by the markers added here
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    here = os.path.dirname(__file__)
    for item in items:
        relative = os.path.relpath(str(item.path), here).split(os.sep)
        if relative[0] in SERIAL_DIRECTORIES:
            item.add_marker(SERIAL)
            item.add_marker(LIVE)
        # Under `--dist loadgroup`, the tests of a module that share a module- or class-scoped
        # fixture (a seeded data set, a database migrated step by step) run on one worker, in
        # order, the fixture made once; every other test goes to whichever worker is free. Live
        # tests are spread: each worker starts its own server on its own database.
        if _shares_a_module_fixture(item) and not item.get_closest_marker(LIVE):
            item.add_marker(pytest.mark.xdist_group("/".join(relative)))
    items.sort(key=_long_first)  # stable: each group keeps its order


def _admin(url: str) -> Engine:
    """An engine on the server's maintenance database, for CREATE and DROP DATABASE."""
    return create_engine(
        make_url(sqlalchemy_url(url)).set(database="postgres"), isolation_level="AUTOCOMMIT"
    )


def _terminate(conn, name: str) -> None:
    conn.execute(
        text(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
            " WHERE datname = :name AND pid <> pg_backend_pid()"
        ),
        {"name": name},
    )


def recreate_database(url: str, template: str | None = None) -> None:
    """Drop and create the database named in ``url`` (via the server's maintenance database),
    empty or as a copy of the database ``template`` (which must have no connection)."""
    target = make_url(sqlalchemy_url(url))
    admin = _admin(url)
    with admin.connect() as conn:
        _terminate(conn, target.database)
        conn.execute(text(f'DROP DATABASE IF EXISTS "{target.database}"'))
        copy = f' TEMPLATE "{template}"' if template else ""
        conn.execute(text(f'CREATE DATABASE "{target.database}"{copy}'))
    admin.dispose()


def migrate_and_seed(url: str) -> None:
    """Create ``url``'s database afresh with the real migrations and reference data."""
    from alembic import command

    from service.cli import alembic_config
    from service.theatre.service import seed

    recreate_database(url)
    config = alembic_config()
    config.set_main_option("sqlalchemy.url", sqlalchemy_url(url).replace("%", "%%"))
    command.upgrade(config, "heads")
    settings = get_settings()
    eng = create_engine(sqlalchemy_url(url))
    try:
        with Session(eng) as session:
            seed(session, theatre_file=settings.theatre_file, data_dir=settings.data_dir)
            session.commit()
    finally:
        eng.dispose()


@contextmanager
def _template_lock(conn) -> Iterator[None]:
    """One worker at a time builds or copies the template (a lock named after it)."""
    key = zlib.crc32(TEMPLATE_DATABASE_URL.encode())
    conn.execute(text("SELECT pg_advisory_lock(:key)"), {"key": key})
    try:
        yield
    finally:
        conn.execute(text("SELECT pg_advisory_unlock(:key)"), {"key": key})


def copy_of_template(url: str, run_id: str) -> None:
    """Make ``url``'s database a copy of the template, migrated and seeded once per test run
    (``run_id``): the first worker to get here builds it, the others wait and copy it."""
    template = make_url(sqlalchemy_url(TEMPLATE_DATABASE_URL)).database
    admin = _admin(TEMPLATE_DATABASE_URL)
    try:
        with admin.connect() as conn, _template_lock(conn):
            built = conn.execute(
                text(
                    "SELECT shobj_description(oid, 'pg_database') FROM pg_database"
                    " WHERE datname = :name"
                ),
                {"name": template},
            ).scalar()
            if built != run_id:
                migrate_and_seed(TEMPLATE_DATABASE_URL)
                conn.execute(text(f"COMMENT ON DATABASE \"{template}\" IS '{run_id}'"))
            recreate_database(url, template=template)
    finally:
        admin.dispose()


@pytest.fixture(scope="session")
def run_id(request: pytest.FixtureRequest) -> str:
    """This test run's id, the same in every xdist worker."""
    workerinput = getattr(request.config, "workerinput", None)
    return workerinput["testrunuid"] if workerinput else uuid.uuid4().hex


@pytest.fixture(scope="session")
def engine(run_id: str) -> Iterator[Engine]:
    from service.db import get_engine, get_sessionmaker

    get_settings.cache_clear()
    get_engine.cache_clear()
    get_sessionmaker.cache_clear()
    copy_of_template(TEST_DATABASE_URL, run_id)
    eng = get_engine()
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
