"""Report input and output. Input models forbid unknown fields (no mass assignment of id,
status, reporter or created_at) and refuse NaN, Infinity, strings posing as numbers and NULs.
"""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    HttpUrl,
    StrictFloat,
    StrictInt,
    WithJsonSchema,
    field_validator,
    model_validator,
)

from service.event.schemas import EventRead
from service.event.terms import TimePrecision, ViolationType
from service.types import Text, Timestamp

Coordinate = StrictInt | StrictFloat


class _Input(BaseModel):
    model_config = ConfigDict(extra="forbid", allow_inf_nan=False, str_strip_whitespace=True)


class PointIn(_Input):
    """A GeoJSON Point in WGS 84 longitude, latitude (RFC 7946). No `crs`, no third ordinate."""

    type: Literal["Point"]
    coordinates: Annotated[list[Coordinate], Field(min_length=2, max_length=2)]

    @field_validator("coordinates")
    @classmethod
    def _in_range(cls, value: list[float]) -> list[float]:
        lon, lat = (float(v) for v in value)
        if not (-180 <= lon <= 180):
            raise ValueError(f"longitude {lon} is outside -180..180")
        if not (-90 <= lat <= 90):
            raise ValueError(f"latitude {lat} is outside -90..90")
        return [lon, lat]


class CasualtiesIn(_Input):
    killed: Annotated[StrictInt, Field(ge=0, le=1_000_000)] = 0
    injured: Annotated[StrictInt, Field(ge=0, le=1_000_000)] = 0
    civilians_killed: Annotated[StrictInt, Field(ge=0, le=1_000_000)] = 0

    @model_validator(mode="after")
    def _civilians_within_killed(self) -> CasualtiesIn:
        if self.civilians_killed > self.killed:
            raise ValueError("civilians_killed cannot exceed killed (killed is the total)")
        return self


class SourceIn(_Input):
    """A source, graded on the Admiralty scale: reliability A-F, credibility 1-6."""

    kind: Literal["witness", "media", "social_media", "ngo", "official", "monitor", "other"]
    url: HttpUrl | None = None
    publisher: Text(200) | None = None  # type: ignore[valid-type]
    reliability: Literal["A", "B", "C", "D", "E", "F"] | None = None
    credibility: Annotated[StrictInt, Field(ge=1, le=6)] | None = None


GeoPrecision = Literal["exact", "near", "settlement", "district", "province"]


class ReportCreate(_Input):
    occurred_at: Timestamp = Field(
        description="RFC 3339 with a UTC offset; not in the future beyond clock skew."
    )
    time_precision: TimePrecision = TimePrecision.exact
    location: PointIn | None = None
    province: Text(200, 1) | None = Field(  # type: ignore[valid-type]
        default=None, description="P-code or name (any spelling the service knows)."
    )
    place_name: Text(500) | None = None  # type: ignore[valid-type]
    geo_precision: GeoPrecision | None = None
    violation_type: ViolationType
    perpetrator: Text(300) | None = Field(  # type: ignore[valid-type]
        default=None, description="A party id or any name; unresolved names are kept."
    )
    target: Text(300) | None = None  # type: ignore[valid-type]
    casualties: CasualtiesIn | None = None
    description: Text(10_000) | None = None  # type: ignore[valid-type]
    sources: Annotated[list[SourceIn], Field(max_length=50)] = []
    client_report_id: uuid.UUID | None = Field(
        default=None, description="A UUID the device generated; unique per reporter forever."
    )
    incident_id: uuid.UUID | None = Field(
        default=None,
        description="The known incident this report corroborates: linked only when plausible"
        " for it (the same type family, within the configured distance and time, and the"
        " incident neither rejected nor merged), else 422 with the reason. A verified or"
        " disputed incident's published figures then wait for a verifier's acceptance.",
    )

    @model_validator(mode="after")
    def _somewhere(self) -> ReportCreate:
        if self.location is None and self.province is None:
            raise ValueError("give a location, a province, or both")
        return self


class ReportUpdate(_Input):
    """A revision by the report's own reporter: the fields given replace the stored ones."""

    occurred_at: Timestamp | None = None
    time_precision: TimePrecision | None = None
    location: PointIn | None = None
    province: Text(200, 1) | None = None  # type: ignore[valid-type]
    place_name: Text(500) | None = None  # type: ignore[valid-type]
    geo_precision: GeoPrecision | None = None
    violation_type: ViolationType | None = None
    perpetrator: Text(300) | None = None  # type: ignore[valid-type]
    target: Text(300) | None = None  # type: ignore[valid-type]
    casualties: CasualtiesIn | None = None
    description: Text(10_000) | None = None  # type: ignore[valid-type]
    sources: Annotated[list[SourceIn], Field(max_length=50)] | None = None
    reason: Text(2000) | None = Field(  # type: ignore[valid-type]
        default=None, description="Why the report is revised: kept in the audit trail."
    )


