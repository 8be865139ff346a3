"""Engine, session factory, declarative base and the request session dependency."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Iterator
from functools import lru_cache
from typing import Annotated

from fastapi import Depends
from sqlalchemy import DateTime, Engine, MetaData, create_engine, func
from sqlalchemy.orm import DeclarativeBase, Session, mapped_column, sessionmaker

from service.config import get_settings

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


# Column declarations the tables share, as ``Mapped[...]`` types: a random UUID primary
# key, and a timestamp the database sets when the row is inserted.
UuidKey = Annotated[uuid.UUID, mapped_column(primary_key=True, default=uuid.uuid4)]
TimestampNow = Annotated[
    dt.datetime, mapped_column(DateTime(timezone=True), server_default=func.now())
]


def make_engine(url: str | None = None) -> Engine:
    settings = get_settings()
    return create_engine(
        url or settings.database_url,
        # A database restart must not need an application restart.
        pool_pre_ping=True,
        # Errors and their tracebacks show the SQL but never the bound values (coordinates,
        # names, descriptions a client sent).
        hide_parameters=True,
        pool_size=settings.db_pool_size,
        max_overflow=settings.db_max_overflow,
        pool_timeout=settings.db_pool_timeout_s,
        connect_args={
            "connect_timeout": settings.db_connect_timeout_s,
            "options": f"-c statement_timeout={settings.db_statement_timeout_ms}",
            "application_name": "ceasefire",
        },
    )


@lru_cache
def get_engine() -> Engine:
    return make_engine()


@lru_cache
def get_sessionmaker() -> sessionmaker[Session]:
    return sessionmaker(bind=get_engine(), expire_on_commit=False)


def get_session() -> Iterator[Session]:
    with get_sessionmaker()() as session:
        yield session


SessionDep = Annotated[Session, Depends(get_session)]


# Tables PostGIS creates itself are not ours to diff or migrate.
_POSTGIS_TABLES = {"spatial_ref_sys", "topology", "layer"}


def include_in_migrations(obj, name, obj_type, reflected, compare_to) -> bool:  # noqa: ANN001
    """Alembic filter: our tables only, with GeoAlchemy2's handling of spatial indexes."""
    from geoalchemy2 import alembic_helpers

    if obj_type == "table" and name in _POSTGIS_TABLES:
        return False
    return alembic_helpers.include_object(obj, name, obj_type, reflected, compare_to)
