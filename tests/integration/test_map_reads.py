"""A map request reads without a transaction (``service.db.read_without_transaction``): no
``BEGIN`` before its first statement, no ``ROLLBACK`` when it closes, statements planned for
their own values; and the pooled connection goes back as it came."""

import psycopg
from psycopg.pq import TransactionStatus
from sqlalchemy import text
from sqlalchemy.orm import Session

from service import db as service_db
from service.config import get_settings
from service.maps.state import data_state


def test_reads_run_outside_a_transaction_and_close_without_a_round_trip(engine):
    pooled = service_db.make_engine(get_settings().database_url)
    try:
        session = Session(pooled)
        service_db.read_without_transaction(session)
        raw = session.connection().connection.dbapi_connection
        assert isinstance(raw, psycopg.Connection)
        assert raw.autocommit is True
        assert raw.prepare_threshold is None  # each statement planned for its values
        for _ in range(7):  # past psycopg's threshold: still never prepared
            state = data_state(session=session)
        assert state.version("incidents")
        assert raw.info.transaction_status == TransactionStatus.IDLE  # no BEGIN was sent
        assert service_db._closes_without_io(session)
        session.close()
        # Back in the pool as it came: the next user begins transactions and prepares.
        with Session(pooled) as other:
            other.execute(text("SELECT 1"))
            again = other.connection().connection.dbapi_connection
            assert again is raw
            assert again.autocommit is False
            assert again.prepare_threshold == 5
            assert again.info.transaction_status == TransactionStatus.INTRANS
    finally:
        pooled.dispose()


def test_a_session_already_in_a_transaction_keeps_it(engine):
    pooled = service_db.make_engine(get_settings().database_url)
    try:
        with Session(pooled) as session:
            session.execute(text("SELECT 1"))
            service_db.read_without_transaction(session)
            raw = session.connection().connection.dbapi_connection
            assert raw.autocommit is False
            assert raw.info.transaction_status == TransactionStatus.INTRANS
            assert not service_db._closes_without_io(session)
    finally:
        pooled.dispose()


def test_a_session_bound_to_a_connection_keeps_its_transaction(db):
    # Tests roll each test back in one transaction: map reads stay inside it.
    service_db.read_without_transaction(db)
    assert not db.info.get("autocommit")
    assert db.connection().connection.dbapi_connection.autocommit is False
