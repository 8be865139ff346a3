"""Parties to the conflict, their aliases, the guarantors answering for them, and coverage."""

from __future__ import annotations

import datetime as dt
import enum

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    Date,
    Enum,
    ForeignKey,
    Identity,
    Index,
    Integer,
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


class _Validity:
    """Inclusive validity dates; NULL means open-ended."""

    valid_from: Mapped[dt.date | None] = mapped_column(Date)
    valid_to: Mapped[dt.date | None] = mapped_column(Date)


class PartyAlias(_Validity, Base):
    """A name a party goes by, over a period: a normalised alias names at most one party on
    any date (migration 0100's exclusion constraint)."""

    __tablename__ = "party_aliases"

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    alias_norm: Mapped[str] = mapped_column(Text)
    alias: Mapped[str] = mapped_column(Text)
    party_id: Mapped[str] = mapped_column(ForeignKey("parties.id", ondelete="CASCADE"), index=True)

    __table_args__ = (
        Index("ix_party_aliases_alias_norm", "alias_norm"),
        CheckConstraint(
            "valid_to IS NULL OR valid_from IS NULL OR valid_from <= valid_to",
            name="validity_ordered",
        ),
    )


class PartyCoalition(Base):
    """A name standing for several parties acting together ("National Front for Liberation,
    SNA" spelled as one name), attributed by the coalition rule (``party.service``)."""

    __tablename__ = "party_coalitions"

    name_norm: Mapped[str] = mapped_column(Text, primary_key=True)
    name: Mapped[str] = mapped_column(Text)


class PartyCoalitionMember(Base):
    __tablename__ = "party_coalition_members"

    coalition_norm: Mapped[str] = mapped_column(
        ForeignKey("party_coalitions.name_norm", ondelete="CASCADE"), primary_key=True
    )
    party_id: Mapped[str] = mapped_column(
        ForeignKey("parties.id", ondelete="RESTRICT"), primary_key=True, index=True
    )
    position: Mapped[int] = mapped_column(Integer)


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
