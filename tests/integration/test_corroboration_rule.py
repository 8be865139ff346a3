"""The corroboration rule's two SQL forms agree: ``plausible_sql`` (claims, duplicates) and
``walk_sql`` (automatic correlation's index walk), over a grid of incident and report pairs:
every pair of violation types, times around the window's edges, points around the distance's
edge in four directions, points missing on either side, the same or another province."""

from sqlalchemy import text

from service.config import get_settings
from service.event.terms import ViolationType
from service.incident.correlation import KM_PER_DEGREE
from service.incident.corroboration import FAMILIES, FAMILY_OF, bounds, plausible_sql, walk_sql

_PAIRS = """
    WITH types AS (
        SELECT t.type, string_to_array(t.family_types, ',') AS family_types
        FROM unnest(CAST(:types AS text[]), CAST(:family_types AS text[])) AS t(type, family_types)
    ),
    offsets AS (SELECT make_interval(secs => s) AS shift FROM unnest(CAST(:seconds AS int[])) AS s),
    places AS (
        -- the report's point: metres north, east, south or west of the incident's, or none
        SELECT m.metres, b.bearing, pv.province_pcode
        FROM unnest(CAST(:metres AS float8[])) AS m(metres)
        CROSS JOIN unnest(ARRAY[0, 90, 180, 270, NULL]) AS b(bearing)
        CROSS JOIN unnest(ARRAY['SY02', 'SY07']) AS pv(province_pcode)
    ),
    incidents AS (
        SELECT n, CAST('2016-06-01T12:00:00Z' AS timestamptz) AS occurred_at,
               CASE WHEN n = 0 THEN NULL ELSE ST_SetSRID(ST_MakePoint(37.1, 36.2), 4326) END AS geom,
               'SY02' AS province_pcode
        FROM generate_series(0, 1) AS n
    ),
    pairs AS (
        SELECT it.type AS violation_type, i.occurred_at, i.geom, i.province_pcode,
               rt.type AS r_type, rt.family_types, i.occurred_at + o.shift AS r_occurred_at,
               CASE WHEN p.bearing IS NOT NULL THEN CAST(ST_Project(
                   CAST(ST_SetSRID(ST_MakePoint(37.1, 36.2), 4326) AS geography),
                   p.metres, radians(p.bearing)) AS geometry) END AS r_geom,
               p.province_pcode AS r_province_pcode
        FROM types it CROSS JOIN types rt CROSS JOIN offsets o CROSS JOIN places p
        CROSS JOIN incidents i
    )
    SELECT count(*) AS pairs,
           count(*) FILTER (WHERE plausible) AS plausible,
           count(*) FILTER (WHERE plausible IS DISTINCT FROM walked) AS disagree
    FROM pairs
    CROSS JOIN LATERAL (
        SELECT violation_type, occurred_at, geom, province_pcode
    ) i
    CROSS JOIN LATERAL (
        SELECT r_type AS violation_type, r_occurred_at AS occurred_at, r_geom AS geom,
               r_province_pcode AS province_pcode, family_types,
               ST_Expand(r_geom, :box) AS box
    ) x
    CROSS JOIN LATERAL (
        SELECT {plausible} AS plausible, {walked} AS walked
    ) v
"""


def test_the_walk_finds_exactly_the_pairs_the_rule_finds(db):
    types = [t.value for t in ViolationType]
    hours = get_settings().corroboration_max_hours
    edge = int(hours * 3600)
    metres = get_settings().corroboration_max_distance_km * 1000
    row = (
        db.execute(
            text(_PAIRS.format(plausible=plausible_sql("i", "x"), walked=walk_sql("i", "x"))),
            {
                "types": types,
                "family_types": [",".join(t.value for t in FAMILIES[FAMILY_OF[t]]) for t in types],
                "seconds": [-edge - 1, -edge, -60, 0, 3600, edge, edge + 1],
                "metres": [0.0, metres - 10, metres + 10, metres * 1.9, metres * 3],
                "box": get_settings().corroboration_max_distance_km / KM_PER_DEGREE * 2,
                **bounds(),
            },
        )
        .mappings()
        .one()
    )
    assert row["pairs"] == len(types) ** 2 * 7 * (5 * 5 * 2) * 2
    # Both answers occur, so the grid tests the rule (not a corner of it) ...
    assert 0 < row["plausible"] < row["pairs"]
    # ... and the two forms give the same answer on every pair.
    assert row["disagree"] == 0
