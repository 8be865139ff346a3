"""The digest's figures for a range of days, counted by PostgreSQL in three statements.

Every statement groups by day and *scope*: the whole theatre (``"*"``) and each governorate,
through GROUPING SETS, so a province-filtered digest is as complete as the full one. Windows
(``OVER``) give the trailing mean, the running total and the compliance window without a
query per day. Python only arranges the aggregate rows into the document.

Counting rules (also in the README):

- an incident belongs to the calendar day, in the theatre's time zone, on which it occurred;
- rejected and merged incidents count nowhere;
- ``violations`` are incidents classified ``violation``; hostilities involving excluded
  parties (``excluded``) and non-parties (``not_party``) are counted apart;
- casualties are summed over all counted incidents of the day.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal
from enum import StrEnum
from typing import Any

from sqlalchemy import text
from sqlalchemy.orm import Session

from service.event.terms import ConfidenceBand, ViolationType
from service.theatre.terms import Terms

ALL = "*"  # the scope of the whole theatre

COMPLIANCE_FORMULA = (
    "rate = violation_free_days / days, over the `window_days` days ending on this day"
    " (days before the ceasefire's first day are not counted); a violation-free day is one"
    " with no verified violation by a party the guarantor answers for"
)

FIGURES = (
    "incidents",
    "violations",
    "verified",
    "excluded",
    "not_party",
    "killed",
    "injured",
    "civilians_killed",
)

# Counts over rows that have the incident columns status, ceasefire_status and casualties.
_FIGURES_SQL = """
    count(*) AS incidents,
    count(*) FILTER (WHERE ceasefire_status = 'violation') AS violations,
    count(*) FILTER (WHERE ceasefire_status = 'violation' AND status = 'verified') AS verified,
    count(*) FILTER (WHERE ceasefire_status = 'excluded') AS excluded,
    count(*) FILTER (WHERE ceasefire_status = 'not_party') AS not_party,
    coalesce(sum(killed), 0) AS killed,
    coalesce(sum(injured), 0) AS injured,
    coalesce(sum(civilians_killed), 0) AS civilians_killed
"""
_COUNTED = "status NOT IN ('rejected', 'merged')"
# The public view of a digest counts what the public map shows: verified incidents only.
_PUBLIC_COUNTED = "status = 'verified'"


def _counted(public: bool) -> str:
    return _PUBLIC_COUNTED if public else _COUNTED


_SCOPE = "CASE WHEN GROUPING(province_pcode) = 1 THEN '*' ELSE province_pcode END"
_LOCAL_DAY = "CAST(occurred_at AT TIME ZONE :tz AS date)"
_SCOPES_CTE = """
    scopes AS (
        SELECT CAST('*' AS varchar) AS scope
        UNION ALL SELECT pcode FROM admin_areas WHERE level = 1
    )
