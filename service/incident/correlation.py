"""Automatic correlation: a report that names no incident joins the one it most likely
describes, or opens its own and lists its likely duplicates.

**Candidates** are found by the corroboration rule (``corroboration.plausible_sql``: the same
type family, within 5 km and 6 hours, the same governorate when either has no point), among
stored incidents that are neither merged nor rejected and among the earlier reports of the
same batch, for every report of a batch in **one statement** (walking the incidents' time
index), at most ``CANDIDATES_PER_REPORT`` nearest each.

**The score** (0-1) is a weighted sum of factors, each 0-1 (``WEIGHTS``):

| factor | weight | value |
|---|---|---|
| ``distance`` | 0.15 | 1 - km / 5 (0.3 when either has no point: the same governorate only) |
| ``time`` | 0.10 | 1 - hours / 6 |
| ``type`` | 0.15 | 1 the same violation type, 0.5 only the same family |
| ``parties`` | 0.15 | mean over perpetrator and target of: 1 the same resolved party, 0 two different ones, 0.5 when either is unknown |
| ``place`` | 0.15 | trigram similarity (``pg_trgm``) of the place names, the best over the incident's reports (0.5 when either has none) |
| ``text`` | 0.25 | trigram similarity of the descriptions, likewise |
| ``independence`` | 0.05 | 1 an independent report, 0.5 when a report of the incident names the same publisher, 0 the same reporter key |

minus **penalties**: 0.35 when a report of the incident comes from the same reporter key (a
reporter who files twice near one place and time more likely saw two events: a second report
of the same event names its ``incident_id``; with the default threshold a key's reports
never join each other automatically, so an import of distinct events stays distinct), and
0.2 when one side involves an excluded party and the other does not (``ceasefire_status``
``excluded``; flagged ``excluded_mismatch`` whatever the decision).

**The decision**: the best candidate at or above ``CEASEFIRE_CORRELATION_THRESHOLD`` (0.65;
chosen with ``bench/correlation.py`` on one half of a labelled set and measured on the
other) among *unverified* incidents is joined. A verified or
disputed incident is never joined automatically: it is listed as a likely duplicate (flag
``reviewed``) for a verifier to merge, so no machine decision reaches a record a verifier
has put their name to, not even as a pending review. Otherwise the report opens a new
incident. Either way the report stores ``correlation``: the rule's ``version``, the
``threshold``, the ``decision`` (``linked`` or ``opened``), the incident joined with its
``score``, ``factors`` and ``flags``, and the top ``LISTED`` candidates with theirs.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

import orjson
from sqlalchemy import text
from sqlalchemy.orm import Session

from service.config import get_settings
from service.event.terms import CeasefireStatus, IncidentStatus
from service.incident.corroboration import FAMILY_OF, bounds, plausible_sql

VERSION = 1
CANDIDATES_PER_REPORT = 10
LISTED = 3
WEIGHTS = {
    "distance": 0.15,
    "time": 0.10,
    "type": 0.15,
    "parties": 0.15,
    "place": 0.15,
    "text": 0.25,
    "independence": 0.05,
}
SAME_KEY_PENALTY = 0.35
EXCLUDED_MISMATCH_PENALTY = 0.2
NO_POINT = 0.3
UNKNOWN = 0.5
assert abs(sum(WEIGHTS.values()) - 1) < 1e-9

_EXCLUDED = CeasefireStatus.excluded.value

# One row per (report of the batch, candidate): the candidate's identity and raw factors.
_CANDIDATES = f"""
    WITH x AS MATERIALIZED (
        SELECT c.idx, c.occurred_at, c.violation_type, c.province_pcode,
               ST_GeomFromEWKT(c.geom) AS geom, c.perpetrator_party_id, c.target_party_id,
               c.ceasefire_status, c.place_name, c.description, c.publishers
        FROM jsonb_to_recordset(CAST(:rows AS jsonb)) AS c(
            idx int, occurred_at timestamptz, violation_type text, province_pcode text,
            geom text, perpetrator_party_id text, target_party_id text, ceasefire_status text,
            place_name text, description text, publishers text[])
    )
    SELECT x.idx, k.*
    FROM x CROSS JOIN LATERAL (
        SELECT * FROM (
            SELECT i.id AS incident_id, NULL::int AS batch_idx, i.status, i.violation_type,
                   i.perpetrator_party_id, i.target_party_id, i.ceasefire_status,
                   ST_Distance(x.geom::geography, i.geom::geography) / 1000 AS distance_km,
                   extract(epoch FROM i.occurred_at - x.occurred_at) / 3600 AS hours_apart,
                   rs.place_sim, rs.text_sim, rs.same_key, rs.same_source
            FROM incidents i
            CROSS JOIN LATERAL (
                SELECT max(similarity(r.place_name, x.place_name)) AS place_sim,
                       max(similarity(r.description, x.description)) AS text_sim,
                       bool_or(r.reporter_key_id = :key) AS same_key,
                       bool_or(EXISTS (
                           SELECT 1 FROM jsonb_array_elements(r.sources) s
                           WHERE lower(s->>'publisher') = ANY(x.publishers))) AS same_source
                FROM reports r WHERE r.incident_id = i.id
            ) rs
            WHERE i.status NOT IN ('merged', 'rejected') AND {plausible_sql("i", "x")}
            UNION ALL
            SELECT NULL, y.idx, 'unverified', y.violation_type, y.perpetrator_party_id,
                   y.target_party_id, y.ceasefire_status,
                   ST_Distance(x.geom::geography, y.geom::geography) / 1000,
                   extract(epoch FROM y.occurred_at - x.occurred_at) / 3600,
                   similarity(y.place_name, x.place_name), similarity(y.description, x.description),
                   true, y.publishers && x.publishers
            FROM x y WHERE y.idx < x.idx AND {plausible_sql("y", "x")}
        ) found
        ORDER BY distance_km NULLS LAST, abs(hours_apart), incident_id, batch_idx
        LIMIT {CANDIDATES_PER_REPORT}
    ) k
