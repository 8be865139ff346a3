"""Resolving party names as of a date: coverage and guarantors change over time."""

import datetime as dt

import pytest

from service.party.service import resolve


@pytest.mark.parametrize(
    "name", ["Jabhat al-Nusra", "al-Nusra Front", "JFS", "jabhat fatah al sham", "NUSRA"]
)
def test_nusra_resolves_to_the_excluded_party(db, name):
    party = resolve(session=db, name=name, on=dt.date(2017, 1, 10))
    assert party is not None
    assert (party.id, party.ceasefire_coverage, party.guarantors) == (
        "jabhat-fateh-al-sham",
        "excluded",
        (),
    )


def test_syrian_arab_army_is_covered_and_answered_for_by_russia(db):
    party = resolve(session=db, name="Syrian Arab Army", on=dt.date(2017, 1, 10))
    assert party is not None
    assert party.id == "syrian-government-forces"
    assert party.ceasefire_coverage == "covered"
    assert "RUS" in party.guarantors
    assert party.matched_alias == "Syrian Arab Army"


def test_zenki_changes_on_joining_hts(db):
    before = resolve(session=db, name="Nour al-Din al-Zenki", on=dt.date(2017, 1, 20))
    after = resolve(session=db, name="Nour al-Din al-Zenki", on=dt.date(2017, 2, 10))
    assert before is not None and after is not None
    assert (before.ceasefire_coverage, before.guarantors) == ("covered", ("TUR",))
    assert (after.ceasefire_coverage, after.guarantors) == ("excluded", ())
    edge = resolve(session=db, name="Zenki", on=dt.date(2017, 1, 27))
    assert edge is not None and edge.ceasefire_coverage == "covered"
    joined = resolve(session=db, name="Zenki", on=dt.date(2017, 1, 28))
    assert joined is not None and joined.ceasefire_coverage == "excluded"


def test_hts_has_no_standing_before_it_was_formed(db):
    party = resolve(session=db, name="HTS", on=dt.date(2017, 1, 1))
    assert party is not None and party.ceasefire_coverage is None
    party = resolve(session=db, name="Hay'at Tahrir al-Sham", on=dt.date(2017, 3, 1))
    assert party is not None and party.ceasefire_coverage == "excluded"


@pytest.mark.parametrize(
    ("name", "party_id"),
    [
        ("Government of Syria", "syrian-government-forces"),
        ("Syrian insurgents", "free-syrian-army"),
        ("IS", "islamic-state"),
        ("SDF", "syrian-democratic-forces"),
        ("Civilians", "civilians"),
        ("NDF (Syria)", "national-defence-forces"),
        ("Government of Turkey", "turkish-forces"),
        ("hayat-tahrir-al-sham", "hayat-tahrir-al-sham"),
    ],
)
def test_ucdp_actor_names_resolve(db, name, party_id):
    party = resolve(session=db, name=name, on=dt.date(2017, 1, 15))
    assert party is not None and party.id == party_id


def test_unknown_names_resolve_to_nothing(db):
    assert resolve(session=db, name="Fatah Halab", on=dt.date(2017, 1, 15)) is None
    assert resolve(session=db, name="  ", on=dt.date(2017, 1, 15)) is None