"""


def _days_cte(first_param: str) -> str:
    return f"""
    days AS (
        SELECT CAST(d AS date) AS day
        FROM generate_series(CAST(:{first_param} AS date), CAST(:last AS date), interval '1 day') d
    )
    """


def _areas_sql(trailing_days: int, public: bool = False) -> str:
    """Per day and scope: the day's figures, the trailing mean of violations, the running
    totals, and the day of the last verified violation."""
    grid_figures = ", ".join(f"coalesce(c.{f}, 0) AS {f}" for f in FIGURES)
    running = ", ".join(
        f"coalesce(b.{f}, 0) + sum(g.{f}) OVER w_upto AS total_{f}" for f in FIGURES
    )
    return f"""
    WITH {_SCOPES_CTE}, {_days_cte("grid_first")},
    counted AS (
        SELECT {_LOCAL_DAY} AS day, province_pcode, status, ceasefire_status,
               killed, injured, civilians_killed
        FROM incidents
        WHERE occurred_at >= :grid_from AND occurred_at < :until AND {_counted(public)}
    ),
    counts AS (
        SELECT day, {_SCOPE} AS scope, {_FIGURES_SQL}
        FROM counted
        GROUP BY GROUPING SETS ((day, province_pcode), (day))
    ),
    -- Everything since the ceasefire's first day, up to the grid: the one scan whose cost
    -- grows with history. A plain GROUP BY (not GROUPING SETS) so it can run in parallel.
    before_by_province AS (
        SELECT province_pcode AS scope, {_FIGURES_SQL}
        FROM incidents
        WHERE occurred_at >= :ceasefire_from AND occurred_at < :grid_from AND {_counted(public)}
        GROUP BY province_pcode
    ),
    before AS (
        SELECT * FROM before_by_province
        UNION ALL
        SELECT '*', {", ".join(f"CAST(sum({f}) AS bigint)" for f in FIGURES)}
        FROM before_by_province
    ),
    last_before_by_province AS (
        SELECT p.pcode AS scope, (
            SELECT {_LOCAL_DAY} FROM incidents i
            WHERE i.province_pcode = p.pcode
              AND i.occurred_at >= :ceasefire_from AND i.occurred_at < :grid_from
              AND i.status = 'verified' AND i.ceasefire_status = 'violation'
            ORDER BY i.occurred_at DESC LIMIT 1
        ) AS day
        FROM admin_areas p WHERE p.level = 1
    ),
    last_before AS (
        SELECT scope, day FROM last_before_by_province
        UNION ALL SELECT '*', max(day) FROM last_before_by_province
    ),
    grid AS (
        SELECT d.day, s.scope, {grid_figures}
        FROM days d CROSS JOIN scopes s
        LEFT JOIN counts c ON c.day = d.day AND c.scope = s.scope
    ),
    rolled AS (
        SELECT g.*,
               avg(g.violations) OVER w_trail AS trailing_mean,
               count(*) OVER w_trail AS trailing_days,
               {running},
               greatest(lb.day, max(g.day) FILTER (WHERE g.verified > 0) OVER w_upto)
                   AS last_verified_day
        FROM grid g
        LEFT JOIN before b ON b.scope = g.scope
        LEFT JOIN last_before lb ON lb.scope = g.scope
        WINDOW w_trail AS (PARTITION BY g.scope ORDER BY g.day
                            ROWS BETWEEN {trailing_days:d} PRECEDING AND 1 PRECEDING),
               w_upto AS (PARTITION BY g.scope ORDER BY g.day ROWS UNBOUNDED PRECEDING)
    )
    SELECT * FROM rolled WHERE day >= :first ORDER BY day, scope
    """


def _guarantors_sql(compliance_days: int, public: bool = False) -> str:
    """Per day, scope and guarantor ('' for unattributed violations): the day's attributed
    violations and the compliance window's violation-free days."""
    return f"""
    WITH {_SCOPES_CTE}, {_days_cte("window_first")},
    guarantor_keys AS (
        SELECT CAST(id AS varchar) AS guarantor, name FROM guarantors
        UNION ALL SELECT '', NULL
    ),
    attributed AS (
        SELECT {_LOCAL_DAY} AS day, province_pcode, g.guarantor, status, killed
        FROM incidents
        CROSS JOIN LATERAL unnest(
            CASE WHEN cardinality(responsible_guarantors) = 0 THEN CAST(ARRAY[''] AS varchar[])
                 ELSE CAST(responsible_guarantors AS varchar[]) END) AS g(guarantor)
        WHERE occurred_at >= :window_from AND occurred_at < :until AND {_counted(public)}
          AND ceasefire_status = 'violation'
    ),
    counts AS (
        SELECT day, {_SCOPE} AS scope, guarantor,
               count(*) AS violations,
               count(*) FILTER (WHERE status = 'verified') AS verified,
               coalesce(sum(killed), 0) AS killed
        FROM attributed
        GROUP BY GROUPING SETS ((day, province_pcode, guarantor), (day, guarantor))
    ),
    grid AS (
        SELECT d.day, s.scope, k.guarantor, k.name,
               coalesce(c.violations, 0) AS violations,
               coalesce(c.verified, 0) AS verified,
               coalesce(c.killed, 0) AS killed
        FROM days d CROSS JOIN scopes s CROSS JOIN guarantor_keys k
        LEFT JOIN counts c ON c.day = d.day AND c.scope = s.scope AND c.guarantor = k.guarantor
    ),
    rolled AS (
        SELECT g.*,
               count(*) OVER w AS window_days,
               count(*) FILTER (WHERE g.verified = 0) OVER w AS violation_free_days,
               sum(g.violations) OVER w AS window_violations,
               sum(g.verified) OVER w AS window_verified
        FROM grid g
        WINDOW w AS (PARTITION BY g.scope, g.guarantor ORDER BY g.day
                     ROWS BETWEEN {compliance_days - 1:d} PRECEDING AND CURRENT ROW)
    )
    SELECT * FROM rolled WHERE day >= :first
    ORDER BY day, scope, guarantor = '', guarantor
    """


