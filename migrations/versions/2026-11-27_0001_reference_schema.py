"""Reference schema: PostGIS, administrative areas, parties, guarantors, theatre.

Revision ID: 0001
Revises:
Create Date: 2026-11-27 20:49:25.655341
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from geoalchemy2 import Geometry
from sqlalchemy.dialects import postgresql

revision: str = "0001"
down_revision: str | Sequence[str] | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.execute("CREATE EXTENSION IF NOT EXISTS postgis")
    op.create_geospatial_table(
        "admin_areas",
        sa.Column("pcode", sa.String(length=32), nullable=False),
        sa.Column("level", sa.SmallInteger(), nullable=False),
        sa.Column("name_en", sa.Text(), nullable=False),
        sa.Column("name_ar", sa.Text(), nullable=True),
        sa.Column("alt_names", postgresql.ARRAY(sa.Text()), server_default="{}", nullable=False),
        sa.Column("parent_pcode", sa.String(length=32), nullable=True),
        sa.Column(
            "geom",
            Geometry(
                geometry_type="MULTIPOLYGON",
                srid=4326,
                dimension=2,
                spatial_index=False,
                from_text="ST_GeomFromEWKT",
                name="geometry",
                nullable=False,
            ),
            nullable=False,
        ),
        sa.CheckConstraint("level >= 1", name=op.f("ck_admin_areas_level_positive")),
        sa.ForeignKeyConstraint(
            ["parent_pcode"],
            ["admin_areas.pcode"],
            name=op.f("fk_admin_areas_parent_pcode_admin_areas"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("pcode", name=op.f("pk_admin_areas")),
    )
    op.create_geospatial_index(
        "ix_admin_areas_geom",
        "admin_areas",
        ["geom"],
        unique=False,
        postgresql_using="gist",
        postgresql_ops={},
    )
    op.create_index(op.f("ix_admin_areas_level"), "admin_areas", ["level"], unique=False)
    op.create_index(
        op.f("ix_admin_areas_parent_pcode"), "admin_areas", ["parent_pcode"], unique=False
    )
    op.create_table(
        "guarantors",
        sa.Column("id", sa.String(length=3), nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_guarantors")),
    )
    op.create_table(
        "parties",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("side", sa.String(length=32), nullable=False),
        sa.Column("target_only", sa.Boolean(), server_default=sa.text("false"), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_parties")),
    )
    op.create_geospatial_table(
        "theatres",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("timezone", sa.String(length=64), nullable=False),
        sa.Column("ceasefire_start_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("ceasefire_end_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column(
            "aoi",
            Geometry(
                geometry_type="MULTIPOLYGON",
                srid=4326,
                dimension=2,
                spatial_index=False,
                from_text="ST_GeomFromEWKT",
                name="geometry",
            ),
            nullable=True,
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_theatres")),
    )
    op.create_table(
        "admin_area_names",
        sa.Column("pcode", sa.String(length=32), nullable=False),
        sa.Column("name_norm", sa.Text(), nullable=False),
        sa.Column("origin", sa.String(length=16), nullable=False),
        sa.Column("level", sa.SmallInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            ["pcode"],
            ["admin_areas.pcode"],
            name=op.f("fk_admin_area_names_pcode_admin_areas"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("pcode", "name_norm", "origin", name=op.f("pk_admin_area_names")),
    )
    op.create_index(
        "ix_admin_area_names_level_name_norm",
        "admin_area_names",
        ["level", "name_norm"],
        unique=False,
    )
    op.create_geospatial_table(
        "admin_area_pieces",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("pcode", sa.String(length=32), nullable=False),
        sa.Column("level", sa.SmallInteger(), nullable=False),
        sa.Column(
            "geom",
            Geometry(
                geometry_type="POLYGON",
                srid=4326,
                dimension=2,
                spatial_index=False,
                from_text="ST_GeomFromEWKT",
                name="geometry",
                nullable=False,
            ),
            nullable=False,
        ),
        sa.ForeignKeyConstraint(
            ["pcode"],
            ["admin_areas.pcode"],
            name=op.f("fk_admin_area_pieces_pcode_admin_areas"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_admin_area_pieces")),
    )
    op.create_geospatial_index(
        "ix_admin_area_pieces_geom",
        "admin_area_pieces",
        ["geom"],
        unique=False,
        postgresql_using="gist",
        postgresql_ops={},
    )
    op.create_index(
        op.f("ix_admin_area_pieces_pcode"), "admin_area_pieces", ["pcode"], unique=False
    )
    op.create_table(
        "party_aliases",
        sa.Column("alias_norm", sa.Text(), nullable=False),
        sa.Column("alias", sa.Text(), nullable=False),
        sa.Column("party_id", sa.String(length=64), nullable=False),
        sa.ForeignKeyConstraint(
            ["party_id"],
            ["parties.id"],
            name=op.f("fk_party_aliases_party_id_parties"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("alias_norm", name=op.f("pk_party_aliases")),
    )
    op.create_index(op.f("ix_party_aliases_party_id"), "party_aliases", ["party_id"], unique=False)
    op.create_table(
        "party_coverage",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("party_id", sa.String(length=64), nullable=False),
        sa.Column(
            "coverage", sa.Enum("covered", "excluded", "not_party", name="coverage"), nullable=False
        ),
        sa.Column("valid_from", sa.Date(), nullable=True),
        sa.Column("valid_to", sa.Date(), nullable=True),
        sa.CheckConstraint(
            "valid_to IS NULL OR valid_from IS NULL OR valid_from <= valid_to",
            name=op.f("ck_party_coverage_validity_ordered"),
        ),
        sa.ForeignKeyConstraint(
            ["party_id"],
            ["parties.id"],
            name=op.f("fk_party_coverage_party_id_parties"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_party_coverage")),
    )
    op.create_index(
        op.f("ix_party_coverage_party_id"), "party_coverage", ["party_id"], unique=False
    )
    op.create_table(
        "party_guarantors",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("party_id", sa.String(length=64), nullable=False),
        sa.Column("guarantor_id", sa.String(length=3), nullable=False),
        sa.Column("valid_from", sa.Date(), nullable=True),
        sa.Column("valid_to", sa.Date(), nullable=True),
        sa.CheckConstraint(
            "valid_to IS NULL OR valid_from IS NULL OR valid_from <= valid_to",
            name=op.f("ck_party_guarantors_validity_ordered"),
        ),
        sa.ForeignKeyConstraint(
            ["guarantor_id"],
            ["guarantors.id"],
            name=op.f("fk_party_guarantors_guarantor_id_guarantors"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["party_id"],
            ["parties.id"],
            name=op.f("fk_party_guarantors_party_id_parties"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_party_guarantors")),
    )
    op.create_index(
        op.f("ix_party_guarantors_party_id"), "party_guarantors", ["party_id"], unique=False
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_party_guarantors_party_id"), table_name="party_guarantors")
    op.drop_table("party_guarantors")
    op.drop_index(op.f("ix_party_coverage_party_id"), table_name="party_coverage")
    op.drop_table("party_coverage")
    op.drop_index(op.f("ix_party_aliases_party_id"), table_name="party_aliases")
    op.drop_table("party_aliases")
    op.drop_index(op.f("ix_admin_area_pieces_pcode"), table_name="admin_area_pieces")
    op.drop_geospatial_index(
        "ix_admin_area_pieces_geom",
        table_name="admin_area_pieces",
        postgresql_using="gist",
        column_name="geom",
    )
    op.drop_geospatial_table("admin_area_pieces")
    op.drop_index("ix_admin_area_names_level_name_norm", table_name="admin_area_names")
    op.drop_table("admin_area_names")
    op.drop_geospatial_table("theatres")
    op.drop_table("parties")
    op.drop_table("guarantors")
    op.drop_index(op.f("ix_admin_areas_parent_pcode"), table_name="admin_areas")
    op.drop_index(op.f("ix_admin_areas_level"), table_name="admin_areas")
    op.drop_geospatial_index(
        "ix_admin_areas_geom", table_name="admin_areas", postgresql_using="gist", column_name="geom"
    )
    op.drop_geospatial_table("admin_areas")
    sa.Enum(name="coverage").drop(op.get_bind(), checkfirst=True)
    op.execute("DROP EXTENSION IF EXISTS postgis")
