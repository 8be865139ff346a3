"""A public data version that moves only when the public view of incidents moves, and the
public view of every digest revision, stored beside the full one.

- ``data_versions`` gains ``incidents_public``, bumped by a statement-level trigger on
  ``incidents`` only when a written row is or was verified (the public sees verified
  incidents only) and a column the public view shows differs. Public ETags are built from
  it, so an unverified report arriving leaves them unchanged.
- ``digest_revisions`` gains the public document (the digest of verified incidents only),
  its hash, its own revision number and the governorates it changed. A revision whose public
  figures equal the previous one's stores no public document: the public sees it as the
  same public revision, so neither numbering nor timing tells of reports it cannot see.

Revision ID: 0061
Revises: 0050
Create Date: 2026-11-29
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0061"
down_revision: str | Sequence[str] | None = "0060"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Every column a public view shows (items, tiles, stats, digests), compared between the old
# and the new row of an update. occurred_at and geom are compared exact: a move within one
# day or one cell bumps the version too (an ETag that moves once too often is harmless).
_PUBLIC_COLUMNS = (
    "status, occurred_at, time_precision, geom, province_pcode, district_pcode,"
    " violation_type, perpetrator_party_id, target_party_id, responsible_guarantors,"
    " ceasefire_status, killed, injured, civilians_killed, report_count"
)

_FUNCTION = f"""
CREATE FUNCTION incidents_public_version() RETURNS trigger LANGUAGE plpgsql AS $fn$
DECLARE
    moved boolean;
BEGIN
    IF TG_OP = 'INSERT' THEN
        SELECT EXISTS (SELECT 1 FROM new_rows WHERE status = 'verified') INTO moved;
    ELSIF TG_OP = 'DELETE' THEN
        SELECT EXISTS (SELECT 1 FROM old_rows WHERE status = 'verified') INTO moved;
    ELSE
        SELECT EXISTS (
            SELECT 1 FROM old_rows o JOIN new_rows n ON n.id = o.id
            WHERE (o.status = 'verified' OR n.status = 'verified')
              AND ROW({", ".join("o." + c.strip() for c in _PUBLIC_COLUMNS.split(","))})
                  IS DISTINCT FROM
                  ROW({", ".join("n." + c.strip() for c in _PUBLIC_COLUMNS.split(","))})
        ) OR EXISTS (
            -- An update of the id itself (never done, but then nothing can be compared).
            SELECT 1 FROM new_rows n WHERE n.status = 'verified'
              AND NOT EXISTS (SELECT 1 FROM old_rows o WHERE o.id = n.id)
        ) INTO moved;
    END IF;
    IF moved THEN
        UPDATE data_versions SET version = version + 1, changed_at = now()
        WHERE name = 'incidents_public';
    END IF;
    RETURN NULL;
END
$fn$
"""

# Named to fire after incidents_tally_* and incidents_tiles_* (PostgreSQL fires them by
# name), which lock the 'incidents' version row first: one lock order for every writer.
_TRIGGERS = [
    "CREATE TRIGGER incidents_version_public_insert AFTER INSERT ON incidents"
    " REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT"
    " EXECUTE FUNCTION incidents_public_version()",
    "CREATE TRIGGER incidents_version_public_update AFTER UPDATE ON incidents"
    " REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows"
    " FOR EACH STATEMENT EXECUTE FUNCTION incidents_public_version()",
    "CREATE TRIGGER incidents_version_public_delete AFTER DELETE ON incidents"
    " REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT"
    " EXECUTE FUNCTION incidents_public_version()",
]

# A change of the theatre's time zone moves every local day, public ones included.
_TIMEZONE_CHANGED = """
CREATE OR REPLACE FUNCTION theatres_timezone_changed() RETURNS trigger LANGUAGE plpgsql AS $fn$
BEGIN
    PERFORM rebuild_incident_tallies();
    UPDATE data_versions SET version = version + 1, changed_at = now()
    WHERE name = 'incidents_public';
    RETURN NULL;
END
$fn$
"""
_TIMEZONE_CHANGED_BEFORE = """
CREATE OR REPLACE FUNCTION theatres_timezone_changed() RETURNS trigger LANGUAGE plpgsql AS $fn$
BEGIN
    PERFORM rebuild_incident_tallies();
    RETURN NULL;
END
$fn$
"""


def upgrade() -> None:
    op.execute("INSERT INTO data_versions (name) VALUES ('incidents_public')")
    op.execute(_FUNCTION)
    for statement in _TRIGGERS:
        op.execute(statement)
    op.execute(_TIMEZONE_CHANGED)
    op.add_column("digest_revisions", sa.Column("public_hash", sa.String(length=64)))
    op.add_column("digest_revisions", sa.Column("public_revision", sa.Integer()))
    op.add_column("digest_revisions", sa.Column("public_body", sa.Text()))
    op.add_column("digest_revisions", sa.Column("public_scopes", sa.Text()))
    op.add_column(
        "digest_revisions",
        sa.Column("public_changed_provinces", postgresql.ARRAY(sa.String(length=32))),
    )
    op.create_index(
        "ix_digest_revisions_public",
        "digest_revisions",
        ["digest_date", "public_revision"],
        unique=True,
        postgresql_where=sa.text("public_body IS NOT NULL"),
    )


def downgrade() -> None:
    op.drop_index("ix_digest_revisions_public", table_name="digest_revisions")
    for column in (
        "public_changed_provinces",
        "public_scopes",
        "public_body",
        "public_revision",
        "public_hash",
    ):
        op.drop_column("digest_revisions", column)
    op.execute(_TIMEZONE_CHANGED_BEFORE)
    for name in ("insert", "update", "delete"):
        op.execute(f"DROP TRIGGER incidents_version_public_{name} ON incidents")
    op.execute("DROP FUNCTION incidents_public_version()")
    op.execute("DELETE FROM data_versions WHERE name = 'incidents_public'")
