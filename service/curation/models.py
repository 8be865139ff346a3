"""Curation jobs: each curation act of the party directory queues one, which re-attributes
the stored reports and incidents it affects (``service.curation.service``)."""

from __future__ import annotations

import datetime as dt
import uuid

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    Date,
    DateTime,
    Identity,
    Index,
    Integer,
    String,
    Text,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.orm import Mapped, mapped_column

from service.db import Base

JOB_STATUSES = ("pending", "running", "done")
JOB_PHASES = ("reports", "incidents", "digests", "done")


class CurationJob(Base):
    __tablename__ = "curation_jobs"

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    action: Mapped[str] = mapped_column(String(64))  # the audit action of the curation act
    summary: Mapped[str] = mapped_column(Text)  # why, in words: digests' changes quote it
    actor: Mapped[str] = mapped_column(Text)
    actor_key_id: Mapped[uuid.UUID | None]
    # What the act touched: normalised names (rows naming them) and parties (rows carrying
    # them). Only those rows are re-resolved.
    names: Mapped[list[str]] = mapped_column(ARRAY(Text), server_default="{}")
    party_ids: Mapped[list[str]] = mapped_column(ARRAY(String(64)), server_default="{}")
    status: Mapped[str] = mapped_column(String(16), server_default="pending")
    phase: Mapped[str] = mapped_column(String(16), server_default="reports")
    # Progress, committed with each batch: a crashed run resumes after the last batch.
    report_cursor: Mapped[uuid.UUID | None]
    incident_cursor: Mapped[uuid.UUID | None]
    reports_checked: Mapped[int] = mapped_column(Integer, server_default="0")
    reports_changed: Mapped[int] = mapped_column(Integer, server_default="0")
    incidents_checked: Mapped[int] = mapped_column(Integer, server_default="0")
    incidents_changed: Mapped[int] = mapped_column(Integer, server_default="0")
    days: Mapped[list[dt.date]] = mapped_column(ARRAY(Date), server_default="{}")
    digest_revisions: Mapped[int] = mapped_column(Integer, server_default="0")
    created_at: Mapped[dt.datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now()
    )
    started_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    finished_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))

    __table_args__ = (
        CheckConstraint(
            f"status IN ({', '.join(repr(s) for s in JOB_STATUSES)})", name="status_known"
        ),
        CheckConstraint(f"phase IN ({', '.join(repr(s) for s in JOB_PHASES)})", name="phase_known"),
        Index("ix_curation_jobs_unfinished", "id", postgresql_where=text("status <> 'done'")),
    )
