"""Loading boundaries: the real OCHA files load idempotently; bad files load nothing."""

import pytest
from sqlalchemy import text

from service.config import get_settings
from service.geography.loader import BoundaryError, PropertyMap, load_boundaries
from service.theatre.service import seed
from tests.boundary_files import feature, square, write_collection

LEVEL1 = PropertyMap(code="CODE", name_en="NAME")
LEVEL2 = PropertyMap(code="CODE", name_en="NAME", parent="PARENT")


def area_count(db) -> int:
    return db.execute(text("SELECT count(*) FROM admin_areas")).scalar_one()


def test_the_real_data_is_loaded(db):
    counts = dict(db.execute(text("SELECT level, count(*) FROM admin_areas GROUP BY level")).all())
    assert counts == {1: 14, 2: 62}
    codes = db.execute(text("SELECT pcode FROM admin_areas WHERE level = 1 ORDER BY 1")).scalars()
    assert list(codes) == [f"SY{n:02d}" for n in range(1, 15)]
    orphans = db.execute(
        text("SELECT count(*) FROM admin_areas WHERE level = 2 AND parent_pcode IS NULL")
    ).scalar_one()
    assert orphans == 0


def test_seeding_twice_writes_nothing(db):
    def row_versions():
        return db.execute(
            text(
                "SELECT (SELECT array_agg(xmin::text ORDER BY pcode) FROM admin_areas),"
                " (SELECT count(*) FROM admin_area_names), (SELECT count(*) FROM admin_area_pieces),"
                " (SELECT array_agg(xmin::text ORDER BY alias_norm) FROM party_aliases),"
                " (SELECT array_agg(xmin::text ORDER BY id) FROM party_coverage),"
                " (SELECT array_agg(xmin::text ORDER BY id) FROM theatres)"
            )
        ).one()

    before = row_versions()
    settings = get_settings()
    result = seed(db, theatre_file=settings.theatre_file, data_dir=settings.data_dir)
    assert result.rows_written == 0
    assert [b.unchanged for b in result.boundaries] == [14, 62]
    assert row_versions() == before


def test_a_new_file_loads_and_reloads_unchanged(db, tmp_path):
    path = write_collection(
        tmp_path / "zones.geojson",
        [
            feature({"CODE": "Z1", "NAME": "Zone one"}, square(40, 10)),
            feature({"CODE": "Z2", "NAME": "Zone two"}, square(41, 10)),
        ],
    )
    first = load_boundaries(db, path=path, level=1, properties=LEVEL1)
    assert (first.inserted, first.unchanged) == (2, 0)
    again = load_boundaries(db, path=path, level=1, properties=LEVEL1)
    assert (again.inserted, again.updated, again.unchanged) == (0, 0, 2)
    pieces = db.execute(text("SELECT count(*) FROM admin_area_pieces WHERE pcode LIKE 'Z%'"))
    assert pieces.scalar_one() == 2


def test_a_changed_area_is_updated(db, tmp_path):
    path = tmp_path / "zones.geojson"
    write_collection(path, [feature({"CODE": "Z1", "NAME": "Zone one"}, square(40, 10))])
    load_boundaries(db, path=path, level=1, properties=LEVEL1)
    write_collection(path, [feature({"CODE": "Z1", "NAME": "Zone one"}, square(40, 10, 0.2))])
    result = load_boundaries(db, path=path, level=1, properties=LEVEL1)
    assert (result.updated, result.changed_codes) == (1, ["Z1"])


BOW_TIE = {"type": "Polygon", "coordinates": [[[0, 0], [1, 1], [1, 0], [0, 1], [0, 0]]]}
SHORT_RING = {"type": "Polygon", "coordinates": [[[0, 0], [1, 1]]]}
GARBAGE = {"type": "Polygon", "coordinates": [["north", "east"]]}


@pytest.mark.parametrize(
    ("features", "level", "props", "message"),
    [
        (
            [
                feature({"CODE": "G1", "NAME": "Good"}, square(40, 10)),
                feature({"CODE": "B1", "NAME": "Bow tie"}, BOW_TIE),
            ],
            1,
            LEVEL1,
            r"invalid geometry, nothing loaded \(B1: Self-intersection",
        ),
        (
            [
                feature({"CODE": "G1", "NAME": "Good"}, square(40, 10)),
                feature({"CODE": "B1", "NAME": "Short"}, SHORT_RING),
            ],
            1,
            LEVEL1,
            r"invalid geometry, nothing loaded \(B1: .*LinearRing",
        ),
        (
            [
                feature({"CODE": "G1", "NAME": "Good"}, square(40, 10)),
                feature({"CODE": "B1", "NAME": "Garbage"}, GARBAGE),
            ],
            1,
            LEVEL1,
            "feature B1: unreadable geometry",
        ),
        (
            [
                feature(
                    {"CODE": "C1", "NAME": "Child", "PARENT": "SY07"}, square(36.6, 35.9, 0.01)
                ),
                feature(
                    {"CODE": "C2", "NAME": "Orphan", "PARENT": "SY99"}, square(36.7, 35.9, 0.01)
                ),
            ],
            3,
            LEVEL2,
            "C2 names parent 'SY99', which is not a loaded level 2 area",
        ),
    ],
)
def test_a_bad_file_loads_nothing(db, tmp_path, features, level, props, message):
    before = area_count(db)
    path = write_collection(tmp_path / "bad.geojson", features)
    with pytest.raises(BoundaryError, match=message):
        load_boundaries(db, path=path, level=level, properties=props)
    db.rollback()
    assert area_count(db) == before


def test_a_level_2_file_needs_a_parent_property(db, tmp_path):
    path = write_collection(
        tmp_path / "x.geojson", [feature({"CODE": "C", "NAME": "C"}, square(0, 0))]
    )
    with pytest.raises(BoundaryError, match="need a parent property"):
        load_boundaries(db, path=path, level=2, properties=LEVEL1)
