"""Incidents: the events digests and maps count once, however many reports describe them."""

from __future__ import annotations

import datetime as dt
import uuid

from sqlalchemy import (
    CheckConstraint,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from service.db import Base, TimestampNow, UuidKey
from service.event.models import EventColumns, event_checks, known
from service.event.terms import ConfidenceBand, IncidentStatus


class Incident(EventColumns, Base):
    __tablename__ = "incidents"

    id: Mapped[UuidKey]
    status: Mapped[str] = mapped_column(String(16), server_default="unverified")
    merged_into_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("incidents.id"))
    report_count: Mapped[int] = mapped_column(Integer, server_default="0")
    review_note: Mapped[str | None] = mapped_column(Text)
    reviewed_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    # [low, high] of each published figure across reporter keys (the casualty rule); null
    # until the incident is derived again after this column was added.
    casualties_range: Mapped[dict | None] = mapped_column(JSONB)
    # How far it can be believed (``service.incident.confidence``), kept with its figures.
    confidence: Mapped[float] = mapped_column(Float, server_default="0")
    confidence_band: Mapped[str] = mapped_column(String(8), server_default="low")
    created_at: Mapped[TimestampNow]
    updated_at: Mapped[TimestampNow]

    __table_args__ = (
        *event_checks(),
        CheckConstraint(known("status", IncidentStatus), name="status_known"),
        CheckConstraint(known("confidence_band", ConfidenceBand), name="confidence_band_known"),
        CheckConstraint(
            "(status = 'merged') = (merged_into_id IS NOT NULL)", name="merged_has_survivor"
        ),
        Index("ix_incidents_occurred_at_id", "occurred_at", "id"),
        Index("ix_incidents_geom", "geom", postgresql_using="gist"),
        Index("ix_incidents_province_occurred_at", "province_pcode", "occurred_at"),
        Index("ix_incidents_status", "status"),
        Index("ix_incidents_updated_at", "updated_at"),
        Index(
            "ix_incidents_type_occurred_at",
            "violation_type",
            "occurred_at",
            postgresql_where=text("status <> 'merged'"),
        ),
        Index(
            "ix_incidents_confidence_band_occurred_at",
            "confidence_band",
            "occurred_at",
            postgresql_where=text("status <> 'merged'"),
        ),
    )


class IncidentPendingReview(Base):
    """A reviewed incident holding corroborations no verifier has accepted yet: what the
    casualty rule would publish, kept apart so the incident's published row stays as the
    verifier left it. One row per incident; gone once a verifier accepts or declines."""

    __tablename__ = "incident_pending_reviews"

    incident_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("incidents.id", ondelete="CASCADE"), primary_key=True
    )
    since: Mapped[TimestampNow]
    updated_at: Mapped[TimestampNow]
    # {"report_count", "casualties": {...}, "casualties_range": {...}}
    proposed: Mapped[dict] = mapped_column(JSONB)

    __table_args__ = (Index("ix_incident_pending_reviews_since", "since"),)
