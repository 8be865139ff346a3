"""The audit trail as the API shows it."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field

from service.types import Timestamp


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


_Name = Annotated[str | None, Field(min_length=1, max_length=200)]


class AuditFilters(BaseModel):
    """Which audit events to list: each filter given must match (the query of ``/v1/audit``)."""

    model_config = ConfigDict(frozen=True)

    entity_type: _Name = None
    entity_id: _Name = None
    action: _Name = None
    actor: Annotated[
        str | None,
        Field(min_length=1, max_length=200, description='"console", "key:<name>" or a key id.'),
    ] = None
    since: Annotated[Timestamp | None, Field(description="At or after.")] = None
    until: Annotated[Timestamp | None, Field(description="Before.")] = None
