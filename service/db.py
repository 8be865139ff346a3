"""Engine, session factory, declarative base and the request session dependency."""

from __future__ import annotations

import datetime as dt
import json
import select
import time
import uuid
from collections.abc import AsyncIterator
from functools import lru_cache
from typing import Annotated

import anyio.to_thread
import orjson
import psycopg
import psycopg.types.json
from fastapi import Depends
from sqlalchemy import DateTime, Engine, MetaData, create_engine, event, exc, func
from sqlalchemy.orm import DeclarativeBase, Session, mapped_column, sessionmaker

from service.config import get_settings

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def _json_loads(data: bytes | str):  # noqa: ANN202 - whatever the JSON holds
    """JSON read from the database: orjson (several times faster than the standard library on
    the reports' sources, correlations and snapshots, which every batch reads back), the
    standard library for what orjson refuses (integers beyond 64 bits)."""
    try:
        return orjson.loads(data)
    except orjson.JSONDecodeError:
        return json.loads(data)


# Every connection of the process, whichever engine made it (the service's, a bench's).
psycopg.types.json.set_json_loads(_json_loads)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


# Column declarations the tables share, as ``Mapped[...]`` types: a random UUID primary
# key, and a timestamp the database sets when the row is inserted.
UuidKey = Annotated[uuid.UUID, mapped_column(primary_key=True, default=uuid.uuid4)]
TimestampNow = Annotated[
    dt.datetime, mapped_column(DateTime(timezone=True), server_default=func.now())
]


# A connection idle in the pool longer than this is pinged (a round trip) before it is used.
PING_AFTER_IDLE_S = 10.0


def _ready_to_read(dbapi_connection) -> bool:  # noqa: ANN001
    """Whether the server sent anything to an idle connection: after a restart or a
    termination, its FATAL message and the end of the stream. Costs no round trip."""
    if dbapi_connection.closed or dbapi_connection.broken:
        return True
    try:
        readable, _, _ = select.select([dbapi_connection.pgconn.socket], [], [], 0)
    except (OSError, ValueError, psycopg.OperationalError):
        return True
    return bool(readable)


def check_liveness(engine: Engine) -> None:
    """A database restart must not need an application restart: what ``pool_pre_ping``
    did, without its round trip on every checkout (a tenth of a single map item's time).

    A connection is pinged when it sat idle longer than ``PING_AFTER_IDLE_S`` or when the
    server wrote to it while idle (a restart, ``pg_terminate_backend``); a failed ping
    discards every pooled connection older than now, as pre-ping does. A busy connection
    that went away between checks fails its statement once, with the same invalidation.
    """

    @event.listens_for(engine, "connect")
    @event.listens_for(engine, "checkin")
    def _seen(dbapi_connection, record, *_) -> None:  # noqa: ANN001
        record.info["idle_since"] = time.monotonic()

    @event.listens_for(engine, "checkout")
    def _alive(dbapi_connection, record, proxy) -> None:  # noqa: ANN001
        idle_since = record.info.get("idle_since", 0.0)
        if time.monotonic() - idle_since <= PING_AFTER_IDLE_S and not _ready_to_read(
            dbapi_connection
        ):
            return
        try:
            engine.dialect.do_ping(dbapi_connection)
        except psycopg.Error as err:
            if engine.dialect.is_disconnect(err, dbapi_connection, None):
                raise exc.InvalidatePoolError() from err
            raise


def connect_args(*, pooled: bool, application_name: str = "ceasefire") -> dict[str, object]:
    """psycopg's connection arguments. Through a transaction-mode pooler (``db_pooled``)
    a connection's statements may reach a different server connection each transaction:
    no auto-prepared statements (a name prepared on one server connection is unknown on
    the next), and no ``options`` startup parameter (PgBouncer refuses the connection)."""
    settings = get_settings()
    args: dict[str, object] = {
        "connect_timeout": settings.db_connect_timeout_s,
        "application_name": application_name,
    }
    if pooled:
        args["prepare_threshold"] = None
    else:
        args["options"] = f"-c statement_timeout={settings.db_statement_timeout_ms}"
    return args


