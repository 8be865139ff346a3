"""Daily digest revisions, webhook subscriptions with their delivery queue, and job runs.

Revision ID: 0030
Revises: 0002
Create Date: 2026-11-27 21:02:50.935414
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0030"
down_revision: str | Sequence[str] | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "digest_revisions",
        sa.Column("id", sa.BigInteger(), nullable=False),
        sa.Column("digest_date", sa.Date(), nullable=False),
        sa.Column("revision", sa.Integer(), nullable=False),
        sa.Column("content_hash", sa.String(length=64), nullable=False),
        sa.Column("generated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("scopes", sa.Text(), nullable=False),
        sa.Column("changes", postgresql.JSONB(astext_type=sa.Text()), nullable=True),
        sa.Column("changed_provinces", postgresql.ARRAY(sa.String(length=32)), nullable=True),
        sa.CheckConstraint(
            "(revision = 1) = (changed_provinces IS NULL)",
            name=op.f("ck_digest_revisions_changes_after_first"),
        ),
        sa.CheckConstraint("revision >= 1", name=op.f("ck_digest_revisions_revision_positive")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_digest_revisions")),
        sa.UniqueConstraint("digest_date", "revision", name="uq_digest_revisions_date_revision"),
    )
    op.create_index(
        "ix_digest_revisions_generated_at", "digest_revisions", ["generated_at"], unique=False
    )
    op.create_table(
        "job_runs",
        sa.Column("id", sa.BigInteger(), nullable=False),
        sa.Column("job_id", sa.String(length=64), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("outcome", sa.String(length=16), nullable=False),
        sa.Column("detail", sa.Text(), nullable=True),
        sa.Column("runner", sa.String(length=128), nullable=False),
        sa.CheckConstraint(
            "outcome IN ('running', 'succeeded', 'failed', 'skipped')",
            name=op.f("ck_job_runs_outcome_known"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_job_runs")),
    )
    op.create_index(
        "ix_job_runs_job_id_started_at", "job_runs", ["job_id", "started_at"], unique=False
    )
    op.create_index(
        "ix_job_runs_succeeded",
        "job_runs",
        ["job_id", "finished_at"],
        unique=False,
        postgresql_where=sa.text("outcome = 'succeeded'"),
    )
    op.create_table(
        "subscriptions",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("owner_key_id", sa.Uuid(), nullable=False),
        sa.Column("callback_url", sa.Text(), nullable=False),
        sa.Column("secret", sa.Text(), nullable=True),
        sa.Column("province_pcode", sa.String(length=32), nullable=True),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column("deleted_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint(
            "(deleted_at IS NULL) = (secret IS NOT NULL)",
            name=op.f("ck_subscriptions_secret_while_active"),
        ),
        sa.ForeignKeyConstraint(
            ["owner_key_id"],
            ["api_keys.id"],
            name=op.f("fk_subscriptions_owner_key_id_api_keys"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["province_pcode"],
            ["admin_areas.pcode"],
            name=op.f("fk_subscriptions_province_pcode_admin_areas"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_subscriptions")),
    )
    op.create_index(
        op.f("ix_subscriptions_owner_key_id"), "subscriptions", ["owner_key_id"], unique=False
    )
    op.create_table(
        "deliveries",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("subscription_id", sa.Uuid(), nullable=False),
        sa.Column("digest_revision_id", sa.BigInteger(), nullable=False),
        sa.Column("status", sa.String(length=16), server_default="pending", nullable=False),
        sa.Column("attempts", sa.Integer(), server_default="0", nullable=False),
        sa.Column("next_attempt_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column("delivered_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.CheckConstraint(
            "status IN ('pending', 'delivered', 'failed', 'cancelled')",
            name=op.f("ck_deliveries_status_known"),
        ),
        sa.ForeignKeyConstraint(
            ["digest_revision_id"],
            ["digest_revisions.id"],
            name=op.f("fk_deliveries_digest_revision_id_digest_revisions"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["subscription_id"],
            ["subscriptions.id"],
            name=op.f("fk_deliveries_subscription_id_subscriptions"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_deliveries")),
        sa.UniqueConstraint(
            "subscription_id", "digest_revision_id", name="uq_deliveries_subscription_revision"
        ),
    )
    op.create_index(
        op.f("ix_deliveries_digest_revision_id"), "deliveries", ["digest_revision_id"], unique=False
    )
    op.create_index(
        "ix_deliveries_due",
        "deliveries",
        ["next_attempt_at"],
        unique=False,
        postgresql_where=sa.text("status = 'pending'"),
    )
    op.create_table(
        "delivery_attempts",
        sa.Column("id", sa.BigInteger(), nullable=False),
        sa.Column("delivery_id", sa.Uuid(), nullable=False),
        sa.Column("attempt", sa.Integer(), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("outcome", sa.String(length=16), nullable=False),
        sa.Column("status_code", sa.SmallInteger(), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.CheckConstraint(
            "outcome IN ('in_flight', 'succeeded', 'failed')",
            name=op.f("ck_delivery_attempts_outcome_known"),
        ),
        sa.ForeignKeyConstraint(
            ["delivery_id"],
            ["deliveries.id"],
            name=op.f("fk_delivery_attempts_delivery_id_deliveries"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_delivery_attempts")),
        sa.UniqueConstraint("delivery_id", "attempt", name="uq_delivery_attempts_delivery_attempt"),
    )


def downgrade() -> None:
    op.drop_table("delivery_attempts")
    op.drop_index(
        "ix_deliveries_due", table_name="deliveries", postgresql_where=sa.text("status = 'pending'")
    )
    op.drop_index(op.f("ix_deliveries_digest_revision_id"), table_name="deliveries")
    op.drop_table("deliveries")
    op.drop_index(op.f("ix_subscriptions_owner_key_id"), table_name="subscriptions")
    op.drop_table("subscriptions")
    op.drop_index(
        "ix_job_runs_succeeded",
        table_name="job_runs",
        postgresql_where=sa.text("outcome = 'succeeded'"),
    )
    op.drop_index("ix_job_runs_job_id_started_at", table_name="job_runs")
    op.drop_table("job_runs")
    op.drop_index("ix_digest_revisions_generated_at", table_name="digest_revisions")
    op.drop_table("digest_revisions")
