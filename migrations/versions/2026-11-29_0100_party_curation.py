"""Party curation at run time: aliases with validity dates, coalitions of member parties,
the curation jobs that re-attribute stored events, and the unresolved names' worklist indexes.

- ``party_aliases`` gets an id, ``valid_from`` and ``valid_to`` (inclusive, NULL open-ended):
  a normalised alias may name different parties over time, never two at once (an exclusion
  constraint over ``daterange(valid_from, valid_to, '[]')``, hence ``btree_gist``).
- ``party_coalitions`` and ``party_coalition_members``: a name that stands for several
  parties, in order.
- ``curation_jobs``: one per curation act, with its progress (phase, cursors, counts, the
  local days whose digests it must revise).
- Partial indexes on the reports whose perpetrator or target resolved to no party.

Downgrade keeps, per normalised alias, its current row (open-ended, else the latest), so the
alias can be the key again; coalitions and jobs are dropped.

Revision ID: 0100
Revises: 0080
Create Date: 2026-11-29
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0100"
down_revision: str | Sequence[str] | None = "0080"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.execute("CREATE EXTENSION IF NOT EXISTS btree_gist")
    op.drop_constraint("pk_party_aliases", "party_aliases", type_="primary")
    op.add_column("party_aliases", sa.Column("id", sa.BigInteger(), sa.Identity(), nullable=False))
    op.add_column("party_aliases", sa.Column("valid_from", sa.Date(), nullable=True))
    op.add_column("party_aliases", sa.Column("valid_to", sa.Date(), nullable=True))
    op.create_primary_key("pk_party_aliases", "party_aliases", ["id"])
    op.create_index("ix_party_aliases_alias_norm", "party_aliases", ["alias_norm"])
    op.create_check_constraint(
        op.f("ck_party_aliases_validity_ordered"),
        "party_aliases",
        "valid_to IS NULL OR valid_from IS NULL OR valid_from <= valid_to",
    )
    op.execute(
        "ALTER TABLE party_aliases ADD CONSTRAINT ex_party_aliases_one_party_at_a_time"
        " EXCLUDE USING gist (alias_norm WITH =,"
        " daterange(valid_from, valid_to, '[]') WITH &&)"
    )

    op.create_table(
        "party_coalitions",
        sa.Column("name_norm", sa.Text(), nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("name_norm", name=op.f("pk_party_coalitions")),
    )
    op.create_table(
        "party_coalition_members",
        sa.Column("coalition_norm", sa.Text(), nullable=False),
        sa.Column("party_id", sa.String(length=64), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["coalition_norm"],
            ["party_coalitions.name_norm"],
            name=op.f("fk_party_coalition_members_coalition_norm_party_coalitions"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["party_id"],
            ["parties.id"],
            name=op.f("fk_party_coalition_members_party_id_parties"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint(
            "coalition_norm", "party_id", name=op.f("pk_party_coalition_members")
        ),
    )
    op.create_index(
        op.f("ix_party_coalition_members_party_id"), "party_coalition_members", ["party_id"]
    )

    op.create_table(
        "curation_jobs",
        sa.Column("id", sa.BigInteger(), sa.Identity(), nullable=False),
        sa.Column("action", sa.String(length=64), nullable=False),
        sa.Column("summary", sa.Text(), nullable=False),
        sa.Column("actor", sa.Text(), nullable=False),
        sa.Column("actor_key_id", sa.Uuid(), nullable=True),
        sa.Column("names", postgresql.ARRAY(sa.Text()), server_default="{}", nullable=False),
        sa.Column(
            "party_ids", postgresql.ARRAY(sa.String(length=64)), server_default="{}", nullable=False
        ),
        sa.Column("status", sa.String(length=16), server_default="pending", nullable=False),
        sa.Column("phase", sa.String(length=16), server_default="reports", nullable=False),
        sa.Column("report_cursor", sa.Uuid(), nullable=True),
        sa.Column("incident_cursor", sa.Uuid(), nullable=True),
        sa.Column("reports_checked", sa.Integer(), server_default="0", nullable=False),
        sa.Column("reports_changed", sa.Integer(), server_default="0", nullable=False),
        sa.Column("incidents_checked", sa.Integer(), server_default="0", nullable=False),
        sa.Column("incidents_changed", sa.Integer(), server_default="0", nullable=False),
        sa.Column("days", postgresql.ARRAY(sa.Date()), server_default="{}", nullable=False),
        sa.Column("digest_revisions", sa.Integer(), server_default="0", nullable=False),
        sa.Column(
            "created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False
        ),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint(
            "status IN ('pending', 'running', 'done')", name=op.f("ck_curation_jobs_status_known")
        ),
        sa.CheckConstraint(
            "phase IN ('reports', 'incidents', 'digests', 'done')",
            name=op.f("ck_curation_jobs_phase_known"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_curation_jobs")),
    )
    op.create_index(
        "ix_curation_jobs_unfinished",
        "curation_jobs",
        ["id"],
        postgresql_where=sa.text("status <> 'done'"),
    )
    op.create_index(
        "ix_reports_unresolved_perpetrator",
        "reports",
        ["perpetrator_raw"],
        postgresql_where=sa.text("perpetrator_raw IS NOT NULL AND perpetrator_party_id IS NULL"),
    )
    op.create_index(
        "ix_reports_unresolved_target",
        "reports",
        ["target_raw"],
        postgresql_where=sa.text("target_raw IS NOT NULL AND target_party_id IS NULL"),
    )


def downgrade() -> None:
    op.drop_index("ix_reports_unresolved_target", table_name="reports")
    op.drop_index("ix_reports_unresolved_perpetrator", table_name="reports")
    op.drop_index("ix_curation_jobs_unfinished", table_name="curation_jobs")
    op.drop_table("curation_jobs")
    op.drop_index(op.f("ix_party_coalition_members_party_id"), table_name="party_coalition_members")
    op.drop_table("party_coalition_members")
    op.drop_table("party_coalitions")
    # One row per normalised alias again: its current one (open-ended, else the latest).
    op.execute(
        "DELETE FROM party_aliases a USING ("
        " SELECT id, row_number() OVER (PARTITION BY alias_norm"
        "   ORDER BY valid_to DESC NULLS FIRST, valid_from DESC NULLS LAST, id DESC) AS n"
        " FROM party_aliases) k WHERE k.id = a.id AND k.n > 1"
    )
    op.execute("ALTER TABLE party_aliases DROP CONSTRAINT ex_party_aliases_one_party_at_a_time")
    op.drop_constraint(op.f("ck_party_aliases_validity_ordered"), "party_aliases", type_="check")
    op.drop_index("ix_party_aliases_alias_norm", table_name="party_aliases")
    op.drop_constraint("pk_party_aliases", "party_aliases", type_="primary")
    op.drop_column("party_aliases", "valid_to")
    op.drop_column("party_aliases", "valid_from")
    op.drop_column("party_aliases", "id")
    op.create_primary_key("pk_party_aliases", "party_aliases", ["alias_norm"])
    op.execute("DROP EXTENSION IF EXISTS btree_gist")
