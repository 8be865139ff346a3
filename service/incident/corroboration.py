"""When a report may corroborate an incident: one rule for claims and for duplicates.

A report naming an ``incident_id`` is a *claim* that it describes that incident. It is linked
only when it is plausible for the incident, by the same rule that proposes duplicates to a
verifier (``verification.candidates``):

- the same **family** of violation type (``FAMILIES``): what a witness on the ground can tell
  apart. *aerial* (airstrike, barrel_bomb, missile, chemical: delivered from the air or from
  afar, often indistinguishable below), *indirect fire* (shelling), *direct fire* (small_arms,
  sniper, ground_assault), and the types that are their own family: ied, siege, detention,
  displacement. ``other`` matches only ``other``: a claim must say what it corroborates (a
  witness who cannot tell files a new report, which a verifier may merge);
- within ``corroboration_max_distance_km`` of the incident's point and
  ``corroboration_max_hours`` of its time (settings; 5 km and 6 hours by default). When either
  has no point, the same province instead of the distance;
- and, for claims only, the incident is neither ``rejected`` nor ``merged`` (a merged
  incident's id is refused with its survivor's id, never silently followed).

``claims`` checks any number of claims in one statement and locks the incidents they name,
so a batch costs one round trip and a merge cannot slip in between check and insert.
"""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass
from typing import Any

import orjson
from sqlalchemy import text
from sqlalchemy.orm import Session

from service.config import get_settings
from service.event.terms import IncidentStatus, ViolationType

V = ViolationType
FAMILIES: dict[str, tuple[ViolationType, ...]] = {
    "aerial": (V.airstrike, V.barrel_bomb, V.missile, V.chemical),
    "indirect fire": (V.shelling,),
    "direct fire": (V.small_arms, V.sniper, V.ground_assault),
    "explosive device": (V.ied,),
    "siege": (V.siege,),
    "detention": (V.detention,),
    "displacement": (V.displacement,),
    "other": (V.other,),
}
FAMILY_OF: dict[str, str] = {t.value: family for family, types in FAMILIES.items() for t in types}
assert set(FAMILY_OF) == {t.value for t in ViolationType}, "every type has one family"


def family_sql(column: str) -> str:
    """The family of a violation-type column, as a SQL expression."""
    whens = " ".join(f"WHEN '{t}' THEN '{f}'" for t, f in FAMILY_OF.items())
    return f"(CASE {column} {whens} END)"


def plausible_sql(claim: str, incident: str) -> str:
    """The rule as a SQL condition over two aliases with event columns (``geom`` as a
    geometry), bound with ``bounds()``."""
    return f"""(
        {family_sql(f"{claim}.violation_type")} = {family_sql(f"{incident}.violation_type")}
        AND {claim}.occurred_at BETWEEN {incident}.occurred_at - :c_window
                                   AND {incident}.occurred_at + :c_window
        AND CASE WHEN {claim}.geom IS NOT NULL AND {incident}.geom IS NOT NULL
                 THEN ST_DWithin({claim}.geom::geography, {incident}.geom::geography, :c_metres)
                 ELSE {claim}.province_pcode = {incident}.province_pcode END)"""


def walk_sql(incident: str, report: str) -> str:
    """``plausible_sql``'s rule in the form a walk of the incidents' (type, time) index
    wants, for an incident alias and a report alias that also carries its family's types
    (``family_types``, text[]) and a box around its point (``box``: ``ST_Expand`` by degrees
    that hold the distance). The family as a list of types the index seeks (no comparison
    of type names per row), and the box before the exact geography distance: most rows the
    walk reads are ruled out by the cheap box. Bound with ``bounds()``;
    ``tests/integration/test_corroboration_rule.py`` holds the two forms equal."""
    return f"""(
        {incident}.violation_type = ANY({report}.family_types)
        AND {incident}.occurred_at BETWEEN {report}.occurred_at - :c_window
                                      AND {report}.occurred_at + :c_window
        AND CASE WHEN {incident}.geom IS NOT NULL AND {report}.geom IS NOT NULL
                 THEN {incident}.geom && {report}.box
                      AND ST_DWithin({incident}.geom::geography, {report}.geom::geography,
                                     :c_metres)
                 ELSE {incident}.province_pcode = {report}.province_pcode END)"""


def bounds() -> dict[str, Any]:
    """The parameters ``plausible_sql`` takes, from the settings."""
    settings = get_settings()
    return {
        "c_window": dt.timedelta(hours=settings.corroboration_max_hours),
        "c_metres": settings.corroboration_max_distance_km * 1000,
    }


