"""Incident output, and the verifier's review and merge input."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StrictBool

from service.event.schemas import CasualtiesOut, EventRead
from service.event.terms import ConfidenceBand, IncidentStatus
from service.types import Text


class _Input(BaseModel):
    model_config = ConfigDict(extra="forbid", allow_inf_nan=False, str_strip_whitespace=True)


class IncidentReview(_Input):
    status: Literal["verified", "disputed", "rejected"]
    note: Text(2000) | None = Field(  # type: ignore[valid-type]
        default=None, description="Why: kept with the incident and in the audit trail."
    )
    accept_reports: StrictBool | None = Field(
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


class ReportSplit(_Input):
    note: Text(2000, 1) = Field(  # type: ignore[valid-type]
        description="Why the report is not of this incident: kept in the audit trail."
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
    confidence: float = Field(
        description="0-1, from the best source grades (Admiralty reliability A-F,"
        " credibility 1-6), the number of independent sources and of reporter keys (the"
        ' README\'s "Confidence" gives the formula).'
    )
    confidence_band: ConfidenceBand = Field(description="high from 0.7, medium from 0.4.")
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


class IncidentCorrelation(BaseModel):
    report_id: uuid.UUID
    decision: Literal["linked", "opened"]
    score: float | None = Field(description="The score of the incident joined, if linked.")
    factors: dict[str, float | None] | None
    flags: list[str]
    candidates: list[dict[str, Any]] = Field(
        description="The likely duplicates weighed, each with its incident_id, score,"
        " status and flags."
    )


class IncidentDetail(IncidentRead):
    report_ids: list[uuid.UUID] = Field(description="Its reports, oldest first.")
    correlations: list[IncidentCorrelation] = Field(
        description="What automatic correlation decided for each of its reports that named"
        " no incident, oldest first."
    )


class IncidentPage(BaseModel):
    items: list[IncidentRead]
    next: str | None = Field(description="The URL of the next page; null on the last page.")


class IncidentCandidate(BaseModel):
    incident: IncidentRead
    distance_km: float | None = Field(description="Null when either has no point.")
    hours_apart: float = Field(description="Signed: positive when the candidate is later.")
    correlation_score: float | None = Field(
        description="The score automatic correlation gave this pair when either's report"
        " arrived (the best, either way); null when never scored."
    )


class ReportSplitResult(BaseModel):
    report_id: uuid.UUID
    incident: IncidentDetail = Field(description="The report's new incident.")
    from_incident: IncidentDetail = Field(description="The incident it left, derived again.")
