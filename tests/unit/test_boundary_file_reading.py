"""The loader's checks that need no database: structure, properties, codes, geometry types."""

import pytest

from service.geography.loader import BoundaryError, PropertyMap, _read_features
from tests.boundary_files import feature, square, write_collection

PROPS = PropertyMap(code="CODE", name_en="NAME", parent="PARENT")


def test_reads_codes_names_and_alternates(tmp_path):
    path = write_collection(
        tmp_path / "ok.geojson",
        [feature({"CODE": "X1", "NAME": "Ex", "PARENT": "P", "ALT": "Eks"}, square(0, 0))],
    )
    [f] = _read_features(path, PropertyMap("CODE", "NAME", parent="PARENT", alt_names=("ALT",)), 2)
    assert (f.code, f.name_en, f.parent, f.alt_names) == ("X1", "Ex", "P", ("Eks",))


@pytest.mark.parametrize(
    ("features", "message"),
    [
        ([feature({"NAME": "No code", "PARENT": "P"}, square(0, 0))], "missing property 'CODE'"),
        ([feature({"CODE": "A", "PARENT": "P"}, square(0, 0))], "missing property 'NAME'"),
        ([feature({"CODE": "A", "NAME": "A"}, square(0, 0))], "missing property 'PARENT'"),
        (
            [
                feature({"CODE": "A", "NAME": "A", "PARENT": "P"}, square(0, 0)),
                feature({"CODE": "A", "NAME": "A again", "PARENT": "P"}, square(1, 1)),
            ],
            "duplicate code 'A'",
        ),
        (
            [
                feature(
                    {"CODE": "A", "NAME": "A", "PARENT": "P"},
                    {"type": "Point", "coordinates": [0, 0]},
                )
            ],
            "Polygon or MultiPolygon",
        ),
        ([], "no features"),
    ],
)
def test_refusals_name_the_feature_and_the_reason(tmp_path, features, message):
    path = write_collection(tmp_path / "bad.geojson", features)
    with pytest.raises(BoundaryError, match=message):
        _read_features(path, PROPS, 2)


def test_projected_crs_is_refused(tmp_path):
    path = write_collection(
        tmp_path / "3857.geojson",
        [feature({"CODE": "A", "NAME": "A", "PARENT": "P"}, square(0, 0))],
        crs={"type": "name", "properties": {"name": "urn:ogc:def:crs:EPSG::3857"}},
    )
    with pytest.raises(BoundaryError, match="CRS84"):
        _read_features(path, PROPS, 2)


def test_not_json_is_refused(tmp_path):
    path = tmp_path / "broken.geojson"
    path.write_text("{not json")
    with pytest.raises(BoundaryError, match="not valid GeoJSON"):
        _read_features(path, PROPS, 2)
