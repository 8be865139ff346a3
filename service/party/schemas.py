from __future__ import annotations

import datetime as dt
import uuid

from pydantic import BaseModel, ConfigDict, Field, StrictBool, model_validator

from service.party.models import Coverage
from service.types import BodyDay, Text


class CoverageSpanRead(BaseModel):
    coverage: Coverage
    valid_from: dt.date | None
    valid_to: dt.date | None


class GuarantorSpanRead(BaseModel):
    id: str
    valid_from: dt.date | None
    valid_to: dt.date | None


class AliasSpanRead(BaseModel):
    alias: str
    valid_from: dt.date | None
    valid_to: dt.date | None


class PartyRead(BaseModel):
    id: str
    name: str
    side: str
    target_only: bool
    aliases: list[str]
    alias_validity: list[AliasSpanRead] = Field(
        description="Every alias with the days it names this party (null: open-ended)."
    )
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


# ---- curation input (admin) ----

_SLUG = r"^[a-z0-9][a-z0-9-]*$"
Reason = Text(2000) | None  # type: ignore[valid-type]
_REASON = Field(default=None, description="Why: kept in the audit trail.")


class _Input(BaseModel):
    model_config = ConfigDict(extra="forbid", allow_inf_nan=False, str_strip_whitespace=True)


class _Dated(_Input):
    valid_from: BodyDay | None = Field(
        default=None, description="First day (inclusive); open if null."
    )
    valid_to: BodyDay | None = Field(
        default=None, description="Last day (inclusive); open if null."
    )

    @model_validator(mode="after")
    def _ordered(self) -> _Dated:
        if self.valid_from and self.valid_to and self.valid_from > self.valid_to:
            raise ValueError("valid_to is before valid_from")
        return self


class GuarantorSpanIn(_Dated):
    id: Text(3, 3)  # type: ignore[valid-type]


class CoverageSpanIn(_Dated):
    coverage: Coverage


class PartyCreate(_Input):
    """A new party, as the theatre file declares one."""

    id: Text(64, 1) = Field(pattern=_SLUG)  # type: ignore[valid-type]
    name: Text(300, 1)  # type: ignore[valid-type]
    side: Text(32, 1)  # type: ignore[valid-type]
    # Strict: a JSON number is not a yes or a no (0 and 1 would otherwise pass as booleans).
    target_only: StrictBool = False
    aliases: list[Text(300, 1)] = Field(default=[], max_length=100)  # type: ignore[valid-type]
    guarantors: list[GuarantorSpanIn] = Field(default=[], max_length=20)
    coverage: list[CoverageSpanIn] = Field(default=[], max_length=20)
    reason: Reason = _REASON


class AliasCreate(_Dated):
    alias: Text(300, 1)  # type: ignore[valid-type]
    reason: Reason = _REASON


class SpanEnd(_Input):
    valid_to: BodyDay = Field(description="The last day (inclusive) it holds.")
    reason: Reason = _REASON


class GuarantorSet(_Dated):
    guarantor: Text(3, 3)  # type: ignore[valid-type]
    reason: Reason = _REASON


class CoalitionCreate(_Input):
    name: Text(300, 1)  # type: ignore[valid-type]
    members: list[Text(64, 1)] = Field(  # type: ignore[valid-type]
        min_length=2, max_length=50, description="Member party ids, the deciding order."
    )
    reason: Reason = _REASON


class CoalitionRead(BaseModel):
    name: str
    members: list[str]


class CurationAct(BaseModel):
    """What a curation act did, and the re-attribution job it queued."""

    action: str
    summary: str
    job_id: int
    job: str  # the job's URL path


class UnresolvedProvince(BaseModel):
    pcode: str
    name: str


class UnresolvedName(BaseModel):
    name: str = Field(description="The most common spelling of the name.")
    spellings: list[str]
    report_count: int
    as_perpetrator: int
    as_target: int
    first_date: dt.date = Field(description="Earliest event day, theatre time.")
    last_date: dt.date
    provinces: list[UnresolvedProvince]
    report_ids: list[uuid.UUID] = Field(description="A few of the reports, latest first.")
