"""The event as the API shows it: ``EventRead``, which ``ReportRead`` and ``IncidentRead``
extend, and the parts it is made of. ``service.event.reads.event_fields`` fills it."""

from __future__ import annotations

import datetime as dt
from typing import Literal

from pydantic import BaseModel

from service.event.terms import CeasefireStatus, LocationMatch, TimePrecision, ViolationType


class AreaBrief(BaseModel):
    pcode: str
    name_en: str


class PartyRef(BaseModel):
    raw: str | None
    party_id: str | None
    party_name: str | None


class PointOut(BaseModel):
    type: Literal["Point"]
    coordinates: list[float]


class CasualtiesOut(BaseModel):
    killed: int
    injured: int
    civilians_killed: int


class EventRead(BaseModel):
    # Its fields come after the extending model's identity when that is a base listed after
    # this one (``class ReportRead(EventRead, _ReportIdentity)``): pydantic orders fields
    # from the last base to the first, then the model's own.
    occurred_at: dt.datetime
    time_precision: TimePrecision
    location: PointOut | None
    geo_precision: str | None
    place_name: str | None
    province: AreaBrief
    district: AreaBrief | None
    location_match: LocationMatch
    location_distance_km: float | None
    violation_type: ViolationType
    perpetrator: PartyRef
    target: PartyRef
    responsible_guarantors: list[str]
    ceasefire_status: CeasefireStatus
    casualties: CasualtiesOut