"""


@dataclass(frozen=True)
class Candidate:
    incident_id: uuid.UUID | None  # a stored incident
    batch_idx: int | None  # or an earlier report of the batch
    status: str
    score: float
    factors: dict[str, Any]
    flags: tuple[str, ...]


def _publishers(sources: list[dict[str, Any]]) -> list[str]:
    return sorted({s["publisher"].lower() for s in sources if s.get("publisher")})


def _party(mine: str | None, theirs: str | None) -> float:
    if mine is None or theirs is None:
        return UNKNOWN
    return 1.0 if mine == theirs else 0.0


def score(report: dict[str, Any], row: Any) -> Candidate:
    """One candidate's factors, flags and score for a derived report."""
    settings = get_settings()
    if row.distance_km is None:
        distance = NO_POINT
    else:
        distance = max(0.0, 1 - row.distance_km / settings.corroboration_max_distance_km)
    hours = abs(float(row.hours_apart))
    same_type = row.violation_type == report["violation_type"]
    independence = 0.0 if row.same_key else 0.5 if row.same_source else 1.0
    factors = {
        "distance": distance,
        "time": max(0.0, 1 - hours / settings.corroboration_max_hours),
        "type": 1.0 if same_type else 0.5,
        "parties": (
            _party(report["perpetrator_party_id"], row.perpetrator_party_id)
            + _party(report["target_party_id"], row.target_party_id)
        )
        / 2,
        "place": UNKNOWN if row.place_sim is None else float(row.place_sim),
        "text": UNKNOWN if row.text_sim is None else float(row.text_sim),
        "independence": independence,
    }
    total = sum(WEIGHTS[name] * value for name, value in factors.items())
    flags = []
    if row.same_key:
        total -= SAME_KEY_PENALTY
        flags.append("same_reporter_key")
    if (report["ceasefire_status"] == _EXCLUDED) != (row.ceasefire_status == _EXCLUDED):
        total -= EXCLUDED_MISMATCH_PENALTY
        flags.append("excluded_mismatch")
    if row.status != IncidentStatus.unverified:
        flags.append("reviewed")
    assert FAMILY_OF[row.violation_type] == FAMILY_OF[report["violation_type"]]
    return Candidate(
        incident_id=row.incident_id,
        batch_idx=row.batch_idx,
        status=row.status,
        score=round(max(0.0, total), 4),
        factors={
            **{name: round(value, 4) for name, value in factors.items()},
            "distance_km": None if row.distance_km is None else round(row.distance_km, 3),
            "hours_apart": round(float(row.hours_apart), 3),
        },
        flags=tuple(flags),
    )