@dataclass(frozen=True)
class Claim:
    """A report (its derived columns) naming the incident it corroborates."""

    incident_id: uuid.UUID
    occurred_at: Any
    violation_type: str
    geom: str | None  # EWKT, as derived reports carry it
    province_pcode: str


@dataclass(frozen=True)
class Verdict:
    linked: bool
    reason: str | None = None  # why not, for the 422 and the audit trail
    survivor: uuid.UUID | None = None
    distance_km: float | None = None
    hours_apart: float | None = None


def _reason(row: Any, claim: Claim) -> str | None:
    settings = get_settings()
    if row is None:
        return f"no incident {claim.incident_id}"
    if row.status == IncidentStatus.merged:
        return (
            f"incident {claim.incident_id} was merged into {row.merged_into_id}:"
            " corroborate that one"
        )
    if row.status == IncidentStatus.rejected:
        return f"incident {claim.incident_id} was rejected: it cannot be corroborated"
    if row.plausible:
        return None
    problems = []
    if row.claim_family != row.incident_family:
        problems.append(
            f"a report of type {claim.violation_type} ({row.claim_family}) cannot corroborate"
            f" an incident of type {row.violation_type} ({row.incident_family})"
        )
    if row.distance_km is not None:
        if row.distance_km > settings.corroboration_max_distance_km:
            problems.append(
                f"incident {claim.incident_id} is {row.distance_km:.1f} km from this report;"
                f" corroborations must be within {settings.corroboration_max_distance_km:g} km"
            )
    elif row.province_pcode != claim.province_pcode:
        problems.append(
            f"incident {claim.incident_id} is in province {row.province_pcode}, this report in"
            f" {claim.province_pcode}; without a point corroborations must be in the same"
            " province"
        )
    hours = abs(row.hours_apart)
    if hours > settings.corroboration_max_hours:
        problems.append(
            f"incident {claim.incident_id} happened {hours:.1f} hours "
            + ("after" if row.hours_apart < 0 else "before")
            + f" this report; corroborations must be within"
            f" {settings.corroboration_max_hours:g} hours"
        )
    return "; ".join(problems) or f"this report is not plausible for incident {claim.incident_id}"


_CHECK = f"""
    SELECT x.idx, i.status, i.merged_into_id, i.violation_type, i.province_pcode,
           {family_sql("x.violation_type")} AS claim_family,
           {family_sql("i.violation_type")} AS incident_family,
           ST_Distance(x.geom::geography, i.geom::geography) / 1000 AS distance_km,
           extract(epoch FROM x.occurred_at - i.occurred_at) / 3600 AS hours_apart,
           {plausible_sql("x", "i")} AS plausible
    FROM (SELECT c.idx, c.occurred_at, c.violation_type, c.province_pcode, c.incident_id,
                 ST_GeomFromEWKT(c.geom) AS geom
          FROM jsonb_to_recordset(CAST(:claims AS jsonb)) AS c(
              idx int, incident_id uuid, occurred_at timestamptz, violation_type text,
              province_pcode text, geom text)) x
    JOIN incidents i ON i.id = x.incident_id
    ORDER BY i.id
    FOR NO KEY UPDATE OF i
"""


def check_claims(session: Session, claims: list[Claim]) -> list[Verdict]:
    """Each claim's verdict, in order, from one statement. The incidents named are locked
    (in id order, so two batches cannot deadlock) until the transaction ends: a merge or a
    review waits for the reports being linked, and the status read is the current one."""
    if not claims:
        return []
    payload = [
        {
            "idx": n,
            "incident_id": str(c.incident_id),
            "occurred_at": c.occurred_at.isoformat(),
            "violation_type": c.violation_type,
            "province_pcode": c.province_pcode,
            "geom": c.geom,
        }
        for n, c in enumerate(claims)
    ]
    rows = {
        row.idx: row
        for row in session.execute(
            text(_CHECK), {"claims": orjson.dumps(payload).decode(), **bounds()}
        )
    }
    verdicts = []
    for n, claim in enumerate(claims):
        row = rows.get(n)
        reason = _reason(row, claim)
        verdicts.append(
            Verdict(
                linked=reason is None,
                reason=reason,
                survivor=row.merged_into_id if row is not None else None,
                distance_km=row.distance_km if row is not None else None,
                hours_apart=float(row.hours_apart) if row is not None else None,
            )
        )
    return verdicts
