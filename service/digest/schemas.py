"""The digest document as the API describes it (the stored JSON is served as is)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from pydantic import BaseModel, Field


class Figures(BaseModel):
    incidents: int = Field(description="Counted incidents: every status but rejected and merged.")
    violations: int = Field(description="Incidents the ceasefire's terms call a violation.")
    verified: int = Field(description="Violations a verifier has confirmed.")
    excluded: int = Field(description="Hostilities involving a party the ceasefire excludes.")
    not_party: int = Field(description="Hostilities by a party outside the agreement.")
    killed: int
    injured: int
    civilians_killed: int


class Window(BaseModel):
    start: dt.datetime
    end: dt.datetime


class Comparison(BaseModel):
    """This day's violations against the mean of the preceding days."""

    days: int = Field(description="Days averaged (fewer near the ceasefire's first day).")
    mean: float | None
    change: float | None
    change_pct: float | None = Field(description="None when the mean is zero.")


class ProvinceEntry(Figures):
    pcode: str
    name_en: str
    trailing_mean: float | None
    change: float | None
    change_pct: float | None
    days_since_last_verified_violation: int | None = Field(
        description="0 when there was one this day; None when there has been none."
    )


class Compliance(BaseModel):
    """rate = violation_free_days / days over the window ending on the digest's day."""

    window_days: int
    days: int
    violation_free_days: int
    rate: float
    violations: int
    verified_violations: int


class GuarantorEntry(BaseModel):
    guarantor: str | None = Field(description="ISO 3166-1 alpha-3; None: unattributed.")
    name: str | None
    violations: int
    verified: int
    killed: int
    compliance: Compliance | None


class PartyEntry(BaseModel):
    party_id: str | None = Field(description="None: perpetrator unknown or unresolved.")
    name: str | None
    incidents: int
    violations: int
    verified: int
    excluded: int
    not_party: int
    killed: int


class TypeEntry(BaseModel):
    violation_type: str
    incidents: int
    violations: int
    verified: int


class Hotspot(BaseModel):
    pcode: str
    name_en: str
    province_pcode: str | None
    violations: int
    verified: int
    incidents: int
    killed: int


class RunningTotal(Figures):
    since: dt.date
    days: int


class AreaRef(BaseModel):
    pcode: str
    name_en: str


class Changes(BaseModel):
    from_revision: int
    summary: str
    totals: dict[str, dict[str, int]]
    sections: list[str]
    provinces: list[str]


class DigestRead(BaseModel):
    date: dt.date
    timezone: str
    revision: int
    generated_at: dt.datetime
    window: Window
    province: AreaRef | None = Field(description="Set when the view is narrowed to one.")
    no_violations: bool
    summary: str
    totals: Figures
    comparison: Comparison
    days_since_last_verified_violation: int | None
    by_province: list[ProvinceEntry]
    by_guarantor: list[GuarantorEntry]
    by_party: list[PartyEntry]
    by_type: list[TypeEntry]
    hotspots: list[Hotspot]
    running_total: RunningTotal
    compliance_formula: str
    changes: Changes | None


class DigestRevisionRead(BaseModel):
    date: dt.date
    revision: int
    generated_at: dt.datetime
    content_hash: str
    changes: dict[str, Any] | None
    href: str
