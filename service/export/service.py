"""The rows of an export: one statement, read through a server-side cursor in chunks.

One statement sees one snapshot, so an export of a million incidents is consistent however
long it streams (keyset pages would each see the data as it is when they run), and the
worker holds one chunk at a time: memory stays flat. Rows come in the view's keyset order
(``service.event.paging``): the full view's latest occurrence first, as ``/v1/incidents``;
the public's by id, as its OGC pages, so an export's order tells nothing of the exact time.
Each FETCH is its own statement (the statement timeout applies to each chunk, not to the
whole export), and the cursor is planned for a fast start (an index walk in that order).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from sqlalchemy import LargeBinary, Select, func, literal_column, select
from sqlalchemy.orm import Session
from sqlalchemy.sql.elements import ColumnElement

from service.config import get_settings
from service.event.filters import EventFilters
from service.event.paging import Keyset, Kind
from service.event.reads import event_joins
from service.event.statements import cached, compiled, shape, values
from service.event.terms import IncidentStatus
from service.export.columns import ExportColumn, columns_for, rounded
from service.incident.models import Incident
from service.maps.view import IncidentView

INCIDENTS = Incident.__table__.alias("i")
FULL_ORDER = Keyset(("occurred_at", "id"), (Kind.time, Kind.uuid))
PUBLIC_ORDER = Keyset(("id",), (Kind.uuid,))
# As ``/v1/incidents``: without a status filter, every status but merged (a merged
# incident's reports count in its survivor). The public's are verified only.
DEFAULT_STATUSES = tuple(s.value for s in IncidentStatus if s is not IncidentStatus.merged)
# The GeoPackage binary header of a point without envelope in EPSG:4326: magic "GP",
# version 0, flags 1 (little-endian, no envelope, not empty), srs_id 4326 little-endian;
# the standard WKB follows (GeoPackage 1.3, 2.1.3).
GPKG_POINT_HEADER = "47500001e6100000"


@dataclass(frozen=True)
class Export:
    """What one export reads: the view's columns and the statement's values."""

    view: IncidentView
    columns: tuple[ExportColumn, ...]
    statement: Select
    params: dict[str, Any]


def order_of(view: IncidentView) -> Keyset:
    return PUBLIC_ORDER if view.public else FULL_ORDER


def restrict(view: IncidentView, filters: EventFilters) -> EventFilters:
    """The filters as the view applies them (the public's statuses and local days)."""
    return view.restrict(filters, default_statuses=DEFAULT_STATUSES)


def _gpkg_geometry(view: IncidentView) -> ColumnElement[bytes]:
    """The view's point (rounded as the latitude and longitude columns are) as GeoPackage
    binary, NULL for an incident without a point."""
    shown = view.geom(INCIDENTS)
    point = func.ST_MakePoint(rounded(func.ST_X(shown)), rounded(func.ST_Y(shown)))
    header = literal_column(f"'\\x{GPKG_POINT_HEADER}'::bytea", LargeBinary)
    return header.op("||", return_type=LargeBinary)(
        func.ST_AsBinary(point, literal_column("'NDR'"), type_=LargeBinary)
    )


def prepare(*, view: IncidentView, filters: EventFilters, geometry: bool) -> Export:
    """The export of ``filters`` (already passed through ``restrict``) as ``view`` shows
    them: every column as text, and the GeoPackage geometry last when ``geometry``."""
    columns = columns_for(view)
    condition = view.conditions(filters, INCIDENTS)

    def build() -> Select:
        i = INCIDENTS
        selected = [c.value(view, i).label(c.name) for c in columns]
        if geometry:
            selected.append(_gpkg_geometry(view).label("gpkg_geom"))
        return (
            select(*selected)
            .select_from(event_joins(i))
            .where(condition)
            .order_by(*order_of(view).order_by(i))
        )

    statement = cached(("export", view, geometry, shape(condition)), build)
    params = {**values(condition), "v_tz": str(view.timezone)}
    return Export(view=view, columns=columns, statement=statement, params=params)


def chunks(session: Session, export: Export) -> Iterator[list[tuple]]:
    """The export's rows, ``export_chunk_rows`` at a time, through a server-side cursor of
    the session's transaction (closed when the iterator is closed or exhausted)."""
    rows = get_settings().export_chunk_rows
    connection = session.connection()
    sql = compiled(export.statement, connection.dialect)
    dbapi: Any = connection.connection.dbapi_connection
    with dbapi.cursor(name=f"export_{uuid.uuid4().hex}") as cursor:
        cursor.execute(str(sql), sql.construct_params(export.params))
        while batch := cursor.fetchmany(rows):
            yield batch
