"""API keys: a role each; only a hash of the secret is stored."""

from __future__ import annotations

import datetime as dt
import enum

from sqlalchemy import CheckConstraint, DateTime, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from service.db import Base, TimestampNow, UuidKey


class Role(enum.StrEnum):
    reporter = "reporter"
    verifier = "verifier"
    monitor = "monitor"
    admin = "admin"


class ApiKey(Base):
    __tablename__ = "api_keys"

    id: Mapped[UuidKey]
    name: Mapped[str] = mapped_column(Text)
    role: Mapped[str] = mapped_column(String(16))
    # The first characters of the secret, to tell keys apart in listings; not enough to use.
    prefix: Mapped[str] = mapped_column(String(16))
    # SHA-256 of the whole secret (the secret is 256 random bits, so no slow hash is needed).
    secret_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[TimestampNow]
    revoked_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))

    __table_args__ = (
        CheckConstraint("role IN ('reporter', 'verifier', 'monitor', 'admin')", name="role_known"),
    )
