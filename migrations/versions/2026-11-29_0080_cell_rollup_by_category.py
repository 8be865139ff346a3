"""Incident counts per 0.1-degree cell and every filtered category, per local day and per
local month, kept by statement-level triggers, so low-zoom tiles with any filter read them.

``incident_cell_days`` and ``incident_cell_months`` share one key: the period (a local day,
or the first day of a local month, in the theatre's time zone), the cell (as 0021 computes
it), province, status, ceasefire status, violation type, responsible guarantors, perpetrator
and target (``''`` for none, so the key can be a primary key). Parties are in the key: the
pairs of perpetrator and target are few and follow the other columns, so they add about 1%
of rows (measured on the 300,000-incident benchmark set; see ``service/tiles/rollup.py``).

Revision ID: 0080
Revises: 0070
Create Date: 2026-11-29
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0080"
down_revision: str | Sequence[str] | None = "0070"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_CATEGORIES = (
    "cell_i, cell_j, province_pcode, status, ceasefire_status, violation_type,"
    " responsible_guarantors, perpetrator_party_id, target_party_id"
)
# The key of one incident row (alias d) but its period: the cell exactly as the service
# computes a 0.1-degree public cell (same expression, same floating point; as 0021).
_ROW_CATEGORIES = (
    "floor(ST_X(d.geom) / 0.1)::int AS cell_i, floor(ST_Y(d.geom) / 0.1)::int AS cell_j,"
    " d.province_pcode, d.status, d.ceasefire_status, d.violation_type,"
    " d.responsible_guarantors, coalesce(d.perpetrator_party_id, '') AS perpetrator_party_id,"
    " coalesce(d.target_party_id, '') AS target_party_id"
)
_GROUP = "GROUP BY 1, 2, 3, 4, 5, 6, 7, 8, 9, 10"
_ORDER = "ORDER BY 1, 2, 3, 4, 5, 6, 7, 8, 9, 10"


def _upsert(period: str) -> str:
    return (
        f"ON CONFLICT ({period}, {_CATEGORIES})"
        " DO UPDATE SET incidents = c.incidents + excluded.incidents,"
        " killed = c.killed + excluded.killed"
    )


_FUNCTIONS = [
    f"""
    CREATE FUNCTION incidents_cell_category_tally() RETURNS trigger LANGUAGE plpgsql AS $fn$
    DECLARE
        delta text;
    BEGIN
        delta := CASE TG_OP
            WHEN 'INSERT' THEN 'SELECT n.*, 1 AS sign FROM new_rows n'
            WHEN 'DELETE' THEN 'SELECT o.*, -1 AS sign FROM old_rows o'
            ELSE 'SELECT n.*, 1 AS sign FROM new_rows n UNION ALL SELECT o.*, -1 FROM old_rows o'
        END;
        -- Fires after incidents_tally (trigger names sort so), which has already locked the
        -- version row: the lock order stays the same for every writer. Rows are upserted in
        -- key order, days before months.
        EXECUTE format($sql$
            WITH by_day AS (
                SELECT (d.occurred_at AT TIME ZONE $1)::date AS day, {_ROW_CATEGORIES},
                       sum(d.sign) AS incidents, sum(d.sign * d.killed) AS killed
                FROM (%s) d
                WHERE d.geom IS NOT NULL
                {_GROUP}
                HAVING sum(d.sign) <> 0 OR sum(d.sign * d.killed) <> 0
            ),
            days AS (
                INSERT INTO incident_cell_days AS c (day, {_CATEGORIES}, incidents, killed)
                SELECT * FROM by_day {_ORDER}
                {_upsert("day")}
            )
            INSERT INTO incident_cell_months AS c (month, {_CATEGORIES}, incidents, killed)
            SELECT date_trunc('month', day::timestamp)::date, {_CATEGORIES}, sum(incidents), sum(killed)
            FROM by_day
            {_GROUP}
            HAVING sum(incidents) <> 0 OR sum(killed) <> 0
            {_ORDER}
            {_upsert("month")}
        $sql$, delta) USING theatre_timezone();
        RETURN NULL;
    END
    $fn$
    """,
    # From scratch: the backfill, and after a change of the theatre's time zone (days move).
    f"""
    CREATE FUNCTION rebuild_incident_cell_categories() RETURNS void LANGUAGE sql AS $fn$
        DELETE FROM incident_cell_days;
        DELETE FROM incident_cell_months;
        INSERT INTO incident_cell_days (day, {_CATEGORIES}, incidents, killed)
        SELECT (d.occurred_at AT TIME ZONE theatre_timezone())::date AS day, {_ROW_CATEGORIES},
               count(*), sum(d.killed)
        FROM incidents d WHERE d.geom IS NOT NULL {_GROUP};
        INSERT INTO incident_cell_months (month, {_CATEGORIES}, incidents, killed)
        SELECT date_trunc('month', day::timestamp)::date, {_CATEGORIES}, sum(incidents), sum(killed)
        FROM incident_cell_days {_GROUP};
    $fn$
    """,
    # A change of the theatre's time zone moves every local day (0061's function, and this
    # rollup's rebuild).
    """
    CREATE OR REPLACE FUNCTION theatres_timezone_changed() RETURNS trigger LANGUAGE plpgsql AS $fn$
    BEGIN
        PERFORM rebuild_incident_tallies();
        PERFORM rebuild_incident_cell_categories();
        UPDATE data_versions SET version = version + 1, changed_at = now()
        WHERE name = 'incidents_public';
        RETURN NULL;
    END
    $fn$
    """,
]

_TIMEZONE_CHANGED_BEFORE = """
CREATE OR REPLACE FUNCTION theatres_timezone_changed() RETURNS trigger LANGUAGE plpgsql AS $fn$
BEGIN
    PERFORM rebuild_incident_tallies();
    UPDATE data_versions SET version = version + 1, changed_at = now()
    WHERE name = 'incidents_public';
    RETURN NULL;
