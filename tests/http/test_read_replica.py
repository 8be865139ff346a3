"""Map reads with a replica (CEASEFIRE_REPLICA_URL): the public and monitors read it,
everyone who writes reads the primary, and a replica that refuses is skipped.

The "replica" here is a second connection to the test database: like a lagging replica it
does not see the test's writes (uncommitted, in the test's transaction), which is how the
routing shows."""

import pytest
from sqlalchemy import create_engine, event, text
from sqlalchemy.orm import Session
from sqlalchemy.pool import NullPool

from service import replica as replica_module
from service.config import get_settings
from service.db import connect_args
from tests.map_incidents import make_incidents, random_points, set_status

ITEMS = "/collections/incidents/items?limit=1000"


@pytest.fixture
def incidents(db, submitter):
    """12 incidents written in the test's transaction (not on the replica), all verified."""
    ids = make_incidents(db, submitter, random_points(12, seed=31))
    set_status(db, ids, "verified")
    return {str(i) for i in ids}


def _routed_app(app, engine_url: str):
    """The test app with a replica session on its own connection to ``engine_url``."""
    engine = create_engine(engine_url, connect_args={"connect_timeout": 1})
    sessions: list[Session] = []

    def replica_session():
        session = Session(engine)
        sessions.append(session)
        return session

    app.dependency_overrides[replica_module.get_replica_session] = replica_session
    return engine, sessions


@pytest.fixture
def lagging_replica(app):
    engine, sessions = _routed_app(app, get_settings().database_url)
    yield
    for session in sessions:
        session.close()
    engine.dispose()


@pytest.fixture
def refusing_replica(app, monkeypatch):
    monkeypatch.setattr(replica_module, "_skip_until", 0.0)
    # A port of this project's rehearsal range that nothing listens on in the tests.
    engine, sessions = _routed_app(app, "postgresql+psycopg://postgres@127.0.0.1:5449/none")
    yield sessions
    for session in sessions:
        session.close()
    engine.dispose()


def _ids(client, headers=None) -> set[str]:
    response = client.get(ITEMS, headers=headers or {})
    assert response.status_code == 200, response.text
    return {feature["id"] for feature in response.json()["features"]}


def test_public_and_monitor_maps_read_the_replica(client, incidents, monitor, lagging_replica):
    assert not _ids(client) & incidents
    assert not _ids(client, monitor) & incidents
    tile = client.get("/tiles/incidents/8/153/101.mvt")
    assert tile.status_code in (200, 204)


def test_writers_read_their_writes_from_the_primary(
    client, incidents, reporter, make_key, lagging_replica
):
    _, reporter_secret = reporter
    _, verifier_secret = make_key("verifier")
    assert _ids(client, {"Authorization": f"Bearer {reporter_secret}"}) >= incidents
    assert _ids(client, {"Authorization": f"Bearer {verifier_secret}"}) >= incidents


def test_etag_names_the_data_it_was_read_with(client, incidents, lagging_replica):
    """The replica's ETag differs from the primary's while it lags, and a 304 from it holds
    for its own data."""
    from_replica = client.get(ITEMS)
    del client.app.dependency_overrides[replica_module.get_replica_session]
    from_primary = client.get(ITEMS)
    assert from_replica.headers["etag"] != from_primary.headers["etag"]
    assert len(from_primary.json()["features"]) == len(incidents)
    again = client.get(ITEMS, headers={"If-None-Match": from_primary.headers["etag"]})
    assert again.status_code == 304


@pytest.mark.parametrize(
    "path",
    [ITEMS, "/collections", "/v1/stats/provinces", "/tiles/incidents/8/153/101.mvt"],
)
def test_an_etag_never_moves_backwards(client, app, incidents, path):
    """A client (or nginx) holding the primary's newer answer, revalidating against a
    replica that has not replayed it yet, gets 304, not the replica's older answer."""
    newer = client.get(path)
    assert newer.status_code in (200, 204), newer.text
    engine, sessions = _routed_app(app, get_settings().database_url)
    try:
        older = client.get(path)
        assert older.headers["etag"] != newer.headers["etag"]
        again = client.get(path, headers={"If-None-Match": newer.headers["etag"]})
        assert again.status_code == 304
        assert again.headers["etag"] == newer.headers["etag"]
        assert again.headers["cache-control"] == newer.headers["cache-control"]
        # The replica's own version still revalidates against the replica.
        same = client.get(path, headers={"If-None-Match": older.headers["etag"]})
        assert same.status_code == 304 and same.headers["etag"] == older.headers["etag"]
    finally:
        for session in sessions:
            session.close()
        engine.dispose()


def test_a_replica_gone_mid_request_is_a_503(client, app, incidents):
    """The replica shut down between the data state and the page (the rehearsal's replica
    stop): the page statement, run on psycopg's own connection, fails with psycopg's
    error, which is unavailability (503 and Retry-After), not a bug (500)."""
    engine, _ = _routed_app(app, get_settings().database_url)
    killer = create_engine(get_settings().database_url, poolclass=NullPool)

    @event.listens_for(engine, "after_cursor_execute")
    def _terminate(conn, cursor, statement, *_):  # noqa: ANN001
        if "data_versions" in statement:
            with killer.connect() as other:
                other.execute(
                    text("SELECT pg_terminate_backend(:pid)"),
                    {"pid": conn.connection.dbapi_connection.info.backend_pid},
                )

    try:
        response = client.get(ITEMS)
        assert response.status_code == 503, response.text
        assert response.headers["content-type"] == "application/problem+json"
        assert response.headers["retry-after"]
    finally:
        killer.dispose()
        engine.dispose()


def test_a_refusing_replica_is_skipped(client, incidents, refusing_replica):
    assert _ids(client) == incidents  # answered by the primary, not a 5xx
    assert replica_module._skip_until > 0
    assert _ids(client) == incidents
    # The second request did not try the replica again.
    assert not refusing_replica[1].in_transaction()


def test_pooled_connections_prepare_nothing_and_send_no_options():
    pooled = connect_args(pooled=True)
    assert pooled["prepare_threshold"] is None and "options" not in pooled
    direct = connect_args(pooled=False)
    assert "prepare_threshold" not in direct and "statement_timeout" in direct["options"]


def test_the_scheduler_refuses_a_pooled_database_url(monkeypatch):
    from click.testing import CliRunner

    from service.cli import main

    monkeypatch.setenv("CEASEFIRE_DB_POOLED", "true")
    get_settings.cache_clear()
    try:
        result = CliRunner().invoke(main, ["scheduler"])
    finally:
        monkeypatch.delenv("CEASEFIRE_DB_POOLED")
        get_settings.cache_clear()
    assert result.exit_code == 2
    assert "direct connection" in result.output
