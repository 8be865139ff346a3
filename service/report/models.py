"""Reports as submitted by field reporters, their revisions, and idempotency records."""

from __future__ import annotations

import uuid

from sqlalchemy import (
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    SmallInteger,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from service.db import Base, TimestampNow, UuidKey
from service.event.models import EventColumns, event_checks


class Report(EventColumns, Base):
    __tablename__ = "reports"

    id: Mapped[UuidKey]
    # The reporter's identity is sensitive: visible to verifiers and admins only.
    reporter_key_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("api_keys.id", ondelete="RESTRICT")
    )
    client_report_id: Mapped[uuid.UUID | None]
    # Deferred: a report is inserted first (ON CONFLICT on client_report_id decides whether
    # it is new), and only then the incident it opens.
    incident_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("incidents.id", deferrable=True, initially="DEFERRED")
    )
    # SHA-256 of the canonical submitted body: a retry with the same client_report_id and
    # the same body is replayed, a different body is refused.
    request_hash: Mapped[str] = mapped_column(String(64))
    revision: Mapped[int] = mapped_column(Integer, server_default="1")
    description: Mapped[str | None] = mapped_column(Text)
    sources: Mapped[list] = mapped_column(JSONB, server_default="[]")
    # What automatic correlation decided at intake (``service.incident.correlation``); null
    # when the report named its incident.
    correlation: Mapped[dict | None] = mapped_column(JSONB)
    created_at: Mapped[TimestampNow]
    updated_at: Mapped[TimestampNow]

    __table_args__ = (
        *event_checks(),
        # client_report_id stays unique per reporter forever: the last line of defence
        # against a retried report after its idempotency key has expired.
        UniqueConstraint("reporter_key_id", "client_report_id", name="uq_reports_reporter_client"),
        # An incident's reports in order: its first report (its facts) is the first entry,
        # whatever the planner thinks of the table's statistics (which a bulk load outruns).
        Index("ix_reports_incident_id_created_at", "incident_id", "created_at", "id"),
        Index("ix_reports_created_at_id", "created_at", "id"),
        Index("ix_reports_reporter_created_at", "reporter_key_id", "created_at"),
        # The unresolved names' worklist (GET /v1/parties/unresolved) reads only these rows.
        Index(
            "ix_reports_unresolved_perpetrator",
            "perpetrator_raw",
            postgresql_where=text("perpetrator_raw IS NOT NULL AND perpetrator_party_id IS NULL"),
        ),
        Index(
            "ix_reports_unresolved_target",
            "target_raw",
            postgresql_where=text("target_raw IS NOT NULL AND target_party_id IS NULL"),
        ),
    )


class ReportRevision(Base):
    """Every version of a report as stored (the first is the original submission)."""

    __tablename__ = "report_revisions"

    report_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("reports.id", ondelete="CASCADE"), primary_key=True
    )
    revision: Mapped[int] = mapped_column(Integer, primary_key=True)
    actor_key_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("api_keys.id"))
    # The report as the API showed it after this revision (submitted and derived fields).
    snapshot: Mapped[dict] = mapped_column(JSONB)
    created_at: Mapped[TimestampNow]


class IdempotencyRecord(Base):
    """(API key, Idempotency-Key) -> the request's fingerprint and its stored response.

    Written in the same transaction as the report, so a key never exists without its report
    or a report without its key.
    """

    __tablename__ = "idempotency_keys"

    api_key_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("api_keys.id", ondelete="CASCADE"), primary_key=True
    )
    key: Mapped[str] = mapped_column(String(255), primary_key=True)
    request_hash: Mapped[str] = mapped_column(String(64))
    status_code: Mapped[int] = mapped_column(SmallInteger)
    response_body: Mapped[bytes] = mapped_column(LargeBinary)
    resource_id: Mapped[uuid.UUID | None]
    created_at: Mapped[TimestampNow]

    __table_args__ = (Index("ix_idempotency_keys_created_at", "created_at"),)
