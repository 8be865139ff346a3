"""Counting incidents from the tallies the triggers keep current (``service/maps/models.py``):
rows shaped as the daily rollup's, and exact totals when the tallies can give them. Every
count is of exactly the incidents the items of the same filters list, whatever the window.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, replace
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import (
    CompoundSelect,
    Date,
    Executable,
    Select,
    String,
    and_,
    any_,
    cast,
    func,
    literal_column,
    select,
    true,
    union_all,
)
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.sql.elements import ColumnElement

from service.event.filters import EventFilters, TimeRange, bind, category_conditions, conditions
from service.event.statements import cached, shape, values
from service.incident.models import Incident
from service.maps.models import DAILY_NOW, TOTALS_NOW
from service.maps.view import IncidentView, local_time

# ---- the daily rollup, and the partial days at a window's edges ----

INCIDENTS = Incident.__table__.alias("i")
# The rollups with the deltas not yet folded in (exact whether or not the job has run).
DAILY = DAILY_NOW.alias("c")
TOTALS = TOTALS_NOW


def _rollup_answers(filters: EventFilters) -> bool:
    """Whether the rollup's key holds every filter (the time aside): then whole local days
    are read from it and only partial days are counted from incidents."""
    return (
        filters.bbox is None
        and filters.violation_types is None
        and filters.party is None
        and filters.reporter_key_id is None
    )


def _rollup_condition(
    filters: EventFilters, days: tuple[dt.date | None, dt.date | None]
) -> ColumnElement[bool]:
    """The rollup's rows for the filters (all of which it answers) over the local days
    ``[first, end)``."""
    first, end = days
    c = DAILY.c
    found = category_conditions(
        filters,
        province=c.province_pcode,
        status=c.status,
        ceasefire_status=c.ceasefire_status,
        guarantors=c.guarantors,
        confidence_band=c.confidence_band,
    )
    if first is not None:
        found.append(c.day >= bind("r_first", first))
    if end is not None:
        found.append(c.day < bind("r_end", end))
    return and_(true(), *found)


def _rollup_rows(condition: ColumnElement[bool]) -> Select:
    c = DAILY.c
    return select(
        c.day,
        c.province_pcode,
        c.status,
        c.ceasefire_status,
        c.guarantors,
        c.incidents,
        c.killed,
        c.injured,
        c.civilians_killed,
    ).where(condition)


def _in_times(condition: ColumnElement[bool], times: TimeRange, name: str) -> ColumnElement[bool]:
    """``condition`` and an occurrence in ``times``, its ends bound as ``{name}_since`` and
    ``{name}_until``. A range shorter than a day with a province (or none) is one index
    range scan (ix_incidents_province_occurred_at, ix_incidents_occurred_at_id)."""
    i = INCIDENTS.c
    found = [condition]
    if times.since is not None:
        found.append(i.occurred_at >= bind(f"{name}_since", times.since))
    if times.until is not None:
        found.append(i.occurred_at < bind(f"{name}_until", times.until))
    return and_(*found)


def _live_rows(condition: ColumnElement[bool], timezone: ZoneInfo) -> Select:
    """Rows shaped as the rollup's, counted from the incidents matching ``condition``."""
    i = INCIDENTS.c
    return (
        select(
            cast(local_time(i.occurred_at, timezone), Date).label("day"),
            i.province_pcode,
            i.status,
            i.ceasefire_status,
            i.responsible_guarantors.label("guarantors"),
            func.count().label("incidents"),
            func.sum(i.killed).label("killed"),
            func.sum(i.injured).label("injured"),
            func.sum(i.civilians_killed).label("civilians_killed"),
        )
        .where(condition)
        .group_by(*GROUP_BY_FIRST[:5])
    )


# ``GROUP BY 1, 2, ...``: a computed key is grouped by its place in the select list, as it
# is written once (with its parameters) there.
GROUP_BY_FIRST = tuple(literal_column(str(k)) for k in range(1, 6))


