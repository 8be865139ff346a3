"""The box that holds some geometries: a collection's spatial extent, a map's bounds."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Float, func, select
from sqlalchemy.orm import Session
from sqlalchemy.sql.elements import ColumnElement

from service.theatre.models import Theatre

THEATRES = Theatre.__table__


def extent(
    session: Session, geom: ColumnElement[Any], *where: ColumnElement[bool]
) -> tuple[float, float, float, float] | None:
    """``(min_lon, min_lat, max_lon, max_lat)`` of ``geom`` over the rows ``where`` picks
    (None when there are none)."""
    box = select(func.ST_Extent(geom).label("b")).where(*where).subquery("t").c.b
    row = session.execute(
        select(*(getattr(func, f"ST_{edge}")(box, type_=Float) for edge in _EDGES))
    ).one()
    return None if row[0] is None else tuple(row)


_EDGES = ("XMin", "YMin", "XMax", "YMax")
