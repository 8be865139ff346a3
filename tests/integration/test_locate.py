"""Locating points in the real OCHA boundaries and resolving area names."""

import pytest

from service.geography.service import DISTRICT_LEVEL, OutsideArea, locate, resolve_area


def test_a_point_inside_idleb(db):
    where = locate(session=db, lon=36.63, lat=35.93)
    assert (where.province.pcode, where.province.name_en) == ("SY07", "Idleb")
    assert where.district is not None and where.district.pcode.startswith("SY07")
    assert (where.match, where.distance_km) == ("inside", 0.0)


@pytest.mark.parametrize(
    ("lon", "lat", "pcode"),
    [
        (35.85, 34.90, "SY10"),  # just off the Tartous coast
        (35.90, 35.15, "SY10"),  # off Jablah/Baniyas (the coast south of Lattakia)
    ],
)
def test_a_point_just_off_the_coast_is_nearest(db, lon, lat, pcode):
    where = locate(session=db, lon=lon, lat=lat)
    assert where.match == "nearest"
    assert where.province.pcode == pcode
    assert 0 < where.distance_km <= 5
    assert where.district is not None and where.district.pcode.startswith(pcode)


@pytest.mark.parametrize(
    ("lon", "lat"),
    [
        (33.36, 35.17),  # Nicosia, Cyprus
        (35.93, 36.63),  # Idleb with its axes swapped: lands in Turkey... or the sea
        (0.0, 0.0),
    ],
)
def test_points_far_outside_are_refused(db, lon, lat):
    with pytest.raises(OutsideArea, match="outside the area monitored"):
        locate(session=db, lon=lon, lat=lat)


@pytest.mark.parametrize(
    "name",
    [
        "SY07",
        "sy07",
        "Idleb",
        "Idlib",
        "IDLIB",
        "idlib governorate",
        "Idlib Governorate",
        "إدلب",
        "ادلب",
    ],
)
def test_province_names_resolve_to_idleb(db, name):
    area = resolve_area(session=db, name=name)
    assert area is not None and area.pcode == "SY07"


@pytest.mark.parametrize(
    ("name", "pcode"),
    [
        ("Rif Dimashq Governorate", "SY03"),
        ("Dar'a", "SY12"),
        ("Daraa", "SY12"),
        ("Deir ez Zor Governorate", "SY09"),
        ("Al-Hasakeh", "SY08"),
        ("Hamah Governorate", "SY05"),
        ("Tartus", "SY10"),
        ("As Suwayda", "SY13"),
        ("Ar Raqqah", "SY11"),
        ("Latakia", "SY06"),
    ],
)
def test_real_data_spellings_resolve(db, name, pcode):
    area = resolve_area(session=db, name=name)
    assert area is not None and area.pcode == pcode


@pytest.mark.parametrize("name", ["Atlantis", "", "---", "SY0700"])
def test_unknown_province_names_resolve_to_nothing(db, name):
    assert resolve_area(session=db, name=name) is None


def test_district_names_resolve_at_their_level(db):
    area = resolve_area(session=db, name="SY0700", level=DISTRICT_LEVEL)
    assert area is not None and area.pcode == "SY0700"
