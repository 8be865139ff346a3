"""API keys: a role each; only a hash of the secret is stored."""

from __future__ import annotations

import datetime as dt
import enum
import uuid

from sqlalchemy import CheckConstraint, DateTime, String, Text, func
from sqlalchemy.orm import Mapped, mapped_column

from service.db import Base


class Role(enum.StrEnum):
    reporter = "reporter"
    verifier = "verifier"
    monitor = "monitor"
    admin = "admin"


class ApiKey(Base):
    __tablename__ = "api_keys"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    name: Mapped[str] = mapped_column(Text)
    role: Mapped[str] = mapped_column(String(16))
    # The first characters of the secret, to tell keys apart in listings; not enough to use.
    prefix: Mapped[str] = mapped_column(String(16))
    # SHA-256 of the whole secret (the secret is 256 random bits, so no slow hash is needed).
    secret_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[dt.datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now()
    )
    revoked_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))

    __table_args__ = (
        CheckConstraint("role IN ('reporter', 'verifier', 'monitor', 'admin')", name="role_known"),
    )