class ReportBatch(BaseModel):
    """Up to the batch limit (500) of reports, each validated and stored on its own."""

    model_config = ConfigDict(extra="forbid")

    # Items are validated one by one by the service (one result each), not all-or-nothing
    # here; the schema still documents what each must be.
    reports: Annotated[
        list[dict[str, Any]],
        WithJsonSchema(
            {
                "type": "array",
                # Each item is a ReportCreate, but an invalid item is answered in its own
                # result (422 with its index), not by refusing the batch: so the envelope
                # accepts any object and the item schema is documented in the description.
                "items": {"type": "object"},
                "maxItems": 500,
                "description": "Up to 500 objects, each a ReportCreate"
                " (#/components/schemas/ReportCreate), validated one by one.",
            }
        ),
    ]


# ---- output ----


class SourceOut(BaseModel):
    kind: str
    url: str | None = None
    publisher: str | None = None
    reliability: str | None = None
    credibility: int | None = None


class ReporterOut(BaseModel):
    key_id: uuid.UUID
    name: str


class _ReportIdentity(BaseModel):
    id: uuid.UUID
    incident_id: uuid.UUID
    revision: int
    client_report_id: uuid.UUID | None


class CorrelationFactors(BaseModel):
    distance: float
    time: float
    type: float
    parties: float
    place: float
    text: float
    independence: float
    distance_km: float | None
    hours_apart: float


class CorrelationCandidate(BaseModel):
    incident_id: uuid.UUID
    score: float
    status: str
    flags: list[str]


class CorrelationOut(BaseModel):
    """What automatic correlation decided when the report arrived without an incident_id
    (the README's "Automatic correlation" gives the rule)."""

    version: int = Field(description="The rule's version.")
    threshold: float = Field(description="The score at or above which a report is linked.")
    decision: Literal["linked", "opened"]
    incident_id: uuid.UUID | None = Field(default=None, description="The incident joined.")
    score: float | None = Field(default=None, description="For verifiers and admins only.")
    factors: CorrelationFactors | None = Field(
        default=None, description="For verifiers and admins only."
    )
    flags: list[str] | None = Field(
        default=None,
        description="For verifiers and admins only. excluded_mismatch (one side involves an excluded party, the other"
        " not), same_reporter_key, reviewed (verified or disputed: never joined"
        " automatically), not_compared (could not reach the threshold even with identical"
        " texts, so place and text were not compared: 0.5 each).",
    )
    candidates: list[CorrelationCandidate] | None = Field(
        default=None,
        description="The best-scoring candidates (likely duplicates), for verifiers and"
        " admins only.",
    )


class ReportRead(EventRead, _ReportIdentity):
    # Fields in order: its identity, the event, then what only a report carries (the
    # OpenAPI document and the JSON keep the order they had before ``EventRead``).
    description: str | None
    sources: list[SourceOut]
    correlation: CorrelationOut | None = Field(
        default=None, description="Null when the report named its incident."
    )
    created_at: dt.datetime
    updated_at: dt.datetime
    reporter: ReporterOut | None = Field(
        default=None, description="Shown to verifiers and admins only."
    )


class ReportPage(BaseModel):
    items: list[ReportRead]
    next: str | None = Field(description="The URL of the next page; null on the last page.")


class ItemFieldError(BaseModel):
    field: str
    message: str


class ItemProblem(BaseModel):
    """RFC 9457 problem details, as a batch item's result."""

    type: str
    title: str
    status: int
    detail: str
    errors: list[ItemFieldError] | None = None


class BatchItemResult(BaseModel):
    index: int = Field(description="The item's position in the batch, from 0.")
    status: int = Field(description="201 when stored (or already stored), else 4xx.")
    report: ReportRead | None = None
    problem: ItemProblem | None = None


class BatchResult(BaseModel):
    results: list[BatchItemResult] = Field(description="One result per item, in order.")
    accepted: int
    refused: int


class ReportRevisionRead(BaseModel):
    revision: int
    recorded_at: dt.datetime
    report: ReportRead = Field(description="The report as it read after this revision.")
