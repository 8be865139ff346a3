"""The terms an event is described and filtered by: its review status, its ceasefire status,
its kind, how precise its time is and how its place was matched."""

from __future__ import annotations

import enum

# Each term's value is its name. Written as lists: a class per term would only repeat them.
IncidentStatus = enum.StrEnum(
    "IncidentStatus", ["unverified", "verified", "disputed", "rejected", "merged"], module=__name__
)
CeasefireStatus = enum.StrEnum(
    "CeasefireStatus", ["violation", "excluded", "not_party", "outside_period"], module=__name__
)
ViolationType = enum.StrEnum(
    "ViolationType",
    [
        "airstrike",
        "shelling",
        "barrel_bomb",
        "missile",
        "small_arms",
        "sniper",
        "ground_assault",
        "ied",
        "chemical",
        "siege",
        "detention",
        "displacement",
        "other",
    ],
    module=__name__,
)
TimePrecision = enum.StrEnum("TimePrecision", ["exact", "hour", "day", "week"], module=__name__)
LocationMatch = enum.StrEnum(
    "LocationMatch", ["inside", "nearest", "province_only"], module=__name__
)
# An incident's confidence band (``service.incident.confidence``): incidents only.
ConfidenceBand = enum.StrEnum("ConfidenceBand", ["low", "medium", "high"], module=__name__)