def find_candidates(
    session: Session, *, reporter_key_id: uuid.UUID, reports: list[dict[str, Any]]
) -> list[list[Candidate]]:
    """Each report's scored candidates (best first), in order, from one statement. Each
    report is a derived row (``derive_many``) in batch order."""
    if not reports:
        return []
    payload = [
        {
            "idx": n,
            "occurred_at": r["occurred_at"].isoformat(),
            "violation_type": r["violation_type"],
            "province_pcode": r["province_pcode"],
            "geom": r["geom"],
            "perpetrator_party_id": r["perpetrator_party_id"],
            "target_party_id": r["target_party_id"],
            "ceasefire_status": r["ceasefire_status"],
            "place_name": r["place_name"],
            "description": r["description"],
            "publishers": _publishers(r["sources"]),
        }
        for n, r in enumerate(reports)
    ]
    found: list[list[Candidate]] = [[] for _ in reports]
    # The planner's estimates (a JSON recordset, PostGIS's costs) would call for JIT, which
    # costs far more (~200 ms) than the statement (~2 ms per report); as digests do.
    session.execute(text("SET LOCAL jit = off"))
    for row in session.execute(
        text(_CANDIDATES),
        {"rows": orjson.dumps(payload).decode(), "key": reporter_key_id, **bounds()},
    ):
        found[row.idx].append(score(reports[row.idx], row))
    for candidates in found:
        candidates.sort(key=lambda c: -c.score)
    return found


def _listed(candidate: Candidate, incident_id: uuid.UUID) -> dict[str, Any]:
    return {
        "incident_id": str(incident_id),
        "score": candidate.score,
        "status": candidate.status,
        "factors": candidate.factors,
        "flags": list(candidate.flags),
    }


def correlate(
    session: Session, *, reporter_key_id: uuid.UUID, reports: list[dict[str, Any]]
) -> set[uuid.UUID]:
    """Decide each report's incident: sets ``incident_id`` (an existing incident, or a new
    id) and ``correlation`` on each derived row, in batch order. Returns the new ids."""
    minted: set[uuid.UUID] = set()
    threshold = get_settings().correlation_threshold
    for report, candidates in zip(
        reports,
        find_candidates(session, reporter_key_id=reporter_key_id, reports=reports),
        strict=True,
    ):

        def incident_of(c: Candidate) -> uuid.UUID:
            if c.incident_id is not None:
                return c.incident_id
            return reports[c.batch_idx]["incident_id"]  # type: ignore[index]

        chosen = next(
            (
                c
                for c in candidates
                if c.score >= threshold and c.status == IncidentStatus.unverified
            ),
            None,
        )
        listed = [_listed(c, incident_of(c)) for c in candidates[:LISTED]]
        correlation: dict[str, Any] = {
            "version": VERSION,
            "threshold": threshold,
            "decision": "opened",
            "candidates": listed,
        }
        if chosen is not None:
            report["incident_id"] = incident_of(chosen)
            correlation.update(
                decision="linked",
                incident_id=str(report["incident_id"]),
                score=chosen.score,
                factors=chosen.factors,
                flags=list(chosen.flags),
            )
        else:
            report["incident_id"] = uuid.uuid4()
            minted.add(report["incident_id"])
        report["correlation"] = correlation
    return minted
