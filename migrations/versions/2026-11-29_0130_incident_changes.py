"""The incident change log behind ``GET /v1/changes``.

- ``incident_changes``: one row per incident written, per statement, with the writing
  transaction's id (``pg_current_xact_id()``, as a bigint) and a sequence number; the feed
  pages in that order and reads only below the snapshot's xmin horizon (commit order: a
  transaction committing late cannot land behind a cursor already handed out).
- Statement-level triggers fill it from the transition tables, one INSERT per statement:
  on ``incidents`` (insert, update, delete) and on ``incident_pending_reviews`` (what the
  full view shows of a held corroboration). Insert-only: no counter row, nothing to wait on.
- ``public`` marks the rows the public feed reads: the incident is or was verified and a
  column the public sees differs (the same columns as the public data version, 0061).
- Backfilled with one row per existing incident, so a first sync lists every incident.

Revision ID: 0130
Revises: 0120
Create Date: 2026-11-29
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0130"
down_revision: str | Sequence[str] | None = "0120"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Every column a public view shows (as in 0061; frozen here).
_PUBLIC_COLUMNS = (
    "status",
    "occurred_at",
    "time_precision",
    "geom",
    "province_pcode",
    "district_pcode",
    "violation_type",
    "perpetrator_party_id",
    "target_party_id",
    "responsible_guarantors",
    "ceasefire_status",
    "killed",
    "injured",
    "civilians_killed",
    "report_count",
    "merged_into_id",
)
_OLD = ", ".join(f"o.{c}" for c in _PUBLIC_COLUMNS)
_NEW = ", ".join(f"n.{c}" for c in _PUBLIC_COLUMNS)

# The transaction id as a bigint (an xid8 is the 32-bit xid with its epoch: far below 2^63).
_XID = "pg_current_xact_id()::text::bigint"

_INCIDENTS_FUNCTION = f"""
CREATE FUNCTION incidents_log_changes() RETURNS trigger LANGUAGE plpgsql AS $fn$
BEGIN
    IF TG_OP = 'INSERT' THEN
        INSERT INTO incident_changes (xid, incident_id, public)
        SELECT {_XID}, n.id, n.status = 'verified' FROM new_rows n;
    ELSIF TG_OP = 'DELETE' THEN
        INSERT INTO incident_changes (xid, incident_id, public)
        SELECT {_XID}, o.id, o.status = 'verified' FROM old_rows o;
    ELSE
        -- An update of the id itself is never done: its new id is logged as written.
        INSERT INTO incident_changes (xid, incident_id, public)
        SELECT {_XID}, n.id,
               coalesce((o.status = 'verified' OR n.status = 'verified')
                        AND ROW({_OLD}) IS DISTINCT FROM ROW({_NEW}),
                        n.status = 'verified')
        FROM new_rows n LEFT JOIN old_rows o ON o.id = n.id;
    END IF;
    RETURN NULL;
END
$fn$
"""

# A held corroboration shows in the full view only (pending_review, proposed).
_PENDING_FUNCTION = f"""
CREATE FUNCTION incident_pending_reviews_log_changes() RETURNS trigger LANGUAGE plpgsql AS $fn$
BEGIN
    IF TG_OP = 'DELETE' THEN
        INSERT INTO incident_changes (xid, incident_id, public)
        SELECT {_XID}, o.incident_id, false FROM old_rows o;
    ELSE
        INSERT INTO incident_changes (xid, incident_id, public)
        SELECT {_XID}, n.incident_id, false FROM new_rows n;
    END IF;
    RETURN NULL;
END
$fn$
"""


def _triggers(table: str, function: str) -> list[str]:
    return [
        f"CREATE TRIGGER {table}_changes_log_insert AFTER INSERT ON {table}"
        f" REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION {function}()",
        f"CREATE TRIGGER {table}_changes_log_update AFTER UPDATE ON {table}"
        " REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows"
        f" FOR EACH STATEMENT EXECUTE FUNCTION {function}()",
        f"CREATE TRIGGER {table}_changes_log_delete AFTER DELETE ON {table}"
        f" REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION {function}()",
    ]


_TABLES = (
    ("incidents", "incidents_log_changes"),
    ("incident_pending_reviews", "incident_pending_reviews_log_changes"),
)


def upgrade() -> None:
    op.create_table(
        "incident_changes",
        sa.Column("xid", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("seq", sa.BigInteger(), sa.Identity(), nullable=False),
        sa.Column("incident_id", sa.Uuid(), nullable=False),
        sa.Column("public", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint("xid", "seq", name=op.f("pk_incident_changes")),
    )
    op.create_index(
        "ix_incident_changes_public",
        "incident_changes",
        ["xid", "seq"],
        postgresql_where=sa.text("public"),
    )
    op.create_index("ix_incident_changes_incident_id", "incident_changes", ["incident_id"])
    op.execute(_INCIDENTS_FUNCTION)
    op.execute(_PENDING_FUNCTION)
    for table, function in _TABLES:
        for statement in _triggers(table, function):
            op.execute(statement)
    op.execute(
        f"""
        INSERT INTO incident_changes (xid, incident_id, public)
        SELECT {_XID}, id, status = 'verified' FROM incidents ORDER BY created_at, id
        """
    )


def downgrade() -> None:
    for table, function in _TABLES:
        for name in ("insert", "update", "delete"):
            op.execute(f"DROP TRIGGER {table}_changes_log_{name} ON {table}")
        op.execute(f"DROP FUNCTION {function}()")
    op.drop_index("ix_incident_changes_incident_id", table_name="incident_changes")
    op.drop_index("ix_incident_changes_public", table_name="incident_changes")
    op.drop_table("incident_changes")
