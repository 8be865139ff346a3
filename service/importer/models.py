"""What an import has already stored: each source record's fingerprint, by report."""

from __future__ import annotations

import uuid

from sqlalchemy import ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from service.db import Base


class ImportedRecord(Base):
    """One source record an import stored (or found stored) as a report of the importer's
    key: the fingerprint of the record as read and of the mapping that read it. A re-run
    finds a chunk's unchanged records with one query and skips them before mapping any."""

    __tablename__ = "imported_records"

    reporter_key_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    client_report_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    # SHA-256 (hex) of the mapping's fingerprint, the theatre's time zone, the file's header
    # and the record as it stands in the file (its bytes, less the line break).
    record_hash: Mapped[str] = mapped_column(String(64))
    # The record is known only while its report exists. By the report's primary key: a
    # foreign key on (reporter_key_id, client_report_id) was checked by a plan PostgreSQL
    # made once per connection, which could read every report of the key (migration 0150).
    report_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("reports.id", ondelete="CASCADE"), index=True
    )
