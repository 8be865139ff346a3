"""Incident output, and the verifier's review and merge input."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from service.event.schemas import CasualtiesOut, EventRead
from service.event.terms import IncidentStatus
from service.types import Text


class _Input(BaseModel):
    model_config = ConfigDict(extra="forbid", allow_inf_nan=False, str_strip_whitespace=True)


class IncidentReview(_Input):
    status: Literal["verified", "disputed", "rejected"]
    note: Text(2000) | None = Field(  # type: ignore[valid-type]
        default=None, description="Why: kept with the incident and in the audit trail."
    )
    accept_reports: bool | None = Field(
        default=None,
        description="true: derive the incident again from all its reports (figures by the"
        " casualty rule) and publish that, clearing a pending review; false: decline the"
        " pending corroborations, keeping the published figures; omitted: figures and any"
        " pending review stay as they are.",
    )


class IncidentMerge(_Input):
    into: uuid.UUID = Field(description="The surviving incident.")
    note: Text(2000) | None = Field(  # type: ignore[valid-type]
        default=None, description="Why: kept in the audit trail."
    )


class CasualtyRange(BaseModel):
    killed: tuple[int, int]
    injured: tuple[int, int]
    civilians_killed: tuple[int, int]


class IncidentProposal(BaseModel):
    report_count: int
    casualties: CasualtiesOut
    casualties_range: CasualtyRange


class _IncidentIdentity(BaseModel):
    id: uuid.UUID
    status: IncidentStatus
    merged_into_id: uuid.UUID | None
    report_count: int


class IncidentRead(EventRead, _IncidentIdentity):
    # Fields in order: its identity, the event, then what only an incident carries (the
    # OpenAPI document and the JSON keep the order they had before ``EventRead``).
    casualties: CasualtiesOut = Field(
        description="Published figures: per reporter key its latest report, then the lower"
        " median across keys."
    )
    casualties_range: CasualtyRange | None = Field(
        description="[low, high] of each figure across reporter keys; null until the incident"
        " is next derived."
    )
    pending_review: bool = Field(
        description="Reports joined this reviewed incident since a verifier last decided:"
        " its published figures wait for a verifier (`accept_reports`)."
    )
    pending_since: dt.datetime | None
    proposed: IncidentProposal | None = Field(
        description="What the casualty rule would publish with every report, while pending."
    )
    review_note: str | None
    reviewed_at: dt.datetime | None
    created_at: dt.datetime
    updated_at: dt.datetime


class IncidentDetail(IncidentRead):
    report_ids: list[uuid.UUID] = Field(description="Its reports, oldest first.")


class IncidentPage(BaseModel):
    items: list[IncidentRead]
    next: str | None = Field(description="The URL of the next page; null on the last page.")


class IncidentCandidate(BaseModel):
    incident: IncidentRead
    distance_km: float | None = Field(description="Null when either has no point.")
    hours_apart: float = Field(description="Signed: positive when the candidate is later.")
