"""Digest revisions: one row per (day, revision), never updated once written."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    Date,
    DateTime,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.dialects.postgresql import ARRAY, JSONB
from sqlalchemy.orm import Mapped, mapped_column

from service.db import Base


class DigestRevision(Base):
    __tablename__ = "digest_revisions"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    digest_date: Mapped[dt.date] = mapped_column(Date)
    revision: Mapped[int] = mapped_column(Integer)
    # SHA-256 of the figures (not of revision, generated_at or changes): equal hashes mean
    # nothing changed, so a rebuild writes nothing.
    content_hash: Mapped[str] = mapped_column(String(64))
    generated_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    # The JSON document exactly as served: stored as text so every fetch is byte-identical.
    body: Mapped[str] = mapped_column(Text)
    # Per-governorate sections (JSON text) from which a province-filtered view is made.
    scopes: Mapped[str] = mapped_column(Text)
    changes: Mapped[dict | None] = mapped_column(JSONB)
    # Governorates whose figures changed against the previous revision (NULL: revision 1).
    changed_provinces: Mapped[list[str] | None] = mapped_column(ARRAY(String(32)))
    # The public view: the digest of verified incidents only (see service/digest/disclosure.py).
    # Its hash is on every revision; its document only on the revisions whose public
    # figures changed, each numbered in its own sequence (``public_revision``), so the public
    # never sees a revision made by reports it cannot see. NULL on revisions built before.
    public_hash: Mapped[str | None] = mapped_column(String(64))
    public_revision: Mapped[int | None] = mapped_column(Integer)
    public_body: Mapped[str | None] = mapped_column(Text)
    public_scopes: Mapped[str | None] = mapped_column(Text)
    public_changed_provinces: Mapped[list[str] | None] = mapped_column(ARRAY(String(32)))

    __table_args__ = (
        UniqueConstraint("digest_date", "revision", name="uq_digest_revisions_date_revision"),
        CheckConstraint("revision >= 1", name="revision_positive"),
        CheckConstraint("(revision = 1) = (changed_provinces IS NULL)", name="changes_after_first"),
        Index("ix_digest_revisions_generated_at", "generated_at"),
        Index(
            "ix_digest_revisions_public",
            "digest_date",
            "public_revision",
            unique=True,
            postgresql_where=text("public_body IS NOT NULL"),
        ),
    )