END
$fn$
"""

# Named to fire after the incidents_tally_* triggers (PostgreSQL fires them by name), which
# lock the 'incidents' version row first.
_TRIGGERS = [
    "CREATE TRIGGER incidents_tiles_category_insert AFTER INSERT ON incidents"
    " REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT"
    " EXECUTE FUNCTION incidents_cell_category_tally()",
    "CREATE TRIGGER incidents_tiles_category_update AFTER UPDATE ON incidents"
    " REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows"
    " FOR EACH STATEMENT EXECUTE FUNCTION incidents_cell_category_tally()",
    "CREATE TRIGGER incidents_tiles_category_delete AFTER DELETE ON incidents"
    " REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT"
    " EXECUTE FUNCTION incidents_cell_category_tally()",
]


def _create(table: str, period: str) -> None:
    op.create_table(
        table,
        sa.Column(period, sa.Date(), nullable=False),
        sa.Column("cell_i", sa.Integer(), nullable=False),
        sa.Column("cell_j", sa.Integer(), nullable=False),
        sa.Column("province_pcode", sa.String(length=32), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("ceasefire_status", sa.String(length=16), nullable=False),
        sa.Column("violation_type", sa.String(length=16), nullable=False),
        sa.Column("responsible_guarantors", postgresql.ARRAY(sa.String(length=3)), nullable=False),
        sa.Column("perpetrator_party_id", sa.String(length=64), nullable=False),
        sa.Column("target_party_id", sa.String(length=64), nullable=False),
        sa.Column("incidents", sa.Integer(), server_default="0", nullable=False),
        sa.Column("killed", sa.BigInteger(), server_default="0", nullable=False),
        sa.PrimaryKeyConstraint(
            period,
            *(c.strip() for c in _CATEGORIES.split(",")),
            name=op.f(f"pk_{table}"),
        ),
    )


def upgrade() -> None:
    _create("incident_cell_days", "day")
    _create("incident_cell_months", "month")
    for statement in (*_FUNCTIONS, *_TRIGGERS):
        op.execute(statement)
    op.execute("SELECT rebuild_incident_cell_categories()")


def downgrade() -> None:
    for name in ("delete", "update", "insert"):
        op.execute(f"DROP TRIGGER incidents_tiles_category_{name} ON incidents")
    op.execute(_TIMEZONE_CHANGED_BEFORE)
    op.execute("DROP FUNCTION rebuild_incident_cell_categories()")
    op.execute("DROP FUNCTION incidents_cell_category_tally()")
    op.drop_table("incident_cell_months")
    op.drop_table("incident_cell_days")
