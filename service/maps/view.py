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

from dataclasses import dataclass, replace
from typing import Any
from zoneinfo import ZoneInfo

from service.auth.models import Role
from service.auth.service import Principal
from service.errors import Forbidden
from service.event.filters import EventFilters, TimeRange, where
from service.event.terms import IncidentStatus

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

    # ---- SQL expressions over an incidents alias ----

    def cell_index_sql(self, alias: str) -> tuple[str, str]:
        """Integer column and row of the public cell holding each incident."""
        c = repr(self.cell)
        return f"floor(ST_X({alias}.geom) / {c})", f"floor(ST_Y({alias}.geom) / {c})"

    def geom_sql(self, alias: str) -> str:
        """The geometry this view shows: exact, or the centre of the public cell."""
        if not self.public:
            return f"{alias}.geom"
        c = repr(self.cell)
        col, row = self.cell_index_sql(alias)
        return f"ST_SetSRID(ST_MakePoint(({col} + 0.5) * {c}, ({row} + 0.5) * {c}), 4326)"

    def local_day_sql(self, alias: str, tz_param: str = ":v_tz") -> str:
        return f"({alias}.occurred_at AT TIME ZONE CAST({tz_param} AS text))::date"

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
        moved to whole local days (the bbox is tested on generalised points by ``where``)."""
        statuses = self.statuses(filters.statuses, default=default_statuses)
        if not self.public:
            return replace(filters, statuses=statuses)
        rounded = TimeRange(filters.since, filters.until).ceil_to_local_days(self.timezone)
        return replace(filters, statuses=statuses, since=rounded.since, until=rounded.until)

    def where(self, filters: EventFilters, alias: str) -> tuple[str, dict[str, Any]]:
        """The SQL condition for filters already passed through ``restrict``."""
        if filters.statuses is not None and set(ALL_STATUSES) <= set(filters.statuses):
            filters = replace(filters, statuses=None)  # every status: no condition needed
        if not self.public:
            return where(filters, alias)
        # A cell centre lies at most one cell from its incident, whichever direction.
        return where(filters, alias, geom_sql=self.geom_sql(alias), geom_margin=self.cell)
