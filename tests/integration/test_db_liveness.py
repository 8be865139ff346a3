"""The pool finds dead connections without a round trip per checkout (``service/db.py``):
a connection the server terminated while it sat in the pool is replaced, never used."""

import time

from sqlalchemy import text

from service import db as service_db
from service.config import get_settings


def _backend_pid(engine) -> int:  # noqa: ANN001
    with engine.connect() as conn:
        return conn.execute(text("SELECT pg_backend_pid()")).scalar_one()


def test_a_connection_terminated_while_idle_is_replaced_without_an_error(engine):
    pooled = service_db.make_engine(get_settings().database_url)
    try:
        first = _backend_pid(pooled)
        with engine.connect() as admin:
            assert admin.execute(text("SELECT pg_terminate_backend(:p)"), {"p": first}).scalar()
        time.sleep(0.2)  # the server's goodbye reaches the idle socket
        second = _backend_pid(pooled)  # no OperationalError: checked out alive
        assert second != first
        assert _backend_pid(pooled) == second  # and kept: a fresh one is not pinged again
    finally:
        pooled.dispose()


def test_a_connection_idle_past_the_ping_threshold_is_pinged(engine, monkeypatch):
    pooled = service_db.make_engine(get_settings().database_url)
    pings = []
    monkeypatch.setattr(
        pooled.dialect, "do_ping", lambda conn: pings.append(conn) or True, raising=False
    )
    try:
        _backend_pid(pooled)
        _backend_pid(pooled)
        assert pings == []  # reused at once: no round trip before the statement
        monkeypatch.setattr(service_db, "PING_AFTER_IDLE_S", -1.0)
        _backend_pid(pooled)
        assert len(pings) == 1
    finally:
        pooled.dispose()
