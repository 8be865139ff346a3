"""Incident counts per 0.1-degree grid cell, kept by triggers, for low-zoom map tiles.

Revision ID: 0021
Revises: 0020
Create Date: 2026-11-27 21:58:03.112093
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0021"
down_revision: str | Sequence[str] | None = "0020"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# The cell keys exactly as the service computes a 0.1-degree public cell (same expression,
# same floating point), so tiles read from here and tiles computed live agree.
_KEY = (
    "floor(ST_X(d.geom) / 0.1)::int, floor(ST_Y(d.geom) / 0.1)::int, d.status, d.ceasefire_status"
)

_FUNCTIONS = [
    f"""
    CREATE FUNCTION incidents_cell_tally() RETURNS trigger LANGUAGE plpgsql AS $fn$
    DECLARE
        delta text;
    BEGIN
        delta := CASE TG_OP
            WHEN 'INSERT' THEN 'SELECT n.*, 1 AS sign FROM new_rows n'
            WHEN 'DELETE' THEN 'SELECT o.*, -1 AS sign FROM old_rows o'
            ELSE 'SELECT n.*, 1 AS sign FROM new_rows n UNION ALL SELECT o.*, -1 FROM old_rows o'
        END;
        -- Fires after incidents_tally (trigger names sort so), which has already locked the
        -- version row: the lock order stays the same for every writer.
        EXECUTE format($sql$
            INSERT INTO incident_cell_counts AS c
                (cell_i, cell_j, status, ceasefire_status, incidents, killed)
            SELECT {_KEY}, sum(d.sign), sum(d.sign * d.killed)
            FROM (%s) d
            WHERE d.geom IS NOT NULL
            GROUP BY 1, 2, 3, 4
            HAVING sum(d.sign) <> 0 OR sum(d.sign * d.killed) <> 0
            ORDER BY 1, 2, 3, 4
            ON CONFLICT (cell_i, cell_j, status, ceasefire_status)
            DO UPDATE SET incidents = c.incidents + excluded.incidents,
                          killed = c.killed + excluded.killed
        $sql$, delta);
        RETURN NULL;
    END
    $fn$
    """,
    f"""
    CREATE FUNCTION rebuild_incident_cell_counts() RETURNS void LANGUAGE sql AS $fn$
        DELETE FROM incident_cell_counts;
        INSERT INTO incident_cell_counts (cell_i, cell_j, status, ceasefire_status, incidents,
                                          killed)
        SELECT {_KEY}, count(*), sum(d.killed)
        FROM incidents d WHERE d.geom IS NOT NULL GROUP BY 1, 2, 3, 4;
    $fn$
    """,
]

# Named to fire after the incidents_tally_* triggers (PostgreSQL fires them by name).
_TRIGGERS = [
    "CREATE TRIGGER incidents_tiles_insert AFTER INSERT ON incidents"
    " REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT"
    " EXECUTE FUNCTION incidents_cell_tally()",
    "CREATE TRIGGER incidents_tiles_update AFTER UPDATE ON incidents"
    " REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows"
    " FOR EACH STATEMENT EXECUTE FUNCTION incidents_cell_tally()",
    "CREATE TRIGGER incidents_tiles_delete AFTER DELETE ON incidents"
    " REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT"
    " EXECUTE FUNCTION incidents_cell_tally()",
]


def upgrade() -> None:
    op.create_table(
        "incident_cell_counts",
        sa.Column("cell_i", sa.Integer(), nullable=False),
        sa.Column("cell_j", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("ceasefire_status", sa.String(length=16), nullable=False),
        sa.Column("incidents", sa.Integer(), server_default="0", nullable=False),
        sa.Column("killed", sa.BigInteger(), server_default="0", nullable=False),
        sa.PrimaryKeyConstraint(
            "cell_i", "cell_j", "status", "ceasefire_status", name=op.f("pk_incident_cell_counts")
        ),
    )
    for statement in (*_FUNCTIONS, *_TRIGGERS):
        op.execute(statement)
    op.execute("SELECT rebuild_incident_cell_counts()")


def downgrade() -> None:
    for trigger in ("incidents_tiles_delete", "incidents_tiles_update", "incidents_tiles_insert"):
        op.execute(f"DROP TRIGGER {trigger} ON incidents")
    op.execute("DROP FUNCTION rebuild_incident_cell_counts()")
    op.execute("DROP FUNCTION incidents_cell_tally()")
    op.drop_table("incident_cell_counts")
