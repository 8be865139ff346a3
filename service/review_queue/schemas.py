"""The verifiers' queue as the API shows it."""

from __future__ import annotations

from pydantic import BaseModel, Field

from service.incident.schemas import IncidentCandidate, IncidentRead
from service.report.schemas import ReportRead


class QueueItem(BaseModel):
    incident: IncidentRead
    etag: str = Field(
        description="The incident's strong ETag, as `GET /v1/incidents/{id}` answers it: send"
        " it as `If-Match` with a review or a merge."
    )
    reports: list[ReportRead] = Field(
        description="Its reports, oldest first, with their reporter, sources (and their"
        " grades), casualty figures and description."
    )
    candidates: list[IncidentCandidate] = Field(
        description="Its nearest likely duplicates (at most 5; `/candidates` lists them all)."
    )


class QueuePage(BaseModel):
    items: list[QueueItem]
    next: str | None = Field(description="The URL of the next page; null on the last page.")
