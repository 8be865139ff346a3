"""Automatic correlation: a report that names no incident joins the one it most likely
describes, or opens its own and lists its likely duplicates.

**Candidates** are found by the corroboration rule (``corroboration.plausible_sql``: the same
type family, within 5 km and 6 hours, the same governorate when either has no point), among
stored incidents that are neither merged nor rejected, for every report of a batch in **one
statement** (walking the incidents' time index, a box before the exact distance), at most
``CANDIDATES_PER_REPORT`` nearest each. The reports of one batch are never candidates of
each other: they share a reporter key, which the same-key rule below keeps apart anyway.

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
``excluded``; flagged ``excluded_mismatch`` whatever the decision). Place and text, the
costly part, are compared only where the candidate could still reach the threshold with
identical texts; elsewhere they count 0.5 each and the candidate is flagged ``not_compared``.

**The decision** (the score is computed in SQL, and only the ``LISTED`` best candidates of
each report come back): the best of those at or above ``CEASEFIRE_CORRELATION_THRESHOLD`` (0.69;
chosen with ``bench/correlation.py`` on one half of a labelled set and measured on the
other) among *unverified* incidents is joined. A verified or
disputed incident is never joined automatically: it is listed as a likely duplicate (flag
``reviewed``) for a verifier to merge, so no machine decision reaches a record a verifier
has put their name to, not even as a pending review. Otherwise the report opens a new
incident. Either way the report stores ``correlation``: the rule's ``version``, the
``threshold``, the ``decision`` (``linked`` or ``opened``), the incident joined with its
``score``, ``factors`` and ``flags``, and the top ``LISTED`` candidates with their scores and
flags.
"""

from __future__ import annotations

import uuid
from typing import Any, NamedTuple

import orjson
from sqlalchemy import text
from sqlalchemy.orm import Session

from service.config import get_settings
from service.event.terms import CeasefireStatus, IncidentStatus
from service.incident.corroboration import FAMILIES, FAMILY_OF, bounds, walk_sql

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
_UNVERIFIED = IncidentStatus.unverified.value
# Each type's family, as the types the walk seeks in the (type, time) index.
_FAMILY_TYPES = {t: [m.value for m in FAMILIES[family]] for t, family in FAMILY_OF.items()}
# The factors a candidate row carries (``Candidate.values``): the weighted ones, then the
# measures shown beside them.
FACTORS = (*WEIGHTS, "distance_km", "hours_apart")


def _party_sql(mine: str, theirs: str) -> str:
    return f"(CASE WHEN {mine} IS NULL OR {theirs} IS NULL THEN {UNKNOWN} WHEN {mine} = {theirs} THEN 1.0 ELSE 0.0 END)"


# Each factor (0-1) over a candidate ``n`` and the report ``x``: first the cheap ones...
CHEAP_FACTORS_SQL = {
    "distance": f"CASE WHEN n.distance_km IS NULL THEN {NO_POINT}"
    " ELSE greatest(0.0, 1 - n.distance_km / :max_km) END",
    "time": "greatest(0.0, 1 - abs(n.hours_apart) / :max_hours)",
    "type": "CASE WHEN n.violation_type = x.violation_type THEN 1.0 ELSE 0.5 END",
    "parties": f"({_party_sql('x.perpetrator_party_id', 'n.perpetrator_party_id')}"
    f" + {_party_sql('x.target_party_id', 'n.target_party_id')}) / 2",
}
# ... then those read from the incident's reports (``s``): texts are compared only when the
# candidate could still reach the threshold with perfect similarity (the costly part).
REPORT_FACTORS_SQL = {
    "place": f"coalesce(s.place_sim, {UNKNOWN})",
    "text": f"coalesce(s.text_sim, {UNKNOWN})",
    "independence": "CASE WHEN s.same_key THEN 0.0 WHEN s.same_source THEN 0.5 ELSE 1.0 END",
}
_CHEAP_SQL = (
    " + ".join(f"{WEIGHTS[name]} * c.{name}" for name in CHEAP_FACTORS_SQL)
    + f" - CASE WHEN c.excluded_mismatch THEN {EXCLUDED_MISMATCH_PENALTY} ELSE 0 END"
)
_AT_BEST = sum(WEIGHTS[name] for name in REPORT_FACTORS_SQL)
_SCORE_SQL = (
    "f.cheap + "
    + " + ".join(f"{WEIGHTS[name]} * f.{name}" for name in REPORT_FACTORS_SQL)
    + f" - CASE WHEN f.same_key THEN {SAME_KEY_PENALTY} ELSE 0 END"
)

