"""The incident change log the changes feed reads (migration 0130).

One row per incident written, per statement: filled by statement-level triggers on
``incidents`` and ``incident_pending_reviews`` from their transition tables, never by the
service. ``xid`` is the writing transaction's id (``pg_current_xact_id()`` as a bigint) and
``seq`` a sequence: the feed pages in ``(xid, seq)`` order and reads only rows below the
snapshot's xmin horizon, so a transaction still in flight can never commit behind a cursor
already handed out (``service/changes/service.py``). Insert-only: no row is ever updated,
so concurrent writers never wait for one another here.
"""

from __future__ import annotations

import uuid

from sqlalchemy import BigInteger, Boolean, Identity, Index, Uuid, text
from sqlalchemy.orm import Mapped, mapped_column

from service.db import Base


class IncidentChange(Base):
    __tablename__ = "incident_changes"

    xid: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    seq: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    # No foreign key: the row of a deleted incident stays, the feed's tombstone.
    incident_id: Mapped[uuid.UUID] = mapped_column(Uuid)
    # Whether the public feed carries it: the row is or was verified and a column the
    # public sees changed (an unverified incident's writes never reach the public feed).
    public: Mapped[bool] = mapped_column(Boolean)

    __table_args__ = (
        Index("ix_incident_changes_public", "xid", "seq", postgresql_where=text("public")),
        Index("ix_incident_changes_incident_id", "incident_id"),
    )
