"""Standard outputs: counter-clockwise rings and the theatre's data sources.

- Stored area polygons are re-oriented as RFC 7946 wants them served (exterior rings
  counter-clockwise, holes clockwise); the loader now stores them so.
- ``theatres`` gains ``sources``: the data sources and their licences, from the theatre
  file, which TileJSON, the landing page and the collections attribute.

Revision ID: 0070
Revises: 0062
Create Date: 2026-11-29
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0070"
down_revision: str | Sequence[str] | None = "0062"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.execute(
        "UPDATE admin_areas SET geom = ST_ForcePolygonCCW(geom) WHERE NOT ST_IsPolygonCCW(geom)"
    )
    op.add_column(
        "theatres",
        sa.Column(
            "sources",
            postgresql.JSONB(astext_type=sa.Text()),
            server_default=sa.text("'[]'::jsonb"),
            nullable=False,
        ),
    )


def downgrade() -> None:
    op.drop_column("theatres", "sources")
    # The rings keep their order: either is valid in the database.