# The best ``LISTED`` candidates of each report of the batch, scored, best first: incidents
# found by the corroboration rule, the nearest ``CANDIDATES_PER_REPORT`` kept; only those are
# compared by text (the costly part). ``near`` and ``cheap`` are MATERIALIZED: inlined, their
# columns are expressions the planner copies into every factor, the score and the sort that
# read them (EXPLAIN VERBOSE of the inlined form names the geography distance 77 times);
# materialized, each is computed once.
_CANDIDATES = f"""
    WITH x AS MATERIALIZED (
        SELECT c.idx, c.occurred_at, c.violation_type, c.province_pcode,
               ST_GeomFromEWKT(c.geom) AS geom, ST_Expand(ST_GeomFromEWKT(c.geom), :box) AS box,
               c.perpetrator_party_id, c.target_party_id,
               c.ceasefire_status, c.place_name, c.description, c.publishers, c.family_types
        FROM jsonb_to_recordset(CAST(:rows AS jsonb)) AS c(
            idx int, occurred_at timestamptz, violation_type text, province_pcode text,
            geom text, perpetrator_party_id text, target_party_id text, ceasefire_status text,
            place_name text, description text, publishers text[], family_types text[])
    ),
    near AS MATERIALIZED (
        SELECT x.idx, k.* FROM x CROSS JOIN LATERAL (
            SELECT i.id AS incident_id, i.status, i.violation_type,
                   i.perpetrator_party_id, i.target_party_id, i.ceasefire_status,
                   ST_Distance(x.geom::geography, i.geom::geography) / 1000 AS distance_km,
                   extract(epoch FROM i.occurred_at - x.occurred_at) / 3600 AS hours_apart
            FROM incidents i
            -- the corroboration rule, in the form the (type, time) index walk wants
            WHERE {walk_sql("i", "x")}
              AND i.status NOT IN ('merged', 'rejected')
              AND i.status <> 'merged'  -- the partial index's predicate, word for word
            ORDER BY distance_km NULLS LAST, abs(extract(epoch FROM i.occurred_at - x.occurred_at)),
                     i.id
            LIMIT {CANDIDATES_PER_REPORT}
        ) k
    ),
    cheap AS MATERIALIZED (
        SELECT n.idx, n.incident_id, n.status, n.distance_km, n.hours_apart,
               (x.ceasefire_status = '{_EXCLUDED}') <> (n.ceasefire_status = '{_EXCLUDED}')
                   AS excluded_mismatch,
               {", ".join(f"{sql} AS {name}" for name, sql in CHEAP_FACTORS_SQL.items())}
        FROM near n JOIN x ON x.idx = n.idx
    ),
    factored AS (
        SELECT c.*, {_CHEAP_SQL} AS cheap, s.same_key, s.compared,
               {", ".join(f"{sql} AS {name}" for name, sql in REPORT_FACTORS_SQL.items())}
        FROM cheap c
        JOIN x ON x.idx = c.idx
        CROSS JOIN LATERAL (
            SELECT max(CASE WHEN b.compare THEN similarity(r.place_name, x.place_name) END)
                       AS place_sim,
                   max(CASE WHEN b.compare THEN similarity(r.description, x.description) END)
                       AS text_sim,
                   bool_or(b.compare) AS compared,
                   bool_or(r.reporter_key_id = :key) AS same_key,
                   bool_or(b.compare AND EXISTS (
                       SELECT 1 FROM jsonb_array_elements(r.sources) src
                       WHERE lower(src->>'publisher') = ANY(x.publishers))) AS same_source
            FROM reports r
            CROSS JOIN LATERAL (
                SELECT {_CHEAP_SQL} + {_AT_BEST}
                       - CASE WHEN r.reporter_key_id = :key THEN {SAME_KEY_PENALTY} ELSE 0 END
                       >= :compare_from AS compare
            ) b
            WHERE r.incident_id = c.incident_id
        ) s
    ),
    scored AS (
        SELECT f.*, greatest(0.0, {_SCORE_SQL}) AS score FROM factored f
    )
    -- What the decision and the stored correlation read, in few columns that need little
    -- decoding: the flags, and the factors in ``FACTORS``' order (read for a link only).
    SELECT r.idx, CAST(r.incident_id AS text) AS incident_id, r.status, r.score,
           array_remove(ARRAY[
               CASE WHEN r.same_key THEN 'same_reporter_key' END,
               CASE WHEN r.excluded_mismatch THEN 'excluded_mismatch' END,
               CASE WHEN r.status <> '{_UNVERIFIED}' THEN 'reviewed' END,
               -- could not reach the threshold: texts not compared
               CASE WHEN NOT r.compared THEN 'not_compared' END], NULL) AS flags,
           CAST(ARRAY[{", ".join(f"r.{name}" for name in FACTORS)}] AS float8[]) AS factors
    FROM (
        SELECT scored.*, row_number() OVER (
            PARTITION BY idx ORDER BY score DESC, distance_km NULLS LAST, incident_id
        ) AS rank
        FROM scored
    ) r
    WHERE r.rank <= {LISTED}
    ORDER BY r.idx, r.rank
"""
_STATEMENT = text(_CANDIDATES)


