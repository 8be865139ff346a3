"""Every scheduled job run: when, how it ended, and in which process."""

from __future__ import annotations

import datetime as dt
import enum

from sqlalchemy import BigInteger, CheckConstraint, DateTime, Index, String, Text, text
from sqlalchemy.orm import Mapped, mapped_column

from service.db import Base


class RunOutcome(enum.StrEnum):
    running = "running"
    succeeded = "succeeded"
    failed = "failed"
    skipped = "skipped"  # another process held the job's advisory lock


class JobRun(Base):
    __tablename__ = "job_runs"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    job_id: Mapped[str] = mapped_column(String(64))
    started_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    finished_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    outcome: Mapped[str] = mapped_column(String(16))
    detail: Mapped[str | None] = mapped_column(Text)
    # host:pid of the scheduler that ran it, to tell overlapping schedulers apart.
    runner: Mapped[str] = mapped_column(String(128))

    __table_args__ = (
        CheckConstraint(
            f"outcome IN ({', '.join(repr(o.value) for o in RunOutcome)})", name="outcome_known"
        ),
        Index("ix_job_runs_job_id_started_at", "job_id", "started_at"),
        # /metrics reads the last success of each job at every scrape.
        Index(
            "ix_job_runs_succeeded",
            "job_id",
            "finished_at",
            postgresql_where=text("outcome = 'succeeded'"),
        ),
    )
