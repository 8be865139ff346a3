"""What a caller may see of incidents: the public view or the full one.

The public (no key, or a reporter's key) sees verified incidents only, each at the centre of
a fixed grid cell (never random jitter, which averages out over repeated looks) and on its
local day. Every filter the public sends is applied to those generalised values, so no
combination of boxes and time ranges narrows an incident down further than one cell and one
day: the public's time of an incident is the instant its local day begins, so a window
selects the incidents of the local days whose start (local midnight) lies in it. A window
of dates selects those days; a ``Z`` window of March in UTC selects, in Damascus, 2 March to
1 April; adjacent windows never select a day twice; an instant selects nothing unless it is
a local midnight. Items and aggregates apply the same rule, so they count the same. Monitors, verifiers and admins see every status, the exact point and the exact time.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, replace
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Date, Float, FromClause, Text, bindparam, cast, func, literal_column
from sqlalchemy.dialects import postgresql
from sqlalchemy.sql.elements import ColumnElement

from service.auth.models import Role
from service.auth.service import Principal
from service.errors import Forbidden
from service.event.filters import EventFilters, TimeRange, conditions
from service.event.terms import IncidentStatus
from service.incident.models import Incident

FULL_VIEW_ROLES = frozenset({Role.monitor, Role.verifier, Role.admin})
PUBLIC_STATUSES = (IncidentStatus.verified.value,)
ALL_STATUSES = tuple(s.value for s in IncidentStatus)
# Statuses counted as incidents by aggregates: a merged incident is counted in its survivor,
# a rejected one is not an incident.
COUNTED_STATUSES = (
    IncidentStatus.unverified.value,
    IncidentStatus.verified.value,
    IncidentStatus.disputed.value,
)


@dataclass(frozen=True)
class IncidentView:
    public: bool
    cell: float  # degrees: the public grid
    timezone: ZoneInfo  # the theatre's: public times are its local days

    @classmethod
    def for_principal(
        cls, principal: Principal | None, *, cell: float, timezone: ZoneInfo
    ) -> IncidentView:
        public = principal is None or principal.role not in FULL_VIEW_ROLES
        return cls(public=public, cell=cell, timezone=timezone)

    @property
    def name(self) -> str:
        return f"public:{self.cell!r}" if self.public else "full"

    # ---- Core expressions over the incidents table (or an alias of it) ----

    def cell_index(self, table: FromClause) -> tuple[ColumnElement[float], ColumnElement[float]]:
        """Integer column and row of the public cell holding each incident."""
        return (
            func.floor(divided(func.ST_X(table.c.geom), self.cell), type_=Float),
            func.floor(divided(func.ST_Y(table.c.geom), self.cell), type_=Float),
        )

    def geom(self, table: FromClause) -> ColumnElement[Any]:
        """The geometry this view shows: exact, or the centre of the public cell."""
        if not self.public:
            return table.c.geom
        c = number(self.cell)
        col, row = self.cell_index(table)
        half = number(0.5)
        return func.ST_SetSRID(
            func.ST_MakePoint((col + half) * c, (row + half) * c), literal_column("4326")
        )

    def local_day(self, table: FromClause) -> ColumnElement[Any]:
        """The local day (the theatre's) of each incident."""
        return cast(local_time(table.c.occurred_at, self.timezone), Date)

    # ---- the same as SQL text, for hand-written fragments (values written in) ----

    def geom_sql(self, alias: str) -> str:
        return _fragment(self, "geom", alias)

    def local_day_sql(self, alias: str) -> str:
        return _fragment(self, "local_day", alias)

    # ---- filters ----

    def statuses(self, asked: tuple[str, ...] | None, *, default: tuple[str, ...]) -> tuple:
        if not self.public:
            return asked if asked is not None else default
        if asked is not None and set(asked) - set(PUBLIC_STATUSES):
            raise Forbidden(
                "status: without a monitor, verifier or admin key only verified incidents are shown"
            )
        return PUBLIC_STATUSES

    def restrict(
        self, filters: EventFilters, *, default_statuses: tuple[str, ...] = ALL_STATUSES
    ) -> EventFilters:
        """The filters as this view applies them: the public's statuses, and its times
        moved to whole local days (the bbox is tested on generalised points by ``conditions``)."""
        statuses = self.statuses(filters.statuses, default=default_statuses)
        if not self.public:
            return replace(filters, statuses=statuses)
        rounded = TimeRange(filters.since, filters.until).ceil_to_local_days(self.timezone)
        return replace(filters, statuses=statuses, since=rounded.since, until=rounded.until)

    def conditions(self, filters: EventFilters, table: FromClause) -> ColumnElement[bool]:
        """The condition for filters already passed through ``restrict``."""
        if filters.statuses is not None and set(ALL_STATUSES) <= set(filters.statuses):
            filters = replace(filters, statuses=None)  # every status: no condition needed
        if not self.public:
            return conditions(filters, table)
        # A cell centre lies at most one cell from its incident, whichever direction.
        return conditions(filters, table, shown_geom=self.geom(table), margin=self.cell)


@functools.lru_cache(maxsize=64)
def _fragment(view: IncidentView, kind: str, alias: str) -> str:
    """One of the view's Core expressions over incidents aliased ``alias``, as SQL text with
    its values written in: the text of ``geom`` or ``local_day`` that a hand-written
    fragment (ogc's GeoJSON, a tile's properties) splices in."""
    table = Incident.__table__.alias(alias)
    expression = view.geom(table) if kind == "geom" else view.local_day(table)
    compiled = expression.compile(dialect=_DIALECT, compile_kwargs={"literal_binds": True})
    return str(compiled)


_DIALECT = postgresql.dialect()


def number(value: float) -> ColumnElement[float]:
    """A constant of the deployment (a grid's size, a factor), written into the statement:
    the statement stays one per grid, and reads as the planner's estimates were measured."""
    return literal_column(repr(value), Float)


def divided(value: ColumnElement[Any], by: float) -> ColumnElement[float]:
    """``value / by`` as PostgreSQL divides floats (Core's ``/`` would cast the divisor)."""
    return value.op("/", precedence=8, return_type=Float)(number(by))


def cell_square(
    ci: ColumnElement[Any], cj: ColumnElement[Any], size: ColumnElement[float]
) -> ColumnElement[Any]:
    """The square cell of side ``size`` (degrees) with integer keys ``ci``, ``cj``."""
    one = literal_column("1")
    return func.ST_MakeEnvelope(
        ci * size, cj * size, (ci + one) * size, (cj + one) * size, literal_column("4326")
    )


def local_time(at: ColumnElement[Any], timezone: ZoneInfo) -> ColumnElement[Any]:
    """``at`` as the wall-clock time of ``timezone`` (the zone's name bound as a parameter)."""
    return at.op("AT TIME ZONE")(cast(bindparam("v_tz", str(timezone)), Text))