@dataclass(frozen=True)
class Counted:
    """Where counted rows come from: the rollup (its condition, or None) and incidents
    (one condition per part counted live)."""

    timezone: ZoneInfo
    rollup: ColumnElement[bool] | None
    live: tuple[ColumnElement[bool], ...]

    def key(self) -> tuple:
        """The shape of ``rows()``: the statements around it are built once per shape."""
        return (str(self.timezone), shape(self.rollup, *self.live))

    def values(self) -> dict[str, Any]:
        return values(self.rollup, *self.live)

    def rows(self) -> Select | CompoundSelect:
        """A SELECT of rows with the rollup's columns (day, province_pcode, status,
        ceasefire_status, guarantors, incidents, killed, injured, civilians_killed)."""
        parts = [] if self.rollup is None else [_rollup_rows(self.rollup)]
        parts += [_live_rows(condition, self.timezone) for condition in self.live]
        return parts[0] if len(parts) == 1 else union_all(*parts)


def counted_rows(
    filters: EventFilters, timezone: ZoneInfo, view: IncidentView | None = None
) -> Counted:
    """Rows summing to exactly the incidents that ``filters`` (already restricted to the
    view) match: what the items of the same filters list, whatever the window.

    When the rollup holds every filter, the whole local days inside the window are read
    from it (its cost grows with days, not incidents) and the partial days at the window's
    edges (a ``Z`` window, a window starting at 06:15) are counted from incidents, each edge
    shorter than a day. Otherwise (a box, a violation type, a party), every row is counted
    from incidents, as the items are found. ``view`` tests a box on what the view shows
    (the public's cell centres); without it, on exact positions.
    """

    def condition(of: EventFilters) -> ColumnElement[bool]:
        return view.conditions(of, INCIDENTS) if view is not None else conditions(of, INCIDENTS)

    times = TimeRange(filters.since, filters.until)
    if not _rollup_answers(filters):
        return Counted(timezone, None, (condition(filters),))
    whole, edges = times.whole_local_days(timezone)
    rollup = None
    if whole is not None:
        days = (
            None if whole.since is None else whole.since.astimezone(timezone).date(),
            None if whole.until is None else whole.until.astimezone(timezone).date(),
        )
        rollup = _rollup_condition(filters, days)
    untimed = condition(replace(filters, since=None, until=None)) if edges else None
    live = tuple(_in_times(untimed, edge, f"s_edge{k}") for k, edge in enumerate(edges))
    return Counted(timezone, rollup, live)


def _total(by_status: bool) -> Select:
    total = select(func.coalesce(func.sum(TOTALS.c.incidents), 0))
    if by_status:
        total = total.where(TOTALS.c.status == any_(bind("statuses", type_=ARRAY(String))))
    return total


def count_statement(
    filters: EventFilters, timezone: ZoneInfo
) -> tuple[Executable, dict[str, Any]] | None:
    """The statement (and its values) that counts exactly how many incidents match, when
    the tallies can say it (partial days at the window's edges counted from incidents);
    otherwise None (counting a filtered scan would cost as much as the page itself, or
    more). Built once per shape: building the statement anew cost more than running it."""
    if not _rollup_answers(filters):
        return None
    if (
        filters.provinces is None
        and filters.ceasefire_statuses is None
        and filters.guarantor is None
        and filters.confidences is None
        and filters.since is None
        and filters.until is None
    ):
        by_status = filters.statuses is not None
        statement = cached(("tallies.total", by_status), lambda: _total(by_status))
        values = {"statuses": list(filters.statuses)} if filters.statuses is not None else {}
        return statement, values
    counted = counted_rows(filters, timezone)

    def build() -> Select:
        rows = counted.rows().subquery("r")
        return select(func.coalesce(func.sum(rows.c.incidents), literal_column("0")))

    return cached(("tallies.count", counted.key()), build), counted.values()
