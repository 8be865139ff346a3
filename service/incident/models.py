"""Incidents: the events digests and maps count once, however many reports describe them."""

from __future__ import annotations

import datetime as dt
import enum
import uuid

from geoalchemy2 import Geometry
from sqlalchemy import (
    CheckConstraint,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import ARRAY, JSONB
from sqlalchemy.orm import Mapped, mapped_column

from service.db import Base
from service.event.terms import CeasefireStatus, IncidentStatus, ViolationType


class TimePrecision(enum.StrEnum):
    exact = "exact"
    hour = "hour"
    day = "day"
    week = "week"


class LocationMatch(enum.StrEnum):
    inside = "inside"
    nearest = "nearest"
    province_only = "province_only"


def _in(column: str, values: type[enum.StrEnum]) -> str:
    return f"{column} IN ({', '.join(repr(v.value) for v in values)})"


class EventColumns:
    """What a report states and an incident consolidates: when, where, what, who."""

    occurred_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    time_precision: Mapped[str] = mapped_column(String(8), server_default="exact")
    geom = mapped_column(Geometry("POINT", srid=4326, spatial_index=False))
    geo_precision: Mapped[str | None] = mapped_column(String(32))
    place_name: Mapped[str | None] = mapped_column(Text)
    province_pcode: Mapped[str] = mapped_column(ForeignKey("admin_areas.pcode"))
    district_pcode: Mapped[str | None] = mapped_column(ForeignKey("admin_areas.pcode"))
    location_match: Mapped[str] = mapped_column(String(16))
    location_distance_km: Mapped[float | None] = mapped_column(Float)
    violation_type: Mapped[str] = mapped_column(String(16))
    perpetrator_raw: Mapped[str | None] = mapped_column(Text)
    perpetrator_party_id: Mapped[str | None] = mapped_column(ForeignKey("parties.id"))
    target_raw: Mapped[str | None] = mapped_column(Text)
    target_party_id: Mapped[str | None] = mapped_column(ForeignKey("parties.id"))
    responsible_guarantors: Mapped[list[str]] = mapped_column(ARRAY(String(3)), server_default="{}")
    ceasefire_status: Mapped[str] = mapped_column(String(16))
    killed: Mapped[int] = mapped_column(Integer, server_default="0")
    injured: Mapped[int] = mapped_column(Integer, server_default="0")
    civilians_killed: Mapped[int] = mapped_column(Integer, server_default="0")


def event_checks() -> tuple:
    return (
        CheckConstraint(_in("time_precision", TimePrecision), name="time_precision_known"),
        CheckConstraint(_in("location_match", LocationMatch), name="location_match_known"),
        CheckConstraint(_in("violation_type", ViolationType), name="violation_type_known"),
        CheckConstraint(_in("ceasefire_status", CeasefireStatus), name="ceasefire_status_known"),
        CheckConstraint(
            "killed >= 0 AND injured >= 0 AND civilians_killed >= 0", name="casualties_positive"
        ),
        CheckConstraint("location_match = 'province_only' OR geom IS NOT NULL", name="geom_given"),
    )


class Incident(EventColumns, Base):
    __tablename__ = "incidents"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    status: Mapped[str] = mapped_column(String(16), server_default="unverified")
    merged_into_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("incidents.id"))
    report_count: Mapped[int] = mapped_column(Integer, server_default="0")
    review_note: Mapped[str | None] = mapped_column(Text)
    reviewed_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    # [low, high] of each published figure across reporter keys (the casualty rule); null
    # until the incident is derived again after this column was added.
    casualties_range: Mapped[dict | None] = mapped_column(JSONB)
    created_at: Mapped[dt.datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now()
    )
    updated_at: Mapped[dt.datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now()
    )

    __table_args__ = (
        *event_checks(),
        CheckConstraint(_in("status", IncidentStatus), name="status_known"),
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
    )


class IncidentPendingReview(Base):
    """A reviewed incident holding corroborations no verifier has accepted yet: what the
    casualty rule would publish, kept apart so the incident's published row stays as the
    verifier left it. One row per incident; gone once a verifier accepts or declines."""

    __tablename__ = "incident_pending_reviews"

    incident_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("incidents.id", ondelete="CASCADE"), primary_key=True
    )
    since: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    updated_at: Mapped[dt.datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now()
    )
    # {"report_count", "casualties": {...}, "casualties_range": {...}}
    proposed: Mapped[dict] = mapped_column(JSONB)

    __table_args__ = (Index("ix_incident_pending_reviews_since", "since"),)