def make_engine(
    url: str | None = None, *, pooled: bool | None = None, application_name: str = "ceasefire"
) -> Engine:
    """An engine for ``url`` (the primary by default); ``pooled`` defaults to the
    ``db_pooled`` setting, which describes the primary's URL."""
    settings = get_settings()
    engine = create_engine(
        url or settings.database_url,
        # Errors and their tracebacks show the SQL but never the bound values (coordinates,
        # names, descriptions a client sent).
        hide_parameters=True,
        pool_size=settings.db_pool_size,
        max_overflow=settings.db_max_overflow,
        pool_timeout=settings.db_pool_timeout_s,
        connect_args=connect_args(
            pooled=settings.db_pooled if pooled is None else pooled,
            application_name=application_name,
        ),
    )
    check_liveness(engine)
    event.listen(engine, "checkin", _restore_preparing)
    return engine


@lru_cache
def get_engine() -> Engine:
    return make_engine()


@lru_cache
def get_sessionmaker() -> sessionmaker[Session]:
    return sessionmaker(bind=get_engine(), expire_on_commit=False)


def read_without_transaction(session: Session) -> None:
    """Run this session's statements each in its own implicit transaction (autocommit), for
    a request that only reads, each statement planned for its own parameters.

    A map request's reads need no transaction: each statement of a transaction at READ
    COMMITTED sees its own snapshot anyway. Without one there is no ``BEGIN`` before the
    first statement and no ``ROLLBACK`` when the session closes: two of a single map item's
    four round trips, and on a busy machine each round trip waits for PostgreSQL's process to
    be scheduled (py-spy, bench/overhead.py: the rollback was a quarter of a W7 request's
    time in worker threads, the data state's read with its ``BEGIN`` 38%). psycopg's
    automatic preparing is off for the request (restored when the connection goes back to
    the pool): a prepared statement may get a generic plan, and the cost of a map query
    depends on its box, dates and tile; an unprepared one is planned for its values.

    Nothing changes for a session that has begun a transaction or is bound to a connection
    (tests roll each test back in one): its reads stay in that transaction.
    """
    if session.in_transaction() or not isinstance(session.bind, Engine):
        return
    connection = session.connection(execution_options={"isolation_level": "AUTOCOMMIT"})
    raw = connection.connection
    raw.info.setdefault("prepare_threshold", raw.dbapi_connection.prepare_threshold)
    raw.dbapi_connection.prepare_threshold = None
    session.info["autocommit"] = True


def _restore_preparing(dbapi_connection, record) -> None:  # noqa: ANN001
    if "prepare_threshold" in record.info:
        dbapi_connection.prepare_threshold = record.info.pop("prepare_threshold")


def closes_without_io(session: Session) -> bool:
    """Closing sends nothing to the server: the session never began a transaction, or read
    without one (``read_without_transaction``: its connection is idle, so the rollback on
    close and the pool's reset are no-ops in psycopg)."""
    return not session.in_transaction() or bool(session.info.get("autocommit"))


async def get_session() -> AsyncIterator[Session]:
    """A request's session. Opened on the event loop (no I/O until its first statement),
    closed on a worker thread when closing is a round trip (a rollback), else on the event
    loop: a thread hop fewer than a synchronous generator, whose opening FastAPI also sends
    to a thread, and two fewer for a request that read without a transaction."""
    session = get_sessionmaker()()
    try:
        yield session
    finally:
        if closes_without_io(session):
            session.close()
        else:
            # Shielded: a request cancelled because its client left (an export streamed
            # halfway) must still roll back and return its connection, or the connection
            # stays "idle in transaction" until it is collected.
            with anyio.CancelScope(shield=True):
                await anyio.to_thread.run_sync(session.close)


SessionDep = Annotated[Session, Depends(get_session)]


# Tables PostGIS creates itself are not ours to diff or migrate.
_POSTGIS_TABLES = {"spatial_ref_sys", "topology", "layer"}


def include_in_migrations(obj, name, obj_type, reflected, compare_to) -> bool:  # noqa: ANN001
    """Alembic filter: our tables only, with GeoAlchemy2's handling of spatial indexes."""
    from geoalchemy2 import alembic_helpers

    if obj_type == "table" and name in _POSTGIS_TABLES:
        return False
    return alembic_helpers.include_object(obj, name, obj_type, reflected, compare_to)
