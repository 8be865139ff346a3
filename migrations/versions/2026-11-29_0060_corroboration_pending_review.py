"""Corroboration is a claim: reviewed incidents hold new reports for a verifier
(incident_pending_reviews), and incidents keep the spread of their casualty figures.

Revision ID: 0060
Revises: 0050
Create Date: 2026-11-29
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0060"
down_revision: str | Sequence[str] | None = "0050"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Nullable and not back-filled: filling it would rewrite every incident (and fire the
    # tally triggers); an incident gets its range when it is next derived.
    op.add_column(
        "incidents",
        sa.Column("casualties_range", postgresql.JSONB(astext_type=sa.Text()), nullable=True),
    )
    op.create_table(
        "incident_pending_reviews",
        sa.Column("incident_id", sa.Uuid(), nullable=False),
        sa.Column(
            "since", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False
        ),
        sa.Column(
            "updated_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column("proposed", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.ForeignKeyConstraint(
            ["incident_id"],
            ["incidents.id"],
            name=op.f("fk_incident_pending_reviews_incident_id_incidents"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("incident_id", name=op.f("pk_incident_pending_reviews")),
    )
    op.create_index(
        "ix_incident_pending_reviews_since", "incident_pending_reviews", ["since"], unique=False
    )


def downgrade() -> None:
    op.drop_index("ix_incident_pending_reviews_since", table_name="incident_pending_reviews")
    op.drop_table("incident_pending_reviews")
    op.drop_column("incidents", "casualties_range")
