"""The changes feed's page: upserts and tombstones, links, the cursor."""

from __future__ import annotations

import uuid
from typing import Any, Literal

from pydantic import BaseModel, Field

from service.incident.schemas import IncidentRead
from service.ogc.schemas import Link


class IncidentUpsert(BaseModel):
    id: uuid.UUID
    change: Literal["upsert"]
    incident: IncidentRead = Field(
        description="As `/v1/incidents` shows it (monitors, verifiers, admins)."
    )


class FeatureUpsert(BaseModel):
    id: uuid.UUID
    change: Literal["upsert"]
    feature: dict[str, Any] = Field(
        description="The public's GeoJSON feature, as `/collections/incidents/items` shows it."
    )


class Tombstone(BaseModel):
    id: uuid.UUID
    change: Literal["merged", "rejected", "deleted", "withdrawn"] = Field(
        description="merged (into `merged_into`), rejected, deleted, or withdrawn (public"
        " feed: no longer verified). Remove the incident."
    )
    merged_into: uuid.UUID | None = Field(
        description="The survivor of a merge (the public feed names it only if verified)."
    )


class ChangesPage(BaseModel):
    items: list[IncidentUpsert | FeatureUpsert | Tombstone] = Field(
        description="In commit order, each incident once, as it is now."
    )
    links: list[Link] = Field(description="`self`, and `next`: where to continue, always.")
    cursor: str = Field(description="The `since` of the next page (also in `next`).")
    more: bool = Field(
        description="More changes are readable now: follow `next` at once; false: poll"
        " `next` later."
    )
