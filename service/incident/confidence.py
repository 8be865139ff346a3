"""How far an incident can be believed: one number 0-1 and a band, from its reports' sources.

**The formula** (``CONFIDENCE_RULE``, the only place it is written; the incident's
``confidence`` and ``confidence_band`` columns are set with its figures whenever it is
opened or published again, so filters read a stored, indexed column):

- each source a report names is graded on the Admiralty scale: reliability A-F and
  credibility 1-6, each mapped to a weight (A 1.0, B 0.8, C 0.6, D 0.4, E 0.2, F 0.3: "cannot
  be judged" ranks above "unreliable"; 1 1.0, 2 0.8, 3 0.6, 4 0.4, 5 0.2, 6 0.3), an
  ungraded half as 0.3; a source's grade is the product of its two weights;
- ``best`` is the best grade of any source of any of its reports (0 without sources);
- ``sources`` is the number of independent sources: distinct publishers (else URL hosts,
  else kinds) across its reports;
- ``keys`` is the number of distinct reporter keys among its reports;

    confidence = 0.5 * best + 0.2 * (1 - 0.5 ^ sources) + 0.3 * (1 - 0.5 ^ (keys - 1))

so a lone ungraded report is 0, a lone report with one A1 source 0.6, and every further
independent source or key adds half as much as the one before. Bands: ``high`` from 0.7,
``medium`` from 0.4, else ``low``. A verified or disputed incident keeps its confidence
while reports wait for review (it is published with its figures, by a verifier).
"""

from __future__ import annotations

from service.event.terms import ConfidenceBand

_RELIABILITY = {"A": 1.0, "B": 0.8, "C": 0.6, "D": 0.4, "E": 0.2, "F": 0.3}
_CREDIBILITY = {1: 1.0, 2: 0.8, 3: 0.6, 4: 0.4, 5: 0.2, 6: 0.3}
UNGRADED = 0.3
HIGH, MEDIUM = 0.7, 0.4
__all__ = ["CONFIDENCE_RULE", "SINGLE_REPORT", "ConfidenceBand", "band_sql"]


def _case(expression: str, weights: dict) -> str:
    whens = " ".join(f"WHEN {k!r} THEN {v}" for k, v in weights.items())
    return f"(CASE {expression} {whens} ELSE {UNGRADED} END)"


def grade_sql(source: str) -> str:
    """The grade of one source (a jsonb object), as SQL."""
    return (
        f"{_case(f'{source}->>' + repr('reliability'), _RELIABILITY)}"
        f" * {_case(f'{source}->>' + repr('credibility'), {str(k): v for k, v in _CREDIBILITY.items()})}"
    )


def who_sql(source: str) -> str:
    """Who a source is, for counting independent sources."""
    return (
        f"lower(coalesce({source}->>'publisher',"
        f" substring({source}->>'url' from '^[a-z]+://([^/:?#]+)'), {source}->>'kind'))"
    )


def score_sql(best: str, sources: str, keys: str) -> str:
    return (
        f"(0.5 * {best} + 0.2 * (1 - power(0.5, {sources}))"
        f" + 0.3 * (1 - power(0.5, greatest({keys}, 1) - 1)))"
    )


def band_sql(confidence: str) -> str:
    return (
        f"(CASE WHEN {confidence} >= {HIGH} THEN 'high'"
        f" WHEN {confidence} >= {MEDIUM} THEN 'medium' ELSE 'low' END)"
    )


# A CTE ``confidence`` (incident_id, confidence) over the incidents bound as ``:ids``.
CONFIDENCE_RULE = f"""
    confidence AS (
        SELECT r.incident_id,
               {score_sql("coalesce(max(g.grade), 0)", "count(DISTINCT g.who)", "count(DISTINCT r.reporter_key_id)")}
                   AS confidence
        FROM reports r
        LEFT JOIN LATERAL (
            SELECT {grade_sql("s")} AS grade, {who_sql("s")} AS who
            FROM jsonb_array_elements(r.sources) s
        ) g ON true
        WHERE r.incident_id = ANY(:ids)
        GROUP BY r.incident_id
    )
"""

# One report's sources alone (an incident it opens), over a reports row aliased ``r``: one
# pass over its sources.
_BEST = "coalesce(max(" + grade_sql("s") + "), 0)"
_SOURCES = "count(DISTINCT " + who_sql("s") + ")"
SINGLE_REPORT = (
    "(SELECT " + score_sql(_BEST, _SOURCES, "1") + " FROM jsonb_array_elements(r.sources) s)"
)
