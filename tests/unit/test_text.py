import pytest

from service.text import normalise_name


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ("Hay'at Tahrir al-Sham", "HAYAT TAHRIR AL SHAM"),
        ("Idlib", "  idlib. "),
        ("Dar'a", "Dara"),
        ("Jabhat al-Nusra", "jabhat alnusra"),
        ("Ḥalab", "Halab"),
        ("إدلب", "ادلب"),  # hamza carrier folded
    ],
)
def test_equivalent_names_share_a_key(a, b):
    assert normalise_name(a) == normalise_name(b)


def test_different_names_differ():
    assert normalise_name("Idlib") != normalise_name("Idleb")
    assert normalise_name("IS") != normalise_name("ISIS")


def test_punctuation_only_is_empty():
    assert normalise_name(" -'.,") == ""
