"""Where things are: locating a point in the administrative areas and resolving area names."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import text
from sqlalchemy.orm import Session

from service.config import get_settings
from service.errors import Invalid, NotFound
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


_CONTAINING = text(
    """
    SELECT DISTINCT ON (a.level) a.level, a.pcode, a.name_en, a.name_ar, a.parent_pcode
    FROM admin_area_pieces p JOIN admin_areas a ON a.pcode = p.pcode
    WHERE p.level IN (:province_level, :district_level)
      AND ST_Intersects(p.geom, ST_SetSRID(ST_MakePoint(:lon, :lat), 4326))
    ORDER BY a.level, a.pcode
    """
)

# The index orders candidates by planar distance; the true distance (metres on the spheroid)
# decides among the few nearest.
_NEAREST = text(
    """
    WITH pt AS (SELECT ST_SetSRID(ST_MakePoint(:lon, :lat), 4326) AS g),
    candidates AS (
        SELECT a.pcode, a.name_en, a.name_ar, a.parent_pcode, a.geom
        FROM admin_areas a, pt
        WHERE a.level = :level AND (CAST(:parent AS text) IS NULL OR a.parent_pcode = :parent)
        ORDER BY a.geom <-> pt.g
        LIMIT 3
    )
    SELECT c.pcode, c.name_en, c.name_ar, c.parent_pcode,
           ST_Distance(c.geom::geography, pt.g::geography) AS metres
    FROM candidates c, pt
    ORDER BY metres, c.pcode
    LIMIT 1
    """
)


def _ref(row) -> AreaRef:
    return AreaRef(pcode=row.pcode, name_en=row.name_en, name_ar=row.name_ar)


def _nearest(session: Session, lon: float, lat: float, level: int, parent: str | None = None):
    return session.execute(
        _NEAREST, {"lon": lon, "lat": lat, "level": level, "parent": parent}
    ).first()


def locate(*, session: Session, lon: float, lat: float) -> Location:
    """The province and district of a point; the nearest within the allowed distance.

    Raises OutsideArea when the point is farther than that from every province.
    """
    rows = {
        row.level: row
        for row in session.execute(
            _CONTAINING,
            {
                "lon": lon,
                "lat": lat,
                "province_level": PROVINCE_LEVEL,
                "district_level": DISTRICT_LEVEL,
            },
        )
    }
    district = rows.get(DISTRICT_LEVEL)
    province = rows.get(PROVINCE_LEVEL)
    if province is not None and district is not None and district.parent_pcode != province.pcode:
        # On a shared border the two levels may pick different neighbours: trust the district.
        province = None
    if province is None and district is not None:
        province = session.execute(
            text("SELECT pcode, name_en, name_ar FROM admin_areas WHERE pcode = :p"),
            {"p": district.parent_pcode},
        ).first()
    if province is not None:
        if district is None:
            district = _nearest(session, lon, lat, DISTRICT_LEVEL, province.pcode)
        return Location(
            province=_ref(province),
            district=_ref(district) if district is not None else None,
            match="inside",
            distance_km=0.0,
        )

    limit_km = get_settings().locate_max_distance_km
    nearest = _nearest(session, lon, lat, PROVINCE_LEVEL)
    if nearest is None or nearest.metres / 1000 > limit_km:
        detail = "the point is outside the area monitored"
        if nearest is not None:
            detail += f" ({nearest.metres / 1000:.1f} km from the nearest province; the limit is {limit_km:g} km)"
        raise OutsideArea(detail)
    nearest_district = _nearest(session, lon, lat, DISTRICT_LEVEL, nearest.pcode)
    return Location(
        province=_ref(nearest),
        district=_ref(nearest_district) if nearest_district is not None else None,
        match="nearest",
        distance_km=round(nearest.metres / 1000, 3),
    )


def resolve_area(*, session: Session, name: str, level: int = PROVINCE_LEVEL) -> AreaRef | None:
    """An area by P-code or by any of its names (case-, accent- and punctuation-insensitive)."""
    key = normalise_name(name)
    if not key:
        return None
    row = session.execute(
        text(
            "SELECT a.pcode, a.name_en, a.name_ar FROM admin_area_names n"
            " JOIN admin_areas a ON a.pcode = n.pcode"
            " WHERE n.level = :level AND n.name_norm = :key"
            " ORDER BY a.pcode LIMIT 1"
        ),
        {"level": level, "key": key},
    ).first()
    return _ref(row) if row is not None else None


# Features are written as text by PostgreSQL: no per-row Python work (see map-serving.md).
_FEATURE_ROWS = """
    SELECT a.pcode,
           '{"type":"Feature","id":' || to_json(a.pcode)::text
           || ',"geometry":' || ST_AsGeoJSON(
                  CASE WHEN CAST(:simplify AS float8) > 0
                       THEN ST_SimplifyPreserveTopology(a.geom, CAST(:simplify AS float8))
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
