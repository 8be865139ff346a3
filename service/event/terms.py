"""The terms an event is described and filtered by: its review status, its ceasefire status,
its kind, how precise its time is and how its place was matched."""

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


class TimePrecision(enum.StrEnum):
    exact = "exact"
    hour = "hour"
    day = "day"
    week = "week"


class LocationMatch(enum.StrEnum):
    inside = "inside"
    nearest = "nearest"
    province_only = "province_only"
