"""Administrative areas (governorates at level 1, districts at level 2) and their lookups."""

from __future__ import annotations

from geoalchemy2 import Geometry
from sqlalchemy import CheckConstraint, ForeignKey, Index, SmallInteger, String, Text
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.orm import Mapped, mapped_column

from service.db import Base


class AdminArea(Base):
    __tablename__ = "admin_areas"

    pcode: Mapped[str] = mapped_column(String(32), primary_key=True)
    level: Mapped[int] = mapped_column(SmallInteger, index=True)
    name_en: Mapped[str] = mapped_column(Text)
    name_ar: Mapped[str | None] = mapped_column(Text)
    alt_names: Mapped[list[str]] = mapped_column(ARRAY(Text), server_default="{}")
    parent_pcode: Mapped[str | None] = mapped_column(
        ForeignKey("admin_areas.pcode", ondelete="RESTRICT"), index=True
    )
    geom = mapped_column(Geometry("MULTIPOLYGON", srid=4326, spatial_index=False), nullable=False)

    __table_args__ = (
        CheckConstraint("level >= 1", name="level_positive"),
        Index("ix_admin_areas_geom", "geom", postgresql_using="gist"),
    )


class AdminAreaName(Base):
    """Every name an area is known by, normalised for matching (English, Arabic, alternates)."""

    __tablename__ = "admin_area_names"

    pcode: Mapped[str] = mapped_column(
        ForeignKey("admin_areas.pcode", ondelete="CASCADE"), primary_key=True
    )
    name_norm: Mapped[str] = mapped_column(Text, primary_key=True)
    # "boundary" names come from the boundary file, "theatre" names from the theatre file.
    origin: Mapped[str] = mapped_column(String(16), primary_key=True)
    level: Mapped[int] = mapped_column(SmallInteger)

    __table_args__ = (Index("ix_admin_area_names_level_name_norm", "level", "name_norm"),)


class AdminAreaPiece(Base):
    """Areas cut by ST_Subdivide so a point-in-polygon test touches a few dozen vertices."""

    __tablename__ = "admin_area_pieces"

    id: Mapped[int] = mapped_column(primary_key=True)
    pcode: Mapped[str] = mapped_column(
        ForeignKey("admin_areas.pcode", ondelete="CASCADE"), index=True
    )
    level: Mapped[int] = mapped_column(SmallInteger)
    geom = mapped_column(Geometry("POLYGON", srid=4326, spatial_index=False), nullable=False)

    __table_args__ = (Index("ix_admin_area_pieces_geom", "geom", postgresql_using="gist"),)
