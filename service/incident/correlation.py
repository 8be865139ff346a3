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

**The decision** (the score is computed in SQL, and only the ``LISTED`` best candidates of
each report come back): the best of those at or above ``CEASEFIRE_CORRELATION_THRESHOLD`` (0.65;
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
from service.incident.corroboration import bounds, family_sql, plausible_sql

VERSION = 1
CANDIDATES_PER_REPORT = 5
KM_PER_DEGREE = 111.32
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


def _party_sql(mine: str, theirs: str) -> str:
    return f"(CASE WHEN {mine} IS NULL OR {theirs} IS NULL THEN {UNKNOWN} WHEN {mine} = {theirs} THEN 1.0 ELSE 0.0 END)"


# Each factor (0-1) over a candidate ``n`` (with its similarities) and the report ``x``.
FACTORS_SQL = {
    "distance": f"CASE WHEN n.distance_km IS NULL THEN {NO_POINT}"
    " ELSE greatest(0.0, 1 - n.distance_km / :max_km) END",
    "time": "greatest(0.0, 1 - abs(n.hours_apart) / :max_hours)",
    "type": "CASE WHEN n.violation_type = x.violation_type THEN 1.0 ELSE 0.5 END",
    "parties": f"({_party_sql('x.perpetrator_party_id', 'n.perpetrator_party_id')}"
    f" + {_party_sql('x.target_party_id', 'n.target_party_id')}) / 2",
    "place": f"coalesce(s.place_sim, {UNKNOWN})",
    "text": f"coalesce(s.text_sim, {UNKNOWN})",
    "independence": "CASE WHEN s.same_key THEN 0.0 WHEN s.same_source THEN 0.5 ELSE 1.0 END",
}
_SCORE_SQL = (
    " + ".join(f"{WEIGHTS[name]} * f.{name}" for name in WEIGHTS)
    + f" - CASE WHEN f.same_key THEN {SAME_KEY_PENALTY} ELSE 0 END"
    + f" - CASE WHEN f.excluded_mismatch THEN {EXCLUDED_MISMATCH_PENALTY} ELSE 0 END"
)

# The best ``LISTED`` candidates of each report of the batch, scored. Stored incidents and
# earlier reports of the batch are found by the corroboration rule, the nearest
# ``CANDIDATES_PER_REPORT`` kept; only those are compared by text (the costly part).
_CANDIDATES = f"""
    WITH x AS MATERIALIZED (
        SELECT c.idx, c.occurred_at, c.violation_type, c.province_pcode,
               ST_GeomFromEWKT(c.geom) AS geom, c.perpetrator_party_id, c.target_party_id,
               c.ceasefire_status, c.place_name, c.description, c.publishers
        FROM jsonb_to_recordset(CAST(:rows AS jsonb)) AS c(
            idx int, occurred_at timestamptz, violation_type text, province_pcode text,
            geom text, perpetrator_party_id text, target_party_id text, ceasefire_status text,
            place_name text, description text, publishers text[])
    ),
    -- Pairs within the batch, found by a hash join on (family, period of the window's
    -- length) rather than by comparing every report with every other.
    xb AS MATERIALIZED (
        SELECT x.*, {family_sql("x.violation_type")} AS family,
               floor(extract(epoch FROM x.occurred_at) / (:max_hours * 3600))::bigint AS period
        FROM x
    ),
    xn AS MATERIALIZED (
        SELECT xb.*, xb.period + d.d AS near_period
        FROM xb CROSS JOIN (VALUES (-1), (0), (1)) AS d(d)
    ),
    pairs AS MATERIALIZED (
        SELECT x.idx, y.idx AS batch_idx, y.violation_type, y.perpetrator_party_id,
               y.target_party_id, y.ceasefire_status,
               ST_Distance(x.geom::geography, y.geom::geography) / 1000 AS distance_km,
               extract(epoch FROM y.occurred_at - x.occurred_at) / 3600 AS hours_apart,
               y.place_name, y.description, y.publishers
        FROM xb x JOIN xn y ON y.family = x.family AND y.near_period = x.period
        WHERE y.idx < x.idx AND {plausible_sql("y", "x")}
          AND (y.geom IS NULL OR x.geom IS NULL OR y.geom && ST_Expand(x.geom, :box))
    ),
    near AS (
        SELECT x.idx, k.* FROM x CROSS JOIN LATERAL (
            SELECT * FROM (
                SELECT i.id AS incident_id, NULL::int AS batch_idx, i.status, i.violation_type,
                       i.perpetrator_party_id, i.target_party_id, i.ceasefire_status,
                       ST_Distance(x.geom::geography, i.geom::geography) / 1000 AS distance_km,
                       extract(epoch FROM i.occurred_at - x.occurred_at) / 3600 AS hours_apart,
                       NULL AS place_name, NULL AS description, NULL::text[] AS publishers
                FROM incidents i
                WHERE i.status NOT IN ('merged', 'rejected') AND {plausible_sql("i", "x")}
                  -- a cheap box first: the exact (geography) distance only inside it
                  AND (i.geom IS NULL OR x.geom IS NULL OR i.geom && ST_Expand(x.geom, :box))
                UNION ALL
                SELECT NULL, p.batch_idx, 'unverified', p.violation_type,
                       p.perpetrator_party_id, p.target_party_id, p.ceasefire_status,
                       p.distance_km, p.hours_apart, p.place_name, p.description, p.publishers
                FROM pairs p WHERE p.idx = x.idx
            ) found
            ORDER BY distance_km NULLS LAST, abs(hours_apart), incident_id, batch_idx
            LIMIT {CANDIDATES_PER_REPORT}
        ) k
    ),
    factored AS (
        SELECT n.idx, n.incident_id, n.batch_idx, n.status, n.distance_km, n.hours_apart,
               s.same_key,
               (x.ceasefire_status = '{_EXCLUDED}') <> (n.ceasefire_status = '{_EXCLUDED}')
                   AS excluded_mismatch,
               {", ".join(f"{sql} AS {name}" for name, sql in FACTORS_SQL.items())}
        FROM near n
        JOIN x ON x.idx = n.idx
        CROSS JOIN LATERAL (
            SELECT max(similarity(r.place_name, x.place_name)) AS place_sim,
                   max(similarity(r.description, x.description)) AS text_sim,
                   bool_or(r.reporter_key_id = :key) AS same_key,
                   bool_or(EXISTS (
                       SELECT 1 FROM jsonb_array_elements(r.sources) src
                       WHERE lower(src->>'publisher') = ANY(x.publishers))) AS same_source
            FROM reports r WHERE r.incident_id = n.incident_id
            HAVING n.incident_id IS NOT NULL
            UNION ALL
            SELECT similarity(n.place_name, x.place_name),
                   similarity(n.description, x.description), true,
                   n.publishers && x.publishers
            WHERE n.batch_idx IS NOT NULL
        ) s
    ),
    scored AS (
        SELECT f.*, greatest(0.0, {_SCORE_SQL}) AS score FROM factored f
    )
    SELECT * FROM (
        SELECT scored.*, row_number() OVER (
            PARTITION BY idx ORDER BY score DESC, distance_km NULLS LAST, incident_id, batch_idx
        ) AS rank
        FROM scored
    ) ranked
    WHERE rank <= {LISTED}
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


def _candidate(row: Any) -> Candidate:
    """One scored candidate row as the decision and the stored correlation read it."""
    flags = []
    if row.same_key:
        flags.append("same_reporter_key")
    if row.excluded_mismatch:
        flags.append("excluded_mismatch")
    if row.status != IncidentStatus.unverified:
        flags.append("reviewed")
    return Candidate(
        incident_id=row.incident_id,
        batch_idx=row.batch_idx,
        status=row.status,
        score=round(float(row.score), 4),
        factors={
            **{name: round(float(getattr(row, name)), 4) for name in WEIGHTS},
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
    settings = get_settings()
    for row in session.execute(
        text(_CANDIDATES),
        {
            "rows": orjson.dumps(payload).decode(),
            "key": reporter_key_id,
            "max_km": settings.corroboration_max_distance_km,
            "max_hours": settings.corroboration_max_hours,
            # Degrees that hold the distance in any direction up to 60 degrees of latitude.
            "box": settings.corroboration_max_distance_km / KM_PER_DEGREE * 2,
            **bounds(),
        },
    ):
        found[row.idx].append(_candidate(row))
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
        listed = [_listed(c, incident_of(c)) for c in candidates]
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
