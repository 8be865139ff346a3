"""Imported records, and an incident's reports indexed in order.

- ``imported_records``: what an import already stored, so a re-run skips it unread (below).
- ``ix_reports_incident_id_created_at`` (incident_id, created_at, id) replaces
  ``ix_reports_incident_id``: an incident's first report (its facts, read whenever its
  figures are published) is the index's first entry. Without it, a table that grew faster
  than its statistics (a bulk load; autovacuum's analyse comes later) had the planner walk
  every report by ``created_at`` for each incident of a batch: seconds per batch.

``imported_records`` keeps, per report an import stored (the importer's key and the report's
``client_report_id``), the fingerprint of the source record and of the mapping that read it.
A re-import finds a chunk's unchanged records with one query before mapping any of them.
Rows are written by imports from now on: a file imported before this revision is read the
slow way once (its reports replayed), and fingerprinted then.

Revision ID: 0140
Revises: 0110
Create Date: 2026-11-29
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0140"
down_revision: str | Sequence[str] | None = "0110"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index(
        "ix_reports_incident_id_created_at", "reports", ["incident_id", "created_at", "id"]
    )
    op.drop_index("ix_reports_incident_id", table_name="reports")
    op.create_table(
        "imported_records",
        sa.Column("reporter_key_id", sa.Uuid(), nullable=False),
        sa.Column("client_report_id", sa.Uuid(), nullable=False),
        sa.Column("record_hash", sa.String(length=64), nullable=False),
        sa.ForeignKeyConstraint(
            ["reporter_key_id", "client_report_id"],
            ["reports.reporter_key_id", "reports.client_report_id"],
            name="fk_imported_records_report",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint(
            "reporter_key_id", "client_report_id", name=op.f("pk_imported_records")
        ),
    )


def downgrade() -> None:
    op.drop_table("imported_records")
    op.create_index("ix_reports_incident_id", "reports", ["incident_id"])
    op.drop_index("ix_reports_incident_id_created_at", table_name="reports")
