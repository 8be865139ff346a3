"""Parties, guarantors and name resolution over HTTP."""

import pytest


def test_every_party_with_aliases_coverage_and_guarantors(client):
    parties = client.get("/v1/parties").json()
    by_id = {p["id"]: p for p in parties}
    assert len(by_id) == 18
    gov = by_id["syrian-government-forces"]
    assert "Syrian Arab Army" in gov["aliases"]
    assert {g["id"] for g in gov["guarantors"]} == {"RUS", "IRN"}
    assert gov["coverage"] == [{"coverage": "covered", "valid_from": None, "valid_to": None}]
    zenki = by_id["nour-al-din-al-zenki"]
    assert zenki["coverage"] == [
        {"coverage": "covered", "valid_from": None, "valid_to": "2017-01-27"},
        {"coverage": "excluded", "valid_from": "2017-01-28", "valid_to": None},
    ]
    assert zenki["side"] == "opposition"


def test_one_party_and_an_unknown_one(client):
    assert client.get("/v1/parties/islamic-state").json()["coverage"][0]["coverage"] == "excluded"
    missing = client.get("/v1/parties/no-such-party")
    assert missing.status_code == 404
    assert missing.headers["content-type"] == "application/problem+json"


def test_guarantors_and_the_parties_they_answer_for(client):
    guarantors = {g["id"]: g for g in client.get("/v1/guarantors").json()}
    assert set(guarantors) == {"RUS", "TUR", "IRN"}
    assert guarantors["TUR"]["name"] == "Republic of Turkey"
    tur_parties = {p["id"]: p for p in guarantors["TUR"]["parties"]}
    assert "free-syrian-army" in tur_parties
    assert tur_parties["nour-al-din-al-zenki"]["valid_to"] == "2017-01-27"


@pytest.mark.parametrize(
    ("name", "date", "party_id", "coverage", "guarantors"),
    [
        ("Jabhat al-Nusra", "2017-01-10", "jabhat-fateh-al-sham", "excluded", []),
        ("Syrian Arab Army", "2017-01-10", "syrian-government-forces", "covered", ["IRN", "RUS"]),
        ("Nour al-Din al-Zenki", "2017-01-20", "nour-al-din-al-zenki", "covered", ["TUR"]),
        ("Nour al-Din al-Zenki", "2017-02-10", "nour-al-din-al-zenki", "excluded", []),
        ("hayat tahrir al sham", "2017-02-10", "hayat-tahrir-al-sham", "excluded", []),
    ],
)
def test_resolve(client, name, date, party_id, coverage, guarantors):
    response = client.get("/v1/parties/resolve", params={"name": name, "date": date})
    assert response.status_code == 200
    body = response.json()
    assert body["id"] == party_id
    assert body["date"] == date
    assert body["ceasefire_coverage"] == coverage
    assert sorted(body["guarantors"]) == guarantors
    assert body["matched_alias"]


def test_resolve_defaults_to_today(client):
    body = client.get("/v1/parties/resolve", params={"name": "SAA"}).json()
    assert body["id"] == "syrian-government-forces" and body["date"] >= "2026-01-01"


def test_resolve_an_unknown_name_is_a_404_problem(client):
    response = client.get("/v1/parties/resolve", params={"name": "Fatah Halab"})
    assert response.status_code == 404
    assert "Fatah Halab" in response.json()["detail"]


@pytest.mark.parametrize(
    "params", [{"name": "SAA", "date": "2017-02-30"}, {"name": ""}, {"date": "2017-01-01"}]
)
def test_resolve_rejects_bad_queries(client, params):
    assert client.get("/v1/parties/resolve", params=params).status_code == 400