def _breakdowns_sql(hotspots: int, public: bool = False) -> str:
    """Per day and scope: figures by perpetrator party, by violation type, and the districts
    with the most violations (hotspots), from one scan of the days' incidents."""
    return f"""
    WITH counted AS (
        SELECT {_LOCAL_DAY} AS day, province_pcode, perpetrator_party_id, violation_type,
               confidence_band, district_pcode, status, ceasefire_status, killed, injured, civilians_killed
        FROM incidents
        WHERE occurred_at >= :first_from AND occurred_at < :until AND {_counted(public)}
    ),
    agg AS (
        SELECT day, {_SCOPE} AS scope,
               CASE WHEN GROUPING(perpetrator_party_id) = 0 THEN 'party'
                    WHEN GROUPING(violation_type) = 0 THEN 'type'
                    WHEN GROUPING(confidence_band) = 0 THEN 'confidence'
                    ELSE 'district' END AS kind,
               CAST(coalesce(perpetrator_party_id, violation_type, confidence_band,
                             district_pcode) AS varchar) AS key,
               {_FIGURES_SQL}
        FROM counted
        GROUP BY GROUPING SETS (
            (day, province_pcode, perpetrator_party_id), (day, perpetrator_party_id),
            (day, province_pcode, violation_type), (day, violation_type),
            (day, province_pcode, confidence_band), (day, confidence_band),
            (day, province_pcode, district_pcode), (day, district_pcode))
    ),
    ranked AS (
        SELECT a.*,
               row_number() OVER (PARTITION BY a.day, a.scope, a.kind
                                  ORDER BY a.violations DESC, a.incidents DESC, a.key) AS rank
        FROM agg a
        WHERE a.kind <> 'district' OR (a.key IS NOT NULL AND a.violations > 0)
    )
    SELECT r.*, p.name AS party_name, d.name_en AS district_name, d.parent_pcode
    FROM ranked r
    LEFT JOIN parties p ON r.kind = 'party' AND p.id = r.key
    LEFT JOIN admin_areas d ON r.kind = 'district' AND d.pcode = r.key
    WHERE r.kind <> 'district' OR r.rank <= {hotspots:d}
    ORDER BY r.day, r.scope, r.kind, r.rank
    """


@dataclass(frozen=True)
class DigestSettings:
    trailing_days: int = 7
    compliance_days: int = 30
    hotspots: int = 5


def day_window(terms: Terms, day: dt.date) -> tuple[dt.datetime, dt.datetime]:
    """The instants (UTC) at which ``day`` starts and ends in the theatre's time zone.

    A local midnight skipped by a DST change resolves to the first instant of the day.
    """
    start = dt.datetime.combine(day, dt.time(), terms.timezone)
    end = dt.datetime.combine(day + dt.timedelta(days=1), dt.time(), terms.timezone)
    return start.astimezone(dt.UTC), end.astimezone(dt.UTC)


def first_day(terms: Terms) -> dt.date:
    """The ceasefire's first calendar day in the theatre's time zone."""
    return terms.local_date(terms.start_at)


def iso(at: dt.datetime, timespec: str = "seconds") -> str:
    return at.astimezone(dt.UTC).isoformat(timespec=timespec).replace("+00:00", "Z")


def _comparison(violations: int, mean: Decimal | None, days: int) -> dict[str, Any]:
    if mean is None:
        return {"days": 0, "mean": None, "change": None, "change_pct": None}
    # Rounded only for display, each from the exact mean.
    change = Decimal(violations) - mean
    pct = None if mean == 0 else float(round(change * 100 / mean, 1))
    return {
        "days": days,
        "mean": float(round(mean, 2)),
        "change": float(round(change, 2)),
        "change_pct": pct,
    }


def _days_since(day: dt.date, last: dt.date | None) -> int | None:
    return None if last is None else (day - last).days


