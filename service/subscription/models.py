"""Subscriptions, the persisted delivery queue, and every delivery attempt."""

from __future__ import annotations

import datetime as dt
import enum
import uuid

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    SmallInteger,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from service.db import Base, TimestampNow, UuidKey


class DeliveryStatus(enum.StrEnum):
    pending = "pending"  # waiting for its next attempt (or one is in flight)
    delivered = "delivered"
    failed = "failed"  # gave up after the last attempt
    cancelled = "cancelled"  # the subscription was deleted first


class AttemptOutcome(enum.StrEnum):
    in_flight = "in_flight"  # claimed; stays so if the sender died before recording it
    succeeded = "succeeded"
    failed = "failed"


def _in(column: str, values: type[enum.StrEnum]) -> str:
    return f"{column} IN ({', '.join(repr(v.value) for v in values)})"


class Subscription(Base):
    __tablename__ = "subscriptions"

    id: Mapped[UuidKey]
    owner_key_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("api_keys.id", ondelete="CASCADE"), index=True
    )
    callback_url: Mapped[str] = mapped_column(Text)
    # The signing secret, encrypted (Fernet token, see secret_store): signing needs it back,
    # a database dump must not give it away. Never returned by the API nor logged; cleared
    # when the subscription is deleted.
    secret_encrypted: Mapped[str | None] = mapped_column(Text)
    province_pcode: Mapped[str | None] = mapped_column(ForeignKey("admin_areas.pcode"))
    created_at: Mapped[TimestampNow]
    deleted_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))

    __table_args__ = (
        CheckConstraint(
            "(deleted_at IS NULL) = (secret_encrypted IS NOT NULL)", name="secret_while_active"
        ),
    )


class Delivery(Base):
    """One revision to one subscriber: unique, so two schedulers cannot queue it twice."""

    __tablename__ = "deliveries"

    id: Mapped[UuidKey]
    subscription_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("subscriptions.id", ondelete="CASCADE")
    )
    digest_revision_id: Mapped[int] = mapped_column(
        ForeignKey("digest_revisions.id", ondelete="CASCADE"), index=True
    )
    status: Mapped[str] = mapped_column(String(16), server_default="pending")
    attempts: Mapped[int] = mapped_column(Integer, server_default="0")
    # When the next attempt is due; while an attempt is in flight, the end of its lease.
    next_attempt_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    created_at: Mapped[TimestampNow]
    delivered_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    last_error: Mapped[str | None] = mapped_column(Text)

    __table_args__ = (
        UniqueConstraint(
            "subscription_id", "digest_revision_id", name="uq_deliveries_subscription_revision"
        ),
        CheckConstraint(_in("status", DeliveryStatus), name="status_known"),
        Index(
            "ix_deliveries_due",
            "next_attempt_at",
            postgresql_where=text("status = 'pending'"),
        ),
    )


class DeliveryAttempt(Base):
    __tablename__ = "delivery_attempts"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    delivery_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("deliveries.id", ondelete="CASCADE"))
    attempt: Mapped[int] = mapped_column(Integer)
    started_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    finished_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    outcome: Mapped[str] = mapped_column(String(16))
    status_code: Mapped[int | None] = mapped_column(SmallInteger)
    error: Mapped[str | None] = mapped_column(Text)

    __table_args__ = (
        UniqueConstraint("delivery_id", "attempt", name="uq_delivery_attempts_delivery_attempt"),
        CheckConstraint(_in("outcome", AttemptOutcome), name="outcome_known"),
    )
