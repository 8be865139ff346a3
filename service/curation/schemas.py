from __future__ import annotations

import datetime as dt

from pydantic import BaseModel, Field


class CurationJobRead(BaseModel):
    id: int
    action: str = Field(description="The curation act's audit action.")
    summary: str
    actor: str
    names: list[str] = Field(description="Normalised names whose events are re-resolved.")
    party_ids: list[str] = Field(description="Parties whose events are re-resolved.")
    status: str = Field(description="pending, running or done.")
    phase: str = Field(description="reports, incidents, digests, then done.")
    reports_checked: int
    reports_changed: int
    incidents_checked: int
    incidents_changed: int
    days_affected: int = Field(description="Local days with a re-attributed incident.")
    digest_revisions: int
    created_at: dt.datetime
    started_at: dt.datetime | None
    finished_at: dt.datetime | None
