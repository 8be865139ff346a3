"""Incident tallies (daily rollup, totals) and data versions, kept current by triggers.

Revision ID: 0020
Revises: 0002
Create Date: 2026-11-27 21:02:18.439305
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0020"
down_revision: str | Sequence[str] | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# The rollup key of one incident row (alias d), in the theatre's local days.
_KEY = (
    "(d.occurred_at AT TIME ZONE {tz})::date, d.province_pcode, d.status, d.ceasefire_status,"
    " d.responsible_guarantors"
)
_ROLLUP_COLUMNS = (
    "day, province_pcode, status, ceasefire_status, guarantors,"
    " incidents, killed, injured, civilians_killed"
)

_FUNCTIONS = [
    # Local days are the theatre's; without a theatre, UTC.
    """
    CREATE FUNCTION theatre_timezone() RETURNS text LANGUAGE sql STABLE AS $$
        SELECT coalesce((SELECT timezone FROM theatres ORDER BY id LIMIT 1), 'UTC')
    $$
    """,
    f"""
    CREATE FUNCTION incidents_tally() RETURNS trigger LANGUAGE plpgsql AS $fn$
    DECLARE
        delta text;
        touched boolean;
    BEGIN
        -- Each changed row counts +1 under its new key and -1 under its old one.
        delta := CASE TG_OP
            WHEN 'INSERT' THEN 'SELECT n.*, 1 AS sign FROM new_rows n'
            WHEN 'DELETE' THEN 'SELECT o.*, -1 AS sign FROM old_rows o'
            ELSE 'SELECT n.*, 1 AS sign FROM new_rows n UNION ALL SELECT o.*, -1 FROM old_rows o'
        END;
        EXECUTE format('SELECT EXISTS (%s)', delta) INTO touched;
        IF NOT touched THEN
            RETURN NULL;
        END IF;
        -- Every writer locks the version row first: one lock order, so two transactions
        -- updating the same rollup rows queue instead of deadlocking.
        UPDATE data_versions SET version = version + 1, changed_at = now()
        WHERE name = 'incidents';
        EXECUTE format($sql$
            WITH d AS (%s),
            rolled AS (
                INSERT INTO incident_daily_counts AS c ({_ROLLUP_COLUMNS})
                SELECT {_KEY.format(tz="$1")},
                       sum(d.sign), sum(d.sign * d.killed), sum(d.sign * d.injured),
                       sum(d.sign * d.civilians_killed)
                FROM d
                GROUP BY 1, 2, 3, 4, 5
                HAVING sum(d.sign) <> 0 OR sum(d.sign * d.killed) <> 0
                    OR sum(d.sign * d.injured) <> 0 OR sum(d.sign * d.civilians_killed) <> 0
                ORDER BY 1, 2, 3, 4, 5
                ON CONFLICT (day, province_pcode, status, ceasefire_status, guarantors)
                DO UPDATE SET incidents = c.incidents + excluded.incidents,
                              killed = c.killed + excluded.killed,
                              injured = c.injured + excluded.injured,
                              civilians_killed = c.civilians_killed + excluded.civilians_killed
            )
            INSERT INTO incident_totals AS t (status, incidents)
            SELECT d.status, sum(d.sign) FROM d GROUP BY d.status HAVING sum(d.sign) <> 0
            ORDER BY d.status
            ON CONFLICT (status) DO UPDATE SET incidents = t.incidents + excluded.incidents
        $sql$, delta) USING theatre_timezone();
        RETURN NULL;
    END
    $fn$
    """,
    # From scratch: after a change of the theatre's time zone (days move) or a repair.
    f"""
    CREATE FUNCTION rebuild_incident_tallies() RETURNS void LANGUAGE plpgsql AS $fn$
    DECLARE
        tz text := theatre_timezone();
    BEGIN
        UPDATE data_versions SET version = version + 1, changed_at = now()
        WHERE name = 'incidents';
        DELETE FROM incident_daily_counts;
        DELETE FROM incident_totals;
        INSERT INTO incident_daily_counts ({_ROLLUP_COLUMNS})
        SELECT {_KEY.format(tz="tz")}, count(*), sum(d.killed), sum(d.injured),
               sum(d.civilians_killed)
        FROM incidents d GROUP BY 1, 2, 3, 4, 5;
        INSERT INTO incident_totals (status, incidents)
        SELECT status, count(*) FROM incidents GROUP BY status;
    END
    $fn$
    """,
    """
    CREATE FUNCTION theatres_timezone_changed() RETURNS trigger LANGUAGE plpgsql AS $fn$
    BEGIN
        PERFORM rebuild_incident_tallies();
        RETURN NULL;
    END
    $fn$
    """,
    """
    CREATE FUNCTION admin_areas_changed() RETURNS trigger LANGUAGE plpgsql AS $fn$
    BEGIN
        UPDATE data_versions SET version = version + 1, changed_at = now() WHERE name = 'areas';
        RETURN NULL;
    END
    $fn$
    """,
]

_TRIGGERS = [
    "CREATE TRIGGER incidents_tally_insert AFTER INSERT ON incidents"
    " REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION incidents_tally()",
    "CREATE TRIGGER incidents_tally_update AFTER UPDATE ON incidents"
    " REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows"
    " FOR EACH STATEMENT EXECUTE FUNCTION incidents_tally()",
    "CREATE TRIGGER incidents_tally_delete AFTER DELETE ON incidents"
    " REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION incidents_tally()",
    # Row-level, so the seed's upsert of an unchanged theatre does not rebuild anything.
    "CREATE TRIGGER theatres_timezone_insert AFTER INSERT OR DELETE ON theatres"
    " FOR EACH ROW EXECUTE FUNCTION theatres_timezone_changed()",
    "CREATE TRIGGER theatres_timezone_update AFTER UPDATE OF timezone ON theatres"
    " FOR EACH ROW WHEN (OLD.timezone IS DISTINCT FROM NEW.timezone)"
    " EXECUTE FUNCTION theatres_timezone_changed()",
    "CREATE TRIGGER admin_areas_changed AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE"
    " ON admin_areas FOR EACH STATEMENT EXECUTE FUNCTION admin_areas_changed()",
]


def upgrade() -> None:
    op.create_table(
        "data_versions",
        sa.Column("name", sa.String(length=32), nullable=False),
        sa.Column("version", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column(
            "changed_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_data_versions")),
    )
    op.create_table(
        "incident_daily_counts",
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("province_pcode", sa.String(length=32), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("ceasefire_status", sa.String(length=16), nullable=False),
        sa.Column("guarantors", postgresql.ARRAY(sa.String(length=3)), nullable=False),
        sa.Column("incidents", sa.Integer(), server_default="0", nullable=False),
        sa.Column("killed", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("injured", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("civilians_killed", sa.BigInteger(), server_default="0", nullable=False),
        sa.PrimaryKeyConstraint(
            "day",
            "province_pcode",
            "status",
            "ceasefire_status",
            "guarantors",
            name=op.f("pk_incident_daily_counts"),
        ),
    )
    op.create_table(
        "incident_totals",
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("incidents", sa.BigInteger(), server_default="0", nullable=False),
        sa.PrimaryKeyConstraint("status", name=op.f("pk_incident_totals")),
    )
    op.execute("INSERT INTO data_versions (name) VALUES ('incidents'), ('areas')")
    for statement in (*_FUNCTIONS, *_TRIGGERS):
        op.execute(statement)
    op.execute("SELECT rebuild_incident_tallies()")


def downgrade() -> None:
    for trigger, table in (
        ("admin_areas_changed", "admin_areas"),
        ("theatres_timezone_update", "theatres"),
        ("theatres_timezone_insert", "theatres"),
        ("incidents_tally_delete", "incidents"),
        ("incidents_tally_update", "incidents"),
        ("incidents_tally_insert", "incidents"),
    ):
        op.execute(f"DROP TRIGGER {trigger} ON {table}")
    for function in (
        "admin_areas_changed()",
        "theatres_timezone_changed()",
        "rebuild_incident_tallies()",
        "incidents_tally()",
        "theatre_timezone()",
    ):
        op.execute(f"DROP FUNCTION {function}")
    op.drop_table("incident_totals")
    op.drop_table("incident_daily_counts")
    op.drop_table("data_versions")