def _summary(
    day: dt.date, zone: str, totals: dict[str, int], place: str | None, areas: int, comp: dict
) -> str:
    where = f" in {place}" if place else ""
    other = []
    if totals["excluded"]:
        other.append(f"{totals['excluded']} involving excluded groups")
    if totals["not_party"]:
        other.append(f"{totals['not_party']} involving non-parties")
    others = f" Other hostilities: {', '.join(other)}." if other else ""
    deaths = (
        f" {totals['killed']} killed ({totals['civilians_killed']} civilians) in all"
        " recorded incidents."
        if totals["killed"]
        else ""
    )
    if not totals["violations"]:
        return (
            f"No ceasefire violations were recorded{where} on {day.isoformat()} ({zone})."
            + others
            + deaths
        )
    n = totals["violations"]
    spread = "" if place else f" in {areas} governorate{'s' if areas != 1 else ''}"
    trend = ""
    if comp["mean"] is not None:
        diff = comp["change"]
        direction = "more than" if diff > 0 else "fewer than" if diff < 0 else "the same as"
        amount = f"{abs(diff):g} " if diff else ""
        trend = f", {amount}{direction} the {comp['days']}-day mean of {comp['mean']:g}"
    return (
        f"{n} ceasefire violation{'s' if n != 1 else ''} ({totals['verified']} verified)"
        f"{where}{spread} on {day.isoformat()}{trend}." + others + deaths
    )


class _Rows:
    """The three statements' rows, indexed by (day, scope)."""

    def __init__(self) -> None:
        self.areas: dict[tuple[dt.date, str], Any] = {}
        self.guarantors: dict[tuple[dt.date, str], list[Any]] = {}
        self.breakdowns: dict[tuple[dt.date, str, str], list[Any]] = {}


def _query(
    session: Session,
    terms: Terms,
    first: dt.date,
    last: dt.date,
    settings: DigestSettings,
    public: bool,
) -> _Rows:
    start = first_day(terms)
    grid_first = max(first - dt.timedelta(days=settings.trailing_days), start)
    window_first = max(first - dt.timedelta(days=settings.compliance_days - 1), start)
    params = {
        "tz": terms.timezone.key,
        "first": first,
        "last": last,
        "grid_first": grid_first,
        "window_first": window_first,
        "ceasefire_from": day_window(terms, start)[0],
        "grid_from": day_window(terms, grid_first)[0],
        "window_from": day_window(terms, window_first)[0],
        "first_from": day_window(terms, first)[0],
        "until": day_window(terms, last)[1],
    }
    # The day-by-scope grids make the planner's estimates large (generate_series is
    # assumed to return 1000 rows) and JIT compilation then costs ~1 s for a few ms of work.
    session.execute(text("SET LOCAL jit = off"))
    rows = _Rows()
    for row in session.execute(text(_areas_sql(settings.trailing_days, public)), params):
        rows.areas[(row.day, row.scope)] = row
    for row in session.execute(text(_guarantors_sql(settings.compliance_days, public)), params):
        rows.guarantors.setdefault((row.day, row.scope), []).append(row)
    for row in session.execute(text(_breakdowns_sql(settings.hotspots, public)), params):
        rows.breakdowns.setdefault((row.day, row.scope, row.kind), []).append(row)
    return rows


def _figures(row: Any, prefix: str = "") -> dict[str, int]:
    return {f: int(getattr(row, prefix + f)) for f in FIGURES}


def _every(
    rows: _Rows, at: tuple[dt.date, str, str], label: str, values: Iterable[StrEnum]
) -> list[dict[str, Any]]:
    """A breakdown's rows for every value of a term, zeros included, in the term's order."""
    found = {row.key: row for row in rows.breakdowns.get(at, [])}
    return [
        {
            label: value.value,
            **{
                figure: int(getattr(found[value.value], figure)) if value.value in found else 0
                for figure in ("incidents", "violations", "verified")
            },
        }
        for value in values
    ]


