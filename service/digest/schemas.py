"""The digest document as the API describes it (the stored JSON is served as is)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from pydantic import BaseModel, Field


class Suppressible(BaseModel):
    """In the public view every figure row says whether it was suppressed; a suppressed
    row's figures are null (never a silent zero). Absent from the full view."""

    suppressed: bool | None = Field(
        default=None,
        description="Public view: true when this row's figures are withheld (fewer than"
        " `disclosure.threshold` incidents, or withheld so totals cannot give one back).",
    )


class Figures(Suppressible):
    incidents: int | None = Field(
        description="Counted incidents: every status but rejected and merged (the public"
        " view: verified incidents only)."
    )
    violations: int | None = Field(description="Incidents the ceasefire's terms call a violation.")
    verified: int | None = Field(description="Violations a verifier has confirmed.")
    excluded: int | None = Field(
        description="Hostilities involving a party the ceasefire excludes."
    )
    not_party: int | None = Field(description="Hostilities by a party outside the agreement.")
    killed: int | None
    injured: int | None
    civilians_killed: int | None


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
        description="0 when there was one this day; None when there has been none (or when"
        " the row is suppressed)."
    )


class Compliance(BaseModel):
    """rate = violation_free_days / days over the window ending on the digest's day."""

    window_days: int
    days: int
    violation_free_days: int
    rate: float
    violations: int | None = Field(description="Null in the public view when small.")
    verified_violations: int | None


class GuarantorEntry(Suppressible):
    guarantor: str | None = Field(description="ISO 3166-1 alpha-3; None: unattributed.")
    name: str | None
    violations: int | None
    verified: int | None
    killed: int | None
    compliance: Compliance | None


class PartyEntry(Suppressible):
    party_id: str | None = Field(description="None: perpetrator unknown or unresolved.")
    name: str | None
    incidents: int | None
    violations: int | None
    verified: int | None
    excluded: int | None
    not_party: int | None
    killed: int | None


class TypeEntry(Suppressible):
    violation_type: str
    incidents: int | None
    violations: int | None
    verified: int | None


class ConfidenceEntry(Suppressible):
    band: str = Field(description="low, medium or high (the incidents' confidence).")
    incidents: int | None
    violations: int | None
    verified: int | None


class Disclosure(BaseModel):
    """Present in the public view only: how small numbers were kept private."""

    view: str = Field(description="public")
    threshold: int = Field(description="Figures about fewer incidents than this are withheld.")
    basis: str
    suppressed_cells: int = Field(description="Figure rows withheld in this document.")
    hotspots_left_out: int = Field(description="Hotspot districts below the threshold.")


class Hotspot(Suppressible):
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
    reason: str | None = Field(
        default=None,
        description="Why the figures changed, when the service knows (e.g. a curation act's"
        " re-attribution); never in the public view.",
    )
    totals: dict[str, dict[str, int]]
    sections: list[str]
    provinces: list[str]


class DigestLink(BaseModel):
    """A link, as in the OGC API documents (and RFC 8288's relation types)."""

    href: str = Field(description="An absolute URL.")
    rel: str = Field(
        description="self, alternate (the same digest in another format, or its Atom feed),"
        " prev and next (the nearest earlier and later days with a digest), version-history"
        " (the day's revisions), latest-version (on a revision: the day's latest)."
    )
    type: str = Field(description="The media type the link answers with.")


class DigestRead(BaseModel):
    date: dt.date
    timezone: str
    revision: int
    generated_at: dt.datetime
    window: Window
    province: AreaRef | None = Field(description="Set when the view is narrowed to one.")
    no_violations: bool | None = Field(description="Null when the day's totals are suppressed.")
    summary: str
    totals: Figures
    comparison: Comparison
    days_since_last_verified_violation: int | None
    by_province: list[ProvinceEntry]
    by_guarantor: list[GuarantorEntry]
    by_party: list[PartyEntry]
    by_type: list[TypeEntry]
    by_confidence: list[ConfidenceEntry] | None = Field(
        default=None,
        description="Incidents by confidence band; absent from revisions built before it.",
    )
    hotspots: list[Hotspot]
    running_total: RunningTotal
    compliance_formula: str
    changes: Changes | None
    disclosure: Disclosure | None = Field(
        default=None, description="The public view only: the suppression applied."
    )
    links: list[DigestLink] = Field(
        description="Added as served, not part of the stored revision (whose content hash"
        " covers the figures only). A revision's document carries only links that never"
        " change; the day's document also has prev and next."
    )


class DigestDay(BaseModel):
    """One day of a range: its latest revision's headline figures (the same numbers as the
    day's document, for the same audience and governorate)."""

    date: dt.date
    revision: int
    generated_at: dt.datetime
    no_violations: bool | None
    days_since_last_verified_violation: int | None
    summary: str
    totals: Figures
    by_guarantor: list[GuarantorEntry]
    href: str = Field(description="The day's digest (absolute URL).")


class DigestRange(BaseModel):
    from_: dt.date = Field(alias="from")
    to: dt.date
    timezone: str
    province: str | None = Field(description="The governorate's P-code, when narrowed to one.")
    days: list[DigestDay] = Field(
        description="Every day of the range that has a digest, oldest first; days without"
        " one (not yet built, before the ceasefire) are absent."
    )
    links: list[DigestLink]


class DigestRevisionRead(BaseModel):
    date: dt.date
    revision: int
    generated_at: dt.datetime
    content_hash: str
    changes: dict[str, Any] | None
    href: str
