"""Automatic correlation of reports and incident confidence.

- ``reports.correlation``: what automatic correlation decided at intake (the incident
  linked or the likely duplicates listed, the score, its factors, the threshold and the
  rule's version); null for reports that named their incident or came before this.
- ``incidents.confidence`` (0-1) and ``incidents.confidence_band`` (low, medium, high),
  maintained with the incident's figures (``service/incident/confidence.py``), indexed for
  the ``confidence`` filter; backfilled here with the formula of this revision.
- the ``pg_trgm`` extension (PostgreSQL contrib): place-name and text similarity.

Revision ID: 0110
Revises: 0100
Create Date: 2026-11-29
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0110"
down_revision: str | Sequence[str] | None = "0100"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# The formula as of this revision (frozen: the service's copy may change later).
_GRADE = (
    "(CASE s->>'reliability' WHEN 'A' THEN 1.0 WHEN 'B' THEN 0.8 WHEN 'C' THEN 0.6"
    " WHEN 'D' THEN 0.4 WHEN 'E' THEN 0.2 WHEN 'F' THEN 0.3 ELSE 0.3 END)"
    " * (CASE s->>'credibility' WHEN '1' THEN 1.0 WHEN '2' THEN 0.8 WHEN '3' THEN 0.6"
    " WHEN '4' THEN 0.4 WHEN '5' THEN 0.2 WHEN '6' THEN 0.3 ELSE 0.3 END)"
)
_WHO = (
    "lower(coalesce(s->>'publisher', substring(s->>'url' from '^[a-z]+://([^/:?#]+)'), s->>'kind'))"
)
_BACKFILL = f"""
    WITH graded AS (
        SELECT r.incident_id, coalesce(max(g.grade), 0) AS best,
               count(DISTINCT g.who) AS sources, count(DISTINCT r.reporter_key_id) AS keys
        FROM reports r
        LEFT JOIN LATERAL (
            SELECT {_GRADE} AS grade, {_WHO} AS who FROM jsonb_array_elements(r.sources) s
        ) g ON true
        GROUP BY r.incident_id
    ), scored AS (
        SELECT incident_id, 0.5 * best + 0.2 * (1 - power(0.5, sources))
               + 0.3 * (1 - power(0.5, greatest(keys, 1) - 1)) AS confidence
        FROM graded
    )
    UPDATE incidents i
    SET confidence = s.confidence,
        confidence_band = CASE WHEN s.confidence >= 0.7 THEN 'high'
                               WHEN s.confidence >= 0.4 THEN 'medium' ELSE 'low' END
    FROM scored s WHERE i.id = s.incident_id
"""


def upgrade() -> None:
    op.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
    op.add_column("reports", sa.Column("correlation", postgresql.JSONB(), nullable=True))
    op.add_column(
        "incidents",
        sa.Column("confidence", sa.Float(), server_default="0", nullable=False),
    )
    op.add_column(
        "incidents",
        sa.Column("confidence_band", sa.String(8), server_default="low", nullable=False),
    )
    op.create_check_constraint(
        "ck_incidents_confidence_band_known",
        "incidents",
        "confidence_band IN ('low', 'medium', 'high')",
    )
    op.execute(_BACKFILL)
    op.create_index(
        "ix_incidents_confidence_band_occurred_at",
        "incidents",
        ["confidence_band", "occurred_at"],
        postgresql_where=sa.text("status <> 'merged'"),
    )


def downgrade() -> None:
    op.drop_index("ix_incidents_confidence_band_occurred_at", table_name="incidents")
    op.drop_constraint("ck_incidents_confidence_band_known", "incidents", type_="check")
    op.drop_column("incidents", "confidence_band")
    op.drop_column("incidents", "confidence")
    op.drop_column("reports", "correlation")
    # pg_trgm stays: other databases' objects may use it, and it changes no table.