def _scope_sections(
    rows: _Rows,
    *,
    day: dt.date,
    scope: str,
    place: str | None,
    terms: Terms,
    settings: DigestSettings,
    areas_with_violations: int,
) -> dict[str, Any]:
    """Everything a digest says about one scope (the theatre or a governorate) on one day."""
    area = rows.areas[(day, scope)]
    totals = _figures(area)
    comparison = _comparison(totals["violations"], area.trailing_mean, area.trailing_days)
    by_guarantor = []
    for g in rows.guarantors.get((day, scope), []):
        attributed = g.guarantor != ""
        by_guarantor.append(
            {
                "guarantor": g.guarantor if attributed else None,
                "name": g.name,
                "violations": int(g.violations),
                "verified": int(g.verified),
                "killed": int(g.killed),
                "compliance": (
                    {
                        "window_days": settings.compliance_days,
                        "days": int(g.window_days),
                        "violation_free_days": int(g.violation_free_days),
                        "rate": round(int(g.violation_free_days) / int(g.window_days), 4),
                        "violations": int(g.window_violations),
                        "verified_violations": int(g.window_verified),
                    }
                    if attributed
                    else None
                ),
            }
        )
    by_party = [
        {
            "party_id": p.key,
            "name": p.party_name,
            **{f: int(getattr(p, f)) for f in FIGURES if f not in ("injured", "civilians_killed")},
        }
        for p in sorted(
            rows.breakdowns.get((day, scope, "party"), []),
            key=lambda p: (-p.violations, -p.incidents, p.key is None, p.key or ""),
        )
    ]
    by_type = _every(rows, (day, scope, "type"), "violation_type", ViolationType)
    by_confidence = _every(rows, (day, scope, "confidence"), "band", ConfidenceBand)
    hotspots = [
        {
            "pcode": h.key,
            "name_en": h.district_name,
            "province_pcode": h.parent_pcode,
            "violations": int(h.violations),
            "verified": int(h.verified),
            "incidents": int(h.incidents),
            "killed": int(h.killed),
        }
        for h in rows.breakdowns.get((day, scope, "district"), [])
    ]
    start = first_day(terms)
    return {
        "no_violations": totals["violations"] == 0,
        "summary": _summary(
            day, terms.timezone.key, totals, place, areas_with_violations, comparison
        ),
        "totals": totals,
        "comparison": comparison,
        "days_since_last_verified_violation": _days_since(day, area.last_verified_day),
        "by_guarantor": by_guarantor,
        "by_party": by_party,
        "by_type": by_type,
        "by_confidence": by_confidence,
        "hotspots": hotspots,
        "running_total": {
            "since": start.isoformat(),
            "days": (day - start).days + 1,
            **_figures(area, "total_"),
        },
    }


@dataclass(frozen=True)
class DayFigures:
    """One day's digest before it is stored: the full document's figures and, per
    governorate, the sections of its filtered view."""

    day: dt.date
    document: dict[str, Any]  # without revision, generated_at and changes
    scopes: dict[str, dict[str, Any]]


def compute_days(
    *,
    session: Session,
    terms: Terms,
    first: dt.date,
    last: dt.date,
    settings: DigestSettings,
    public: bool = False,
) -> list[DayFigures]:
    """The figures of every day from ``first`` to ``last`` (inclusive); with ``public``,
    of verified incidents only (the public view: what the public map shows, so nothing in
    it tells of an unverified or disputed incident)."""
    rows = _query(session, terms, first, last, settings, public)
    names = dict(
        session.execute(text("SELECT pcode, name_en FROM admin_areas WHERE level = 1")).all()
    )
    provinces = sorted(names)
    out = []
    day = first
    while day <= last:
        by_province = []
        for pcode in provinces:
            area = rows.areas[(day, pcode)]
            figures = _figures(area)
            comparison = _comparison(figures["violations"], area.trailing_mean, area.trailing_days)
            by_province.append(
                {
                    "pcode": pcode,
                    "name_en": names[pcode],
                    **figures,
                    "trailing_mean": comparison["mean"],
                    "change": comparison["change"],
                    "change_pct": comparison["change_pct"],
                    "days_since_last_verified_violation": _days_since(day, area.last_verified_day),
                }
            )
        affected = sum(1 for p in by_province if p["violations"])
        start, end = day_window(terms, day)
        common = dict(terms=terms, settings=settings, day=day, areas_with_violations=affected)
        whole = _scope_sections(rows, scope=ALL, place=None, **common)
        document = {
            "date": day.isoformat(),
            "timezone": terms.timezone.key,
            "window": {"start": iso(start), "end": iso(end)},
            "province": None,
            "no_violations": whole.pop("no_violations"),
            "summary": whole.pop("summary"),
            "totals": whole.pop("totals"),
            "comparison": whole.pop("comparison"),
            "days_since_last_verified_violation": whole.pop("days_since_last_verified_violation"),
            "by_province": by_province,
            **whole,
            "compliance_formula": COMPLIANCE_FORMULA,
        }
        scopes = {
            pcode: _scope_sections(rows, scope=pcode, place=names[pcode], **common)
            for pcode in provinces
        }
        out.append(DayFigures(day=day, document=document, scopes=scopes))
        day += dt.timedelta(days=1)
    return out
