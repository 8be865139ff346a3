from __future__ import annotations

import datetime as dt

from pydantic import BaseModel

from service.party.models import Coverage


class CoverageSpanRead(BaseModel):
    coverage: Coverage
    valid_from: dt.date | None
    valid_to: dt.date | None


class GuarantorSpanRead(BaseModel):
    id: str
    valid_from: dt.date | None
    valid_to: dt.date | None


class PartyRead(BaseModel):
    id: str
    name: str
    side: str
    target_only: bool
    aliases: list[str]
    coverage: list[CoverageSpanRead]
    guarantors: list[GuarantorSpanRead]


class PartyResolution(BaseModel):
    id: str
    name: str
    matched_alias: str
    date: dt.date
    ceasefire_coverage: Coverage | None
    guarantors: list[str]


class GuarantorPartyRead(BaseModel):
    id: str
    name: str
    valid_from: dt.date | None
    valid_to: dt.date | None


class GuarantorRead(BaseModel):
    id: str
    name: str
    parties: list[GuarantorPartyRead]
