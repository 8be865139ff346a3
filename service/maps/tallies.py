"""Counting incidents from the tallies the triggers keep current (``service/maps/models.py``):
rows shaped as the daily rollup's, and exact totals when the tallies can give them. Every
count is of exactly the incidents the items of the same filters list, whatever the window.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import replace
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import text
from sqlalchemy.orm import Session

from service.event.filters import EventFilters, TimeRange, category_conditions, where
from service.maps.view import IncidentView

# ---- the daily rollup, and the partial days at a window's edges ----

# The rollup's key and figures: every source of counted rows below yields these columns.
_ROW_COLUMNS = (
    "day, province_pcode, status, ceasefire_status, guarantors,"
    " incidents, killed, injured, civilians_killed"
)


def _rollup_answers(filters: EventFilters) -> bool:
    """Whether the rollup's key holds every filter (the time aside): then whole local days
    are read from it and only partial days are counted from incidents."""
    return (
        filters.bbox is None
        and filters.violation_types is None
        and filters.party is None
        and filters.reporter_key_id is None
    )


def _rollup_where(
    filters: EventFilters, days: tuple[dt.date | None, dt.date | None], alias: str = "c"
) -> tuple[str, dict]:
    """Conditions on the rollup for the filters (all of which it answers) over the local
    days ``[first, end)``."""
    first, end = days
    conditions, params = category_conditions(
        filters, alias, prefix="r", guarantors_column="guarantors"
    )
    if first is not None:
        conditions.append(f"{alias}.day >= :r_first")
        params["r_first"] = first
    if end is not None:
        conditions.append(f"{alias}.day < :r_end")
        params["r_end"] = end
    return " AND ".join(conditions), params


def _live_rows(condition: str, times: TimeRange, key: str) -> tuple[str, dict[str, Any]]:
    """Rows shaped as the rollup's, counted from the incidents matching ``condition`` in
    ``times``. A range shorter than a day with a province (or none) is one index range scan
    (ix_incidents_province_occurred_at, ix_incidents_occurred_at_id)."""
    conditions = [condition]
    params: dict[str, Any] = {}
    if times.since is not None:
        conditions.append(f"i.occurred_at >= :{key}_since")
        params[f"{key}_since"] = times.since
    if times.until is not None:
        conditions.append(f"i.occurred_at < :{key}_until")
        params[f"{key}_until"] = times.until
    sql = f"""
        SELECT CAST(i.occurred_at AT TIME ZONE CAST(:s_tz AS text) AS date) AS day,
               i.province_pcode, i.status, i.ceasefire_status,
               i.responsible_guarantors AS guarantors,
               count(*) AS incidents, sum(i.killed) AS killed, sum(i.injured) AS injured,
               sum(i.civilians_killed) AS civilians_killed
        FROM incidents i
        WHERE {" AND ".join(conditions)}
        GROUP BY 1, 2, 3, 4, 5
    """
    return sql, params


def counted_rows(
    filters: EventFilters, timezone: ZoneInfo, view: IncidentView | None = None
) -> tuple[str, dict[str, Any]]:
    """A SELECT of rows with the rollup's columns (``_ROW_COLUMNS``) summing to exactly the
    incidents that ``filters`` (already restricted to the view) match: what the items of
    the same filters list, whatever the window.

    When the rollup holds every filter, the whole local days inside the window are read
    from it (its cost grows with days, not incidents) and the partial days at the window's
    edges (a ``Z`` window, a window starting at 06:15) are counted from incidents, each edge
    shorter than a day. Otherwise (a box, a violation type, a party), every row is counted
    from incidents, as the items are found. ``view`` tests a box on what the view shows
    (the public's cell centres); without it, on exact positions.
    """
    times = TimeRange(filters.since, filters.until)
    params: dict[str, Any] = {"s_tz": str(timezone)}
    if not _rollup_answers(filters):
        condition, where_params = (view.where if view is not None else where)(filters, "i")
        sql, live_params = _live_rows(condition, TimeRange(), "s_all")
        return sql, {**params, **where_params, **live_params}
    whole, edges = times.whole_local_days(timezone)
    parts = []
    if whole is not None:
        days = (
            None if whole.since is None else whole.since.astimezone(timezone).date(),
            None if whole.until is None else whole.until.astimezone(timezone).date(),
        )
        condition, rollup_params = _rollup_where(filters, days)
        parts.append(f"SELECT {_ROW_COLUMNS} FROM incident_daily_counts c WHERE {condition}")
        params.update(rollup_params)
    if edges:
        untimed = replace(filters, since=None, until=None)
        condition, where_params = (view.where if view is not None else where)(untimed, "i")
        params.update(where_params)
        for k, edge in enumerate(edges):
            sql, live_params = _live_rows(condition, edge, f"s_edge{k}")
            parts.append(sql)
            params.update(live_params)
    return " UNION ALL ".join(f"({part})" for part in parts), params


def count_matching(*, session: Session, filters: EventFilters, timezone: ZoneInfo) -> int | None:
    """How many incidents match, when the tallies can say it exactly (partial days at the
    window's edges counted from incidents); otherwise None (counting a filtered scan would
    cost as much as the page itself, or more)."""
    if not _rollup_answers(filters):
        return None
    if (
        filters.provinces is None
        and filters.ceasefire_statuses is None
        and filters.guarantor is None
        and filters.since is None
        and filters.until is None
    ):
        return session.execute(
            text(
                "SELECT coalesce(sum(incidents), 0) FROM incident_totals"
                " WHERE CAST(:statuses AS text[]) IS NULL OR status = ANY(:statuses)"
            ),
            {"statuses": list(filters.statuses) if filters.statuses is not None else None},
        ).scalar_one()
    rows, params = counted_rows(filters, timezone)
    return session.execute(
        text(f"SELECT coalesce(sum(r.incidents), 0) FROM ({rows}) r"), params
    ).scalar_one()
