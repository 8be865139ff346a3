"""The audit trail as the API shows it."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

from pydantic import BaseModel, Field


class AuditEventRead(BaseModel):
    id: int
    at: dt.datetime
    actor: str = Field(description='"console" or "key:<name>"')
    actor_key_id: uuid.UUID | None
    action: str = Field(description="e.g. report.created, incident.merged, key.revoked")
    entity_type: str
    entity_id: str
    before: Any
    after: Any
    reason: str | None


class AuditPage(BaseModel):
    items: list[AuditEventRead]
    next: str | None = Field(description="The URL of the next page; null on the last page.")
