"""Reports, incidents, API keys, idempotency records and the append-only audit trail.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-27 20:55:42.872312
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from geoalchemy2 import Geometry
from sqlalchemy.dialects import postgresql

revision: str = "0002"
down_revision: str | Sequence[str] | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "api_keys",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("role", sa.String(length=16), nullable=False),
        sa.Column("prefix", sa.String(length=16), nullable=False),
        sa.Column("secret_hash", sa.String(length=64), nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint(
            "role IN ('reporter', 'verifier', 'monitor', 'admin')",
            name=op.f("ck_api_keys_role_known"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_api_keys")),
        sa.UniqueConstraint("secret_hash", name=op.f("uq_api_keys_secret_hash")),
    )
    op.create_table(
        "audit_events",
        sa.Column("id", sa.BigInteger(), nullable=False),
        sa.Column(
            "at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False
        ),
        sa.Column("actor_key_id", sa.Uuid(), nullable=True),
        sa.Column("actor", sa.Text(), nullable=False),
        sa.Column("action", sa.String(length=64), nullable=False),
        sa.Column("entity_type", sa.String(length=32), nullable=False),
        sa.Column("entity_id", sa.Text(), nullable=False),
        sa.Column("before", postgresql.JSONB(astext_type=sa.Text()), nullable=True),
        sa.Column("after", postgresql.JSONB(astext_type=sa.Text()), nullable=True),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(
            ["actor_key_id"],
            ["api_keys.id"],
            name=op.f("fk_audit_events_actor_key_id_api_keys"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit_events")),
    )
    op.create_index("ix_audit_events_at", "audit_events", ["at"], unique=False)
    op.create_index(
        "ix_audit_events_entity", "audit_events", ["entity_type", "entity_id"], unique=False
    )
    op.create_table(
        "idempotency_keys",
        sa.Column("api_key_id", sa.Uuid(), nullable=False),
        sa.Column("key", sa.String(length=255), nullable=False),
        sa.Column("request_hash", sa.String(length=64), nullable=False),
        sa.Column("status_code", sa.SmallInteger(), nullable=False),
        sa.Column("response_body", sa.LargeBinary(), nullable=False),
        sa.Column("resource_id", sa.Uuid(), nullable=True),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.ForeignKeyConstraint(
            ["api_key_id"],
            ["api_keys.id"],
            name=op.f("fk_idempotency_keys_api_key_id_api_keys"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("api_key_id", "key", name=op.f("pk_idempotency_keys")),
    )
    op.create_index(
        "ix_idempotency_keys_created_at", "idempotency_keys", ["created_at"], unique=False
    )
    op.create_geospatial_table(
        "incidents",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("status", sa.String(length=16), server_default="unverified", nullable=False),
        sa.Column("merged_into_id", sa.Uuid(), nullable=True),
        sa.Column("report_count", sa.Integer(), server_default="0", nullable=False),
        sa.Column("review_note", sa.Text(), nullable=True),
        sa.Column("reviewed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column(
            "updated_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column("occurred_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("time_precision", sa.String(length=8), server_default="exact", nullable=False),
        sa.Column(
            "geom",
            Geometry(
                geometry_type="POINT",
                srid=4326,
                dimension=2,
                spatial_index=False,
                from_text="ST_GeomFromEWKT",
                name="geometry",
            ),
            nullable=True,
        ),
        sa.Column("geo_precision", sa.String(length=32), nullable=True),
        sa.Column("place_name", sa.Text(), nullable=True),
        sa.Column("province_pcode", sa.String(length=32), nullable=False),
        sa.Column("district_pcode", sa.String(length=32), nullable=True),
        sa.Column("location_match", sa.String(length=16), nullable=False),
        sa.Column("location_distance_km", sa.Float(), nullable=True),
        sa.Column("violation_type", sa.String(length=16), nullable=False),
        sa.Column("perpetrator_raw", sa.Text(), nullable=True),
        sa.Column("perpetrator_party_id", sa.String(length=64), nullable=True),
        sa.Column("target_raw", sa.Text(), nullable=True),
        sa.Column("target_party_id", sa.String(length=64), nullable=True),
        sa.Column(
            "responsible_guarantors",
            postgresql.ARRAY(sa.String(length=3)),
            server_default="{}",
            nullable=False,
        ),
        sa.Column("ceasefire_status", sa.String(length=16), nullable=False),
        sa.Column("killed", sa.Integer(), server_default="0", nullable=False),
        sa.Column("injured", sa.Integer(), server_default="0", nullable=False),
        sa.Column("civilians_killed", sa.Integer(), server_default="0", nullable=False),
        sa.CheckConstraint(
            "(status = 'merged') = (merged_into_id IS NOT NULL)",
            name=op.f("ck_incidents_merged_has_survivor"),
        ),
        sa.CheckConstraint(
            "ceasefire_status IN ('violation', 'excluded', 'not_party', 'outside_period')",
            name=op.f("ck_incidents_ceasefire_status_known"),
        ),
        sa.CheckConstraint(
            "location_match = 'province_only' OR geom IS NOT NULL",
            name=op.f("ck_incidents_geom_given"),
        ),
        sa.CheckConstraint(
            "location_match IN ('inside', 'nearest', 'province_only')",
            name=op.f("ck_incidents_location_match_known"),
        ),
        sa.CheckConstraint(
            "status IN ('unverified', 'verified', 'disputed', 'rejected', 'merged')",
            name=op.f("ck_incidents_status_known"),
        ),
        sa.CheckConstraint(
            "time_precision IN ('exact', 'hour', 'day', 'week')",
            name=op.f("ck_incidents_time_precision_known"),
        ),
        sa.CheckConstraint(
            "violation_type IN ('airstrike', 'shelling', 'barrel_bomb', 'missile', 'small_arms', 'sniper', 'ground_assault', 'ied', 'chemical', 'siege', 'detention', 'displacement', 'other')",
            name=op.f("ck_incidents_violation_type_known"),
        ),
        sa.CheckConstraint(
            "killed >= 0 AND injured >= 0 AND civilians_killed >= 0",
            name=op.f("ck_incidents_casualties_positive"),
        ),
        sa.ForeignKeyConstraint(
            ["district_pcode"],
            ["admin_areas.pcode"],
            name=op.f("fk_incidents_district_pcode_admin_areas"),
        ),
        sa.ForeignKeyConstraint(
            ["merged_into_id"], ["incidents.id"], name=op.f("fk_incidents_merged_into_id_incidents")
        ),
        sa.ForeignKeyConstraint(
            ["perpetrator_party_id"],
            ["parties.id"],
            name=op.f("fk_incidents_perpetrator_party_id_parties"),
        ),
        sa.ForeignKeyConstraint(
            ["province_pcode"],
            ["admin_areas.pcode"],
            name=op.f("fk_incidents_province_pcode_admin_areas"),
        ),
        sa.ForeignKeyConstraint(
            ["target_party_id"], ["parties.id"], name=op.f("fk_incidents_target_party_id_parties")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_incidents")),
    )
    op.create_geospatial_index(
        "ix_incidents_geom",
        "incidents",
        ["geom"],
        unique=False,
        postgresql_using="gist",
        postgresql_ops={},
    )
    op.create_index("ix_incidents_occurred_at_id", "incidents", ["occurred_at", "id"], unique=False)
    op.create_index(
        "ix_incidents_province_occurred_at",
        "incidents",
        ["province_pcode", "occurred_at"],
        unique=False,
    )
    op.create_index("ix_incidents_status", "incidents", ["status"], unique=False)
    op.create_index(
        "ix_incidents_type_occurred_at",
        "incidents",
        ["violation_type", "occurred_at"],
        unique=False,
        postgresql_where=sa.text("status <> 'merged'"),
    )
    op.create_index("ix_incidents_updated_at", "incidents", ["updated_at"], unique=False)
    op.create_geospatial_table(
        "reports",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("reporter_key_id", sa.Uuid(), nullable=False),
        sa.Column("client_report_id", sa.Uuid(), nullable=True),
        sa.Column("incident_id", sa.Uuid(), nullable=False),
        sa.Column("request_hash", sa.String(length=64), nullable=False),
        sa.Column("revision", sa.Integer(), server_default="1", nullable=False),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column(
            "sources", postgresql.JSONB(astext_type=sa.Text()), server_default="[]", nullable=False
        ),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column(
            "updated_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column("occurred_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("time_precision", sa.String(length=8), server_default="exact", nullable=False),
        sa.Column(
            "geom",
            Geometry(
                geometry_type="POINT",
                srid=4326,
                dimension=2,
                spatial_index=False,
                from_text="ST_GeomFromEWKT",
                name="geometry",
            ),
            nullable=True,
        ),
        sa.Column("geo_precision", sa.String(length=32), nullable=True),
        sa.Column("place_name", sa.Text(), nullable=True),
        sa.Column("province_pcode", sa.String(length=32), nullable=False),
        sa.Column("district_pcode", sa.String(length=32), nullable=True),
        sa.Column("location_match", sa.String(length=16), nullable=False),
        sa.Column("location_distance_km", sa.Float(), nullable=True),
        sa.Column("violation_type", sa.String(length=16), nullable=False),
        sa.Column("perpetrator_raw", sa.Text(), nullable=True),
        sa.Column("perpetrator_party_id", sa.String(length=64), nullable=True),
        sa.Column("target_raw", sa.Text(), nullable=True),
        sa.Column("target_party_id", sa.String(length=64), nullable=True),
        sa.Column(
            "responsible_guarantors",
            postgresql.ARRAY(sa.String(length=3)),
            server_default="{}",
            nullable=False,
        ),
        sa.Column("ceasefire_status", sa.String(length=16), nullable=False),
        sa.Column("killed", sa.Integer(), server_default="0", nullable=False),
        sa.Column("injured", sa.Integer(), server_default="0", nullable=False),
        sa.Column("civilians_killed", sa.Integer(), server_default="0", nullable=False),
        sa.CheckConstraint(
            "ceasefire_status IN ('violation', 'excluded', 'not_party', 'outside_period')",
            name=op.f("ck_reports_ceasefire_status_known"),
        ),
        sa.CheckConstraint(
            "location_match = 'province_only' OR geom IS NOT NULL",
            name=op.f("ck_reports_geom_given"),
        ),
        sa.CheckConstraint(
            "location_match IN ('inside', 'nearest', 'province_only')",
            name=op.f("ck_reports_location_match_known"),
        ),
        sa.CheckConstraint(
            "time_precision IN ('exact', 'hour', 'day', 'week')",
            name=op.f("ck_reports_time_precision_known"),
        ),
        sa.CheckConstraint(
            "violation_type IN ('airstrike', 'shelling', 'barrel_bomb', 'missile', 'small_arms', 'sniper', 'ground_assault', 'ied', 'chemical', 'siege', 'detention', 'displacement', 'other')",
            name=op.f("ck_reports_violation_type_known"),
        ),
        sa.CheckConstraint(
            "killed >= 0 AND injured >= 0 AND civilians_killed >= 0",
            name=op.f("ck_reports_casualties_positive"),
        ),
        sa.ForeignKeyConstraint(
            ["district_pcode"],
            ["admin_areas.pcode"],
            name=op.f("fk_reports_district_pcode_admin_areas"),
        ),
        sa.ForeignKeyConstraint(
            ["incident_id"],
            ["incidents.id"],
            name=op.f("fk_reports_incident_id_incidents"),
            initially="DEFERRED",
            deferrable=True,
        ),
        sa.ForeignKeyConstraint(
            ["perpetrator_party_id"],
            ["parties.id"],
            name=op.f("fk_reports_perpetrator_party_id_parties"),
        ),
        sa.ForeignKeyConstraint(
            ["province_pcode"],
            ["admin_areas.pcode"],
            name=op.f("fk_reports_province_pcode_admin_areas"),
        ),
        sa.ForeignKeyConstraint(
            ["reporter_key_id"],
            ["api_keys.id"],
            name=op.f("fk_reports_reporter_key_id_api_keys"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["target_party_id"], ["parties.id"], name=op.f("fk_reports_target_party_id_parties")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_reports")),
        sa.UniqueConstraint(
            "reporter_key_id", "client_report_id", name="uq_reports_reporter_client"
        ),
    )
    op.create_index("ix_reports_created_at_id", "reports", ["created_at", "id"], unique=False)
    op.create_index("ix_reports_incident_id", "reports", ["incident_id"], unique=False)
    op.create_index(
        "ix_reports_reporter_created_at", "reports", ["reporter_key_id", "created_at"], unique=False
    )
    op.create_table(
        "report_revisions",
        sa.Column("report_id", sa.Uuid(), nullable=False),
        sa.Column("revision", sa.Integer(), nullable=False),
        sa.Column("actor_key_id", sa.Uuid(), nullable=False),
        sa.Column("snapshot", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.ForeignKeyConstraint(
            ["actor_key_id"],
            ["api_keys.id"],
            name=op.f("fk_report_revisions_actor_key_id_api_keys"),
        ),
        sa.ForeignKeyConstraint(
            ["report_id"],
            ["reports.id"],
            name=op.f("fk_report_revisions_report_id_reports"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("report_id", "revision", name=op.f("pk_report_revisions")),
    )

    # The audit trail is append-only: the database itself refuses to change or delete events.
    op.execute(
        """
        CREATE FUNCTION audit_events_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            RAISE EXCEPTION 'audit_events is append-only (% refused)', TG_OP;
        END $$
        """
    )
    op.execute(
        "CREATE TRIGGER audit_events_append_only BEFORE UPDATE OR DELETE ON audit_events"
        " FOR EACH STATEMENT EXECUTE FUNCTION audit_events_append_only()"
    )


def downgrade() -> None:
    op.execute("DROP TRIGGER IF EXISTS audit_events_append_only ON audit_events")
    op.execute("DROP FUNCTION IF EXISTS audit_events_append_only()")
    op.drop_table("report_revisions")
    op.drop_index("ix_reports_reporter_created_at", table_name="reports")
    op.drop_index("ix_reports_incident_id", table_name="reports")
    op.drop_index("ix_reports_created_at_id", table_name="reports")
    op.drop_geospatial_table("reports")
    op.drop_index("ix_incidents_updated_at", table_name="incidents")
    op.drop_index(
        "ix_incidents_type_occurred_at",
        table_name="incidents",
        postgresql_where=sa.text("status <> 'merged'"),
    )
    op.drop_index("ix_incidents_status", table_name="incidents")
    op.drop_index("ix_incidents_province_occurred_at", table_name="incidents")
    op.drop_index("ix_incidents_occurred_at_id", table_name="incidents")
    op.drop_geospatial_index(
        "ix_incidents_geom", table_name="incidents", postgresql_using="gist", column_name="geom"
    )
    op.drop_geospatial_table("incidents")
    op.drop_index("ix_idempotency_keys_created_at", table_name="idempotency_keys")
    op.drop_table("idempotency_keys")
    op.drop_index("ix_audit_events_entity", table_name="audit_events")
    op.drop_index("ix_audit_events_at", table_name="audit_events")
    op.drop_table("audit_events")
    op.drop_table("api_keys")
