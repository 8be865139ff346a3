"""The terms an event is filtered by: its review status, its ceasefire status, its kind."""

from __future__ import annotations

import enum


class IncidentStatus(enum.StrEnum):
    unverified = "unverified"
    verified = "verified"
    disputed = "disputed"
    rejected = "rejected"
    merged = "merged"


class CeasefireStatus(enum.StrEnum):
    violation = "violation"
    excluded = "excluded"
    not_party = "not_party"
    outside_period = "outside_period"


class ViolationType(enum.StrEnum):
    airstrike = "airstrike"
    shelling = "shelling"
    barrel_bomb = "barrel_bomb"
    missile = "missile"
    small_arms = "small_arms"
    sniper = "sniper"
    ground_assault = "ground_assault"
    ied = "ied"
    chemical = "chemical"
    siege = "siege"
    detention = "detention"
    displacement = "displacement"
    other = "other"
