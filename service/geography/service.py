"""Where things are: locating a point in the administrative areas and resolving area names."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import text
from sqlalchemy.orm import Session

from service.config import get_settings
from service.errors import Invalid, InvalidParameter, NotFound
from service.text import normalise_name

PROVINCE_LEVEL = 1
DISTRICT_LEVEL = 2


@dataclass(frozen=True)
class AreaRef:
    pcode: str
    name_en: str
    name_ar: str | None


@dataclass(frozen=True)
class Location:
    province: AreaRef
    district: AreaRef | None
    match: str  # "inside" | "nearest"
    distance_km: float


class OutsideArea(Invalid):
    """The point is farther than the allowed distance from every area."""


# One statement for a whole batch: each point's containing district and province, tested
# against the subdivided pieces (a few dozen vertices each, GiST-indexed), and, only for the
# rare point outside them, the nearest areas: the index orders candidates by planar distance
# and the true distance (metres on the spheroid) decides among the three nearest. A point
# outside every province gets the nearest province (the caller applies the distance limit)
# and that province's nearest district; a point in a province but no district piece, the
# province's nearest district. The lateral lookups' conditions on the point's own row make
# them empty for every other point.
_LOCATE_MANY = text(
    """
    WITH pts AS (
        SELECT t.ord, ST_SetSRID(ST_MakePoint(t.lon, t.lat), 4326) AS g
        FROM unnest(CAST(:lons AS float8[]), CAST(:lats AS float8[])) WITH ORDINALITY AS t(lon, lat, ord)
    ),
    inside AS MATERIALIZED (
        SELECT pts.ord, pts.g,
               (SELECT p.pcode FROM admin_area_pieces p
                 WHERE p.level = :district_level AND ST_Intersects(p.geom, pts.g)
                 ORDER BY p.pcode LIMIT 1) AS district,
               (SELECT p.pcode FROM admin_area_pieces p
                 WHERE p.level = :province_level AND ST_Intersects(p.geom, pts.g)
                 ORDER BY p.pcode LIMIT 1) AS province
        FROM pts
    )
    SELECT i.ord, i.district, i.province, np.pcode AS near_province, np.metres AS near_metres,
           nd.pcode AS near_district
    FROM inside i
    LEFT JOIN LATERAL (
        SELECT c.pcode, ST_Distance(c.geom::geography, i.g::geography) AS metres
        FROM (SELECT a.pcode, a.geom FROM admin_areas a
              WHERE a.level = :province_level AND i.district IS NULL AND i.province IS NULL
              ORDER BY a.geom <-> i.g LIMIT 3) c
        ORDER BY metres, c.pcode LIMIT 1
    ) np ON true
    LEFT JOIN LATERAL (
        SELECT c.pcode
        FROM (SELECT a.pcode, a.geom FROM admin_areas a
              WHERE a.level = :district_level AND i.district IS NULL
                AND a.parent_pcode = coalesce(i.province, np.pcode)
                -- none for a point refused as too far (as many as a batch holds)
                AND (i.province IS NOT NULL OR np.metres <= :limit_m)
              ORDER BY a.geom <-> i.g LIMIT 3) c
        ORDER BY ST_Distance(c.geom::geography, i.g::geography), c.pcode LIMIT 1
    ) nd ON true
    ORDER BY i.ord
    """
)


@dataclass(frozen=True)
class _AreaRow:
    ref: AreaRef
    level: int
    parent: str | None


def area_rows(session: Session) -> dict[str, _AreaRow]:
    """Names and parents of every area (no geometry: a few kilobytes)."""
    return {
        row.pcode: _AreaRow(
            AreaRef(row.pcode, row.name_en, row.name_ar), row.level, row.parent_pcode
        )
        for row in session.execute(
            text("SELECT pcode, name_en, name_ar, level, parent_pcode FROM admin_areas")
        )
    }


def locate_many(
    *,
    session: Session,
    points: list[tuple[float, float]],
    areas: dict[str, _AreaRow] | None = None,
) -> list[Location | OutsideArea]:
    """Locate (lon, lat) points in one statement, the points outside every area included.

    Each result is a Location, or the OutsideArea error for that point. ``areas``: the
    caller's ``area_rows``, when it already read them.
    """
    if not points:
        return []
    areas = area_rows(session) if areas is None else areas
    limit_km = get_settings().locate_max_distance_km
    rows = session.execute(
        _LOCATE_MANY,
        {
            "lons": [p[0] for p in points],
            "lats": [p[1] for p in points],
            "province_level": PROVINCE_LEVEL,
            "district_level": DISTRICT_LEVEL,
            "limit_m": limit_km * 1000,
        },
    ).all()
    results: list[Location | OutsideArea] = []
    for row in rows:
        # On a shared border the two levels may pick different neighbours: trust the district.
        province = areas[row.district].parent if row.district else row.province
        if province is not None:
            district = row.district or row.near_district
            results.append(
                Location(
                    province=areas[province].ref,
                    district=areas[district].ref if district else None,
                    match="inside",
                    distance_km=0.0,
                )
            )
            continue
        if row.near_province is None or row.near_metres / 1000 > limit_km:
            detail = "the point is outside the area monitored"
            if row.near_province is not None:
                detail += (
                    f" ({row.near_metres / 1000:.1f} km from the nearest province;"
                    f" the limit is {limit_km:g} km)"
                )
            results.append(OutsideArea(detail))
            continue
        results.append(
            Location(
                province=areas[row.near_province].ref,
                district=areas[row.near_district].ref if row.near_district else None,
                match="nearest",
                distance_km=round(row.near_metres / 1000, 3),
            )
        )
    return results


def locate(*, session: Session, lon: float, lat: float) -> Location:
    """The province and district of a point; the nearest within the allowed distance.

    Raises OutsideArea when the point is farther than that from every province.
    """
    [result] = locate_many(session=session, points=[(lon, lat)])
    if isinstance(result, OutsideArea):
        raise result
    return result


class AreaNames:
    """Every known name of the areas of one level, normalised, loaded in one query."""

    def __init__(self, by_name: dict[str, AreaRef]) -> None:
        self._by_name = by_name

    @classmethod
    def load(cls, session: Session, level: int = PROVINCE_LEVEL) -> AreaNames:
        rows = session.execute(
            text(
                "SELECT DISTINCT ON (n.name_norm) n.name_norm, a.pcode, a.name_en, a.name_ar"
                " FROM admin_area_names n JOIN admin_areas a ON a.pcode = n.pcode"
                " WHERE n.level = :level ORDER BY n.name_norm, a.pcode"
            ),
            {"level": level},
        )
        return cls({row.name_norm: AreaRef(row.pcode, row.name_en, row.name_ar) for row in rows})

    def resolve(self, name: str) -> AreaRef | None:
        """An area by P-code or by any of its names (case-, accent- and punctuation-insensitive)."""
        key = normalise_name(name)
        return self._by_name.get(key) if key else None


def resolve_area(*, session: Session, name: str, level: int = PROVINCE_LEVEL) -> AreaRef | None:
    return AreaNames.load(session, level).resolve(name)


def resolve_province(
    *, session: Session, name: str, names: AreaNames | None = None, location: str = "query"
) -> AreaRef:
    """A governorate by P-code or any known name, for every filter that names one (event
    filters, digests, subscriptions, districts): an unknown name is the same 400 everywhere.
    ``location`` says where the client gave it (``query`` or ``body``)."""
    area = (names or AreaNames.load(session)).resolve(name)
    if area is None:
        raise InvalidParameter("province", f"no province is known as {name!r}", location=location)
    return area


# Features are written as text by PostgreSQL: no per-row Python work (see map-serving.md).
# Stored rings are counter-clockwise (RFC 7946); a simplified ring is re-oriented to stay so.
_FEATURE_ROWS = """
    SELECT a.pcode,
           '{"type":"Feature","id":' || to_json(a.pcode)::text
           || ',"geometry":' || ST_AsGeoJSON(
                  CASE WHEN CAST(:simplify AS float8) > 0
                       THEN ST_ForcePolygonCCW(
                                ST_SimplifyPreserveTopology(a.geom, CAST(:simplify AS float8)))
                       ELSE a.geom END, 6)
           || ',"properties":' || json_build_object(
                  'pcode', a.pcode, 'name_en', a.name_en, 'name_ar', a.name_ar,
                  'level', a.level, 'parent_pcode', a.parent_pcode)::text
           || '}' AS feature
    FROM admin_areas a
    WHERE a.level = :level
      AND (CAST(:pcode AS text) IS NULL OR a.pcode = :pcode)
      AND (CAST(:parent AS text) IS NULL OR a.parent_pcode = :parent)
"""
_COLLECTION = text(
    'SELECT \'{"type":"FeatureCollection","features":[\''
    " || coalesce(string_agg(feature, ',' ORDER BY pcode), '') || ']}'"
    f" FROM ({_FEATURE_ROWS}) f"
)
_ONE = text(f"SELECT feature FROM ({_FEATURE_ROWS}) f")


def feature_collection(
    *, session: Session, level: int, simplify: float = 0.0, parent: str | None = None
) -> bytes:
    params = {"level": level, "simplify": simplify, "pcode": None, "parent": parent}
    return session.execute(_COLLECTION, params).scalar_one().encode()


def feature(*, session: Session, level: int, pcode: str, simplify: float = 0.0) -> bytes:
    params = {"level": level, "simplify": simplify, "pcode": pcode, "parent": None}
    body = session.execute(_ONE, params).scalar()
    if body is None:
        raise NotFound(f"no area with code {pcode!r} at level {level}")
    return body.encode()
