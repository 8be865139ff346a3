"""Imported records point to their report by its primary key.

The foreign key from ``imported_records`` to ``reports`` was on (reporter_key_id,
client_report_id). PostgreSQL checks a foreign key with a plan it keeps for the life of the
connection, made the first time: when ``reports`` was empty or had no statistics (a new
deployment's first import), that plan could walk ``ix_reports_reporter_created_at`` by the
key alone and filter the client report id, and an import stores every report under one key.
Each check then read every report the import had stored so far: a chunk of 500 took 0.3 s
at 5,000 stored and 1.4 s at 15,000 (``bench.ucdp_import --batch-api``: the first import of
20,000 rows ran at 340 rows/s against the batch API's 1,560 reports/s).

Now each record carries ``report_id``, and the foreign key is on it: checked through
``pk_reports``, the only index on ``reports.id``, whatever the statistics. The index on
``report_id`` serves the cascade when a report is deleted. Existing records are backfilled.

Revision ID: 0150
Revises: 0140
Create Date: 2026-11-29
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0150"
down_revision: str | Sequence[str] | None = "0140"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("imported_records", sa.Column("report_id", sa.Uuid(), nullable=True))
    op.execute(
        "UPDATE imported_records k SET report_id = r.id FROM reports r"
        " WHERE r.reporter_key_id = k.reporter_key_id AND r.client_report_id = k.client_report_id"
    )
    op.alter_column("imported_records", "report_id", nullable=False)
    op.drop_constraint("fk_imported_records_report", "imported_records", type_="foreignkey")
    op.create_foreign_key(
        op.f("fk_imported_records_report_id_reports"),
        "imported_records",
        "reports",
        ["report_id"],
        ["id"],
        ondelete="CASCADE",
    )
    op.create_index(op.f("ix_imported_records_report_id"), "imported_records", ["report_id"])


def downgrade() -> None:
    op.drop_index(op.f("ix_imported_records_report_id"), table_name="imported_records")
    op.drop_constraint(
        op.f("fk_imported_records_report_id_reports"), "imported_records", type_="foreignkey"
    )
    op.create_foreign_key(
        "fk_imported_records_report",
        "imported_records",
        "reports",
        ["reporter_key_id", "client_report_id"],
        ["reporter_key_id", "client_report_id"],
        ondelete="CASCADE",
    )
    op.drop_column("imported_records", "report_id")