class Candidate(NamedTuple):
    incident_id: str
    status: str
    score: float
    flags: list[str]
    values: list[float | None]  # ``FACTORS``' values: read for the incident joined only

    @property
    def factors(self) -> dict[str, Any]:
        named = dict(zip(FACTORS, self.values, strict=True))
        distance_km = named.pop("distance_km")
        return {
            **{name: round(value, 4) for name, value in named.items()},
            "distance_km": None if distance_km is None else round(distance_km, 3),
            "hours_apart": round(named.pop("hours_apart"), 3),
        }


def _publishers(sources: list[dict[str, Any]]) -> list[str]:
    return sorted({s["publisher"].lower() for s in sources if s.get("publisher")})


def find_candidates(
    session: Session,
    *,
    reporter_key_id: uuid.UUID,
    reports: list[dict[str, Any]],
    compare_from: float = 1.0,
) -> list[list[Candidate]]:
    """Each report's scored candidates (best first), in order, from one statement. Each
    report is a derived row (``derive_many``) in batch order. Texts are compared where a
    candidate could still reach the threshold (or ``compare_from``, if lower)."""
    if not reports:
        return []
    payload = [
        {
            "idx": n,
            "occurred_at": r["occurred_at"],  # orjson writes it as isoformat() does, faster
            "violation_type": r["violation_type"],
            "province_pcode": r["province_pcode"],
            "geom": r["geom"],
            "perpetrator_party_id": r["perpetrator_party_id"],
            "target_party_id": r["target_party_id"],
            "ceasefire_status": r["ceasefire_status"],
            "place_name": r["place_name"],
            "description": r["description"],
            "publishers": _publishers(r["sources"]),
            "family_types": _FAMILY_TYPES[r["violation_type"]],
        }
        for n, r in enumerate(reports)
    ]
    found: list[list[Candidate]] = [[] for _ in reports]
    # JIT is off for the transaction: the planner's estimates (a JSON recordset, PostGIS's
    # costs) would call for it, and it costs more than the statement. ``submit``, the only
    # caller, turns it off with the clock (``Lookups.load``), so no round trip of its own.
    settings = get_settings()
    rows = session.execute(
        _STATEMENT,
        {
            "rows": orjson.dumps(payload).decode(),
            "key": reporter_key_id,
            "max_km": settings.corroboration_max_distance_km,
            "max_hours": settings.corroboration_max_hours,
            "compare_from": min(settings.correlation_threshold, compare_from),
            # Degrees that hold the distance in any direction up to 60 degrees of latitude.
            "box": settings.corroboration_max_distance_km / KM_PER_DEGREE * 2,
            **bounds(),
        },
    ).all()  # fetched at once: row by row costs more than the decision
    # Best first (``ORDER BY idx, rank``); unpacked by position, the statement's column order.
    for idx, incident_id, status, score, flags, values in rows:
        found[idx].append(Candidate(incident_id, status, round(score, 4), flags, values))
    return found


def _listed(candidate: Candidate) -> dict[str, Any]:
    """A likely duplicate as stored: its score and flags (the factors are kept for the
    incident joined only: every report stores this, so it stays small)."""
    return {
        "incident_id": candidate.incident_id,
        "score": candidate.score,
        "status": candidate.status,
        "flags": candidate.flags,
    }


def correlate(
    session: Session,
    *,
    reporter_key_id: uuid.UUID,
    reports: list[dict[str, Any]],
    link: bool = True,
    compare_from: float = 1.0,
) -> set[uuid.UUID]:
    """Decide each report's incident: sets ``incident_id`` (an existing incident, or a new
    id) and ``correlation`` on each derived row, in batch order. Returns the new ids.
    ``link`` false only scores (``bench/correlation.py`` tunes the threshold that way)."""
    minted: set[uuid.UUID] = set()
    threshold = get_settings().correlation_threshold
    for report, candidates in zip(
        reports,
        find_candidates(
            session, reporter_key_id=reporter_key_id, reports=reports, compare_from=compare_from
        ),
        strict=True,
    ):
        chosen = next(
            (
                c
                for c in candidates
                if link and c.score >= threshold and c.status == IncidentStatus.unverified
            ),
            None,
        )
        correlation: dict[str, Any] = {
            "version": VERSION,
            "threshold": threshold,
            "decision": "opened",
            # Serialized at once (orjson embeds a Fragment as it is): only the stored row
            # reads the list, and a batch keeps no small dicts alive for the collector.
            "candidates": orjson.Fragment(orjson.dumps([_listed(c) for c in candidates])),
        }
        if chosen is not None:
            report["incident_id"] = uuid.UUID(chosen.incident_id)
            correlation.update(
                decision="linked",
                incident_id=chosen.incident_id,
                score=chosen.score,
                factors=chosen.factors,
                flags=list(chosen.flags),
            )
        else:
            report["incident_id"] = uuid.uuid4()
            minted.add(report["incident_id"])
        report["correlation"] = correlation
    return minted
