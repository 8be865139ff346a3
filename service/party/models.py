"""Parties to the conflict, their aliases, the guarantors answering for them, and coverage."""

from __future__ import annotations

import datetime as dt
import enum

from sqlalchemy import (
    Boolean,
    CheckConstraint,
    Date,
    Enum,
    ForeignKey,
    String,
    Text,
    false,
)
from sqlalchemy.orm import Mapped, mapped_column

from service.db import Base


class Coverage(enum.StrEnum):
    covered = "covered"
    excluded = "excluded"
    not_party = "not_party"


class Guarantor(Base):
    __tablename__ = "guarantors"

    id: Mapped[str] = mapped_column(String(3), primary_key=True)  # ISO 3166-1 alpha-3
    name: Mapped[str] = mapped_column(Text)


class Party(Base):
    __tablename__ = "parties"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)  # slug
    name: Mapped[str] = mapped_column(Text)
    side: Mapped[str] = mapped_column(String(32))
    # A party that can only be a target (civilians): never resolved as a perpetrator.
    target_only: Mapped[bool] = mapped_column(Boolean, server_default=false())


class PartyAlias(Base):
    __tablename__ = "party_aliases"

    alias_norm: Mapped[str] = mapped_column(Text, primary_key=True)
    alias: Mapped[str] = mapped_column(Text)
    party_id: Mapped[str] = mapped_column(ForeignKey("parties.id", ondelete="CASCADE"), index=True)


class _Validity:
    """Inclusive validity dates; NULL means open-ended."""

    valid_from: Mapped[dt.date | None] = mapped_column(Date)
    valid_to: Mapped[dt.date | None] = mapped_column(Date)


class PartyGuarantor(_Validity, Base):
    __tablename__ = "party_guarantors"

    id: Mapped[int] = mapped_column(primary_key=True)
    party_id: Mapped[str] = mapped_column(ForeignKey("parties.id", ondelete="CASCADE"), index=True)
    guarantor_id: Mapped[str] = mapped_column(ForeignKey("guarantors.id", ondelete="RESTRICT"))

    __table_args__ = (
        CheckConstraint(
            "valid_to IS NULL OR valid_from IS NULL OR valid_from <= valid_to",
            name="validity_ordered",
        ),
    )


class PartyCoverage(_Validity, Base):
    __tablename__ = "party_coverage"

    id: Mapped[int] = mapped_column(primary_key=True)
    party_id: Mapped[str] = mapped_column(ForeignKey("parties.id", ondelete="CASCADE"), index=True)
    coverage: Mapped[Coverage] = mapped_column(
        Enum(Coverage, name="coverage", values_callable=lambda e: [m.value for m in e])
    )

    __table_args__ = (
        CheckConstraint(
            "valid_to IS NULL OR valid_from IS NULL OR valid_from <= valid_to",
            name="validity_ordered",
        ),
    )
