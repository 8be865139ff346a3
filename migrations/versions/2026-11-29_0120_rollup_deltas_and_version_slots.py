"""No global hot row: incident writes append rollup deltas and bump one of many version
slots; a job folds the deltas into the rollups. And the confidence band in the rollups.

Before, every transaction writing incidents first updated the one ``data_versions`` row
``incidents`` (so the rollup upserts of two writers could not deadlock), then upserted
``incident_daily_counts``, ``incident_totals``, ``incident_cell_counts``,
``incident_cell_days`` and ``incident_cell_months``: all incident writers queued behind each
other, and the rollup rows of today's keys (and the totals) are hot rows of their own.

Now:

- ``incident_rollup_deltas``: the one statement-level trigger ``incidents_tally`` appends
  one row per finest key a statement changed (local day, cell, province, status, ceasefire
  status, violation type, guarantors, parties, confidence band), with signed figures. An
  insert takes no lock another writer waits for.
- ``incident_rollup_deltas`` rows are folded into every rollup by ``compact_incident_rollups()``
  (the job ``maps.compact_rollups``; ``ceasefire rollups compact``): one transaction deletes
  the committed deltas it sees and adds them to the rollups, so readers, which read the
  views ``<rollup>_now`` (rollup UNION ALL deltas), see every committed write exactly once
  whether or not the job has run.
- ``data_versions`` has slots: a version is the sum of its slots. A writer bumps the first
  slot no other transaction holds (``FOR UPDATE SKIP LOCKED``) and keeps it for the rest of
  its transaction. Every committed writer adds at least one, so the sum grows with every
  commit, whatever the commit order: two committed states never share a version, and a
  version read before the data is never newer than the data.
- ``confidence_band`` joins the keys of ``incident_daily_counts``, ``incident_cell_days`` and
  ``incident_cell_months`` (backfilled by rebuilding them), so ``confidence=`` filters read
  rollups like the others.

Revision ID: 0120
Revises: 0140
Create Date: 2026-11-29
"""

import importlib.util
from collections.abc import Sequence
from pathlib import Path

import sqlalchemy as sa
from alembic import op

revision: str = "0120"
down_revision: str | Sequence[str] | None = "0140"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

SLOTS = 32  # versions' slots per incident dataset: writers at once without waiting

_FINE = (
    "day, cell_i, cell_j, province_pcode, status, ceasefire_status, violation_type,"
    " guarantors, perpetrator_party_id, target_party_id, confidence_band"
)
_FIGURES = "incidents, killed, injured, civilians_killed"
# The finest key of one incident row (alias d); the cell as 0021 and 0080 compute it.
_ROW_FINE = (
    "(d.occurred_at AT TIME ZONE {tz})::date,"
    " floor(ST_X(d.geom) / 0.1)::int, floor(ST_Y(d.geom) / 0.1)::int,"
    " d.province_pcode, d.status, d.ceasefire_status, d.violation_type,"
    " d.responsible_guarantors, coalesce(d.perpetrator_party_id, ''),"
    " coalesce(d.target_party_id, ''), d.confidence_band"
)
_G11 = "GROUP BY 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11"

_DAILY = "day, province_pcode, status, ceasefire_status, guarantors, confidence_band"
_CELL_CATEGORIES = (
    "cell_i, cell_j, province_pcode, status, ceasefire_status, violation_type,"
    " responsible_guarantors, perpetrator_party_id, target_party_id, confidence_band"
)
_CELL_CATEGORIES_FROM_DELTA = _CELL_CATEGORIES.replace("responsible_guarantors", "guarantors")

_VERSION_FUNCTIONS = [
    # A version is the sum of its slots. Each transaction bumps one slot no other holds (the
    # first free one, kept for the rest of the transaction in a local setting); only when
    # every slot is held does it wait, on a slot chosen by its process id.
    """
    CREATE FUNCTION bump_data_version(which text) RETURNS void LANGUAGE plpgsql AS $fn$
    DECLARE
        setting text := 'ceasefire.version_slot_' || which;
        held text := current_setting(setting, true);
        chosen smallint;
    BEGIN
        IF coalesce(held, '') <> '' THEN
            UPDATE data_versions SET version = version + 1, changed_at = now()
            WHERE name = which AND slot = held::smallint;
            RETURN;
        END IF;
        SELECT slot INTO chosen FROM data_versions WHERE name = which
        ORDER BY slot LIMIT 1 FOR UPDATE SKIP LOCKED;
        IF chosen IS NULL THEN
            SELECT slot INTO chosen FROM data_versions WHERE name = which ORDER BY slot
            OFFSET pg_backend_pid() % (SELECT count(*) FROM data_versions WHERE name = which)
            LIMIT 1;
        END IF;
        UPDATE data_versions SET version = version + 1, changed_at = now()
        WHERE name = which AND slot = chosen;
        PERFORM set_config(setting, chosen::text, true);
    END
    $fn$
    """,
]

_DELTA_TRIGGER_FUNCTION = f"""
CREATE OR REPLACE FUNCTION incidents_tally() RETURNS trigger LANGUAGE plpgsql AS $fn$
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
    PERFORM bump_data_version('incidents');
    -- Appended, never upserted: no row another writer could be waiting for.
    EXECUTE format($sql$
        INSERT INTO incident_rollup_deltas ({_FINE}, {_FIGURES})
        SELECT {_ROW_FINE.format(tz="$1")},
               sum(d.sign), sum(d.sign * d.killed), sum(d.sign * d.injured),
               sum(d.sign * d.civilians_killed)
        FROM (%s) d
        {_G11}
        HAVING sum(d.sign) <> 0 OR sum(d.sign * d.killed) <> 0
            OR sum(d.sign * d.injured) <> 0 OR sum(d.sign * d.civilians_killed) <> 0
    $sql$, delta) USING theatre_timezone();
    RETURN NULL;
END
$fn$
"""


def _fold(table: str, period: str | None, keys: str, source_keys: str, figures: str) -> str:
    """An upsert of the moved deltas (CTE ``moved``) into one rollup, in key order."""
    conflict = keys if period is None else f"{period}, {keys}"
    select_keys = source_keys if period is None else f"{period}_of, {source_keys}"
    sets = ", ".join(
        f"{f.strip()} = r.{f.strip()} + excluded.{f.strip()}" for f in figures.split(",")
    )
    sums = ", ".join(f"sum({f.strip()})" for f in figures.split(","))
    n = len(conflict.split(","))
    positions = ", ".join(str(k) for k in range(1, n + 1))
    having = " OR ".join(f"sum({f.strip()}) <> 0" for f in figures.split(","))
    where = "" if "cell_i" not in keys else "WHERE cell_i IS NOT NULL"
    return f"""
        INSERT INTO {table} AS r ({conflict}, {figures})
        SELECT {select_keys}, {sums} FROM moved {where}
        GROUP BY {positions} HAVING {having} ORDER BY {positions}
        ON CONFLICT ({conflict}) DO UPDATE SET {sets}
    """


_COMPACT = f"""
CREATE FUNCTION compact_incident_rollups() RETURNS bigint LANGUAGE plpgsql AS $fn$
DECLARE
    folded bigint;
BEGIN
    -- One folder at a time (two would upsert the same rollup rows in their own orders).
    PERFORM pg_advisory_xact_lock(hashtext('compact_incident_rollups'));
    WITH deleted AS (DELETE FROM incident_rollup_deltas RETURNING *),
    moved AS (
        SELECT *, day AS day_of, date_trunc('month', day::timestamp)::date AS month_of
        FROM deleted
    ),
    daily AS ({_fold("incident_daily_counts", None, _DAILY, _DAILY, _FIGURES)}),
    totals AS ({_fold("incident_totals", None, "status", "status", "incidents")}),
    cells AS ({_fold("incident_cell_counts", None, "cell_i, cell_j, status, ceasefire_status", "cell_i, cell_j, status, ceasefire_status", "incidents, killed")}),
    days AS ({_fold("incident_cell_days", "day", _CELL_CATEGORIES, _CELL_CATEGORIES_FROM_DELTA, "incidents, killed")}),
    months AS ({_fold("incident_cell_months", "month", _CELL_CATEGORIES, _CELL_CATEGORIES_FROM_DELTA, "incidents, killed")})
    SELECT count(*) INTO folded FROM moved;
    RETURN folded;
END
$fn$
"""

# Before rebuilding one rollup from incidents: no writer in flight (SHARE waits for them
# and holds off new ones), and every delta folded, so the rebuilt table plus no deltas is
# exactly the incidents.
_QUIESCE = (
    "PERFORM pg_advisory_xact_lock(hashtext('compact_incident_rollups'));"
    " LOCK TABLE incidents IN SHARE MODE; PERFORM compact_incident_rollups();"
)

_REBUILDS = [
    f"""
    CREATE OR REPLACE FUNCTION rebuild_incident_tallies() RETURNS void LANGUAGE plpgsql AS $fn$
    DECLARE
        tz text := theatre_timezone();
    BEGIN
        {_QUIESCE}
        PERFORM bump_data_version('incidents');
        DELETE FROM incident_daily_counts;
        DELETE FROM incident_totals;
        INSERT INTO incident_daily_counts ({_DAILY}, {_FIGURES})
        SELECT (d.occurred_at AT TIME ZONE tz)::date, d.province_pcode, d.status,
               d.ceasefire_status, d.responsible_guarantors, d.confidence_band,
               count(*), sum(d.killed), sum(d.injured), sum(d.civilians_killed)
        FROM incidents d GROUP BY 1, 2, 3, 4, 5, 6;
        INSERT INTO incident_totals (status, incidents)
        SELECT status, count(*) FROM incidents GROUP BY status;
    END
    $fn$
    """,
    f"""
    CREATE OR REPLACE FUNCTION rebuild_incident_cell_counts() RETURNS void LANGUAGE plpgsql
    AS $fn$
    BEGIN
        {_QUIESCE}
        DELETE FROM incident_cell_counts;
        INSERT INTO incident_cell_counts (cell_i, cell_j, status, ceasefire_status, incidents,
                                          killed)
        SELECT floor(ST_X(d.geom) / 0.1)::int, floor(ST_Y(d.geom) / 0.1)::int, d.status,
               d.ceasefire_status, count(*), sum(d.killed)
        FROM incidents d WHERE d.geom IS NOT NULL GROUP BY 1, 2, 3, 4;
    END
    $fn$
    """,
    f"""
    CREATE OR REPLACE FUNCTION rebuild_incident_cell_categories() RETURNS void LANGUAGE plpgsql
    AS $fn$
    BEGIN
        {_QUIESCE}
        DELETE FROM incident_cell_days;
        DELETE FROM incident_cell_months;
        INSERT INTO incident_cell_days (day, {_CELL_CATEGORIES}, incidents, killed)
        SELECT (d.occurred_at AT TIME ZONE theatre_timezone())::date,
               floor(ST_X(d.geom) / 0.1)::int, floor(ST_Y(d.geom) / 0.1)::int,
               d.province_pcode, d.status, d.ceasefire_status, d.violation_type,
               d.responsible_guarantors, coalesce(d.perpetrator_party_id, ''),
               coalesce(d.target_party_id, ''), d.confidence_band, count(*), sum(d.killed)
        FROM incidents d WHERE d.geom IS NOT NULL {_G11};
        INSERT INTO incident_cell_months (month, {_CELL_CATEGORIES}, incidents, killed)
        SELECT date_trunc('month', day::timestamp)::date, {_CELL_CATEGORIES}, sum(incidents),
               sum(killed)
        FROM incident_cell_days {_G11};
    END
    $fn$
    """,
    """
    CREATE OR REPLACE FUNCTION theatres_timezone_changed() RETURNS trigger LANGUAGE plpgsql AS $fn$
    BEGIN
        PERFORM rebuild_incident_tallies();
        PERFORM rebuild_incident_cell_counts();
        PERFORM rebuild_incident_cell_categories();
        PERFORM bump_data_version('incidents_public');
        RETURN NULL;
    END
    $fn$
    """,
]


def _views() -> list[str]:
    figures = {
        "incident_daily_counts": (_DAILY, _DAILY, _FIGURES, False),
        "incident_totals": ("status", "status", "incidents", False),
        "incident_cell_counts": (
            "cell_i, cell_j, status, ceasefire_status",
            "cell_i, cell_j, status, ceasefire_status",
            "incidents, killed",
            True,
        ),
        "incident_cell_days": (
            f"day, {_CELL_CATEGORIES}",
            f"day, {_CELL_CATEGORIES_FROM_DELTA}",
            "incidents, killed",
            True,
        ),
        "incident_cell_months": (
            f"month, {_CELL_CATEGORIES}",
            f"date_trunc('month', day::timestamp)::date, {_CELL_CATEGORIES_FROM_DELTA}",
            "incidents, killed",
            True,
        ),
    }
    views = []
    for table, (keys, delta_keys, sums, cells) in figures.items():
        where = " WHERE cell_i IS NOT NULL" if cells else ""
        # Deltas as they are (not grouped): readers sum, and their conditions reach the scan.
        casts = ", ".join(
            f"{f.strip()}::{'int' if f.strip() == 'incidents' and table != 'incident_totals' else 'bigint'}"
            for f in sums.split(",")
        )
        views.append(
            f"CREATE VIEW {table}_now AS SELECT {keys}, {sums} FROM {table}"
            f" UNION ALL SELECT {delta_keys}, {casts} FROM incident_rollup_deltas{where}"
        )
    return views


_PUBLIC_VERSION_BUMP = (
    "UPDATE data_versions SET version = version + 1, changed_at = now()\n"
    "        WHERE name = 'incidents_public';"
)


def _older(revision_file: str):
    """An earlier migration's module, whose SQL the downgrade restores."""
    path = Path(__file__).with_name(revision_file)
    spec = importlib.util.spec_from_file_location(f"_migration_{path.stem}", path)
    module = importlib.util.module_from_spec(spec)  # type: ignore[arg-type]
    spec.loader.exec_module(module)  # type: ignore[union-attr]
    return module


def _public_version_function() -> str:
    old = _older("2026-11-29_0061_public_versions_and_public_digests.py")._FUNCTION
    assert _PUBLIC_VERSION_BUMP in old
    return old.replace("CREATE FUNCTION", "CREATE OR REPLACE FUNCTION").replace(
        _PUBLIC_VERSION_BUMP, "PERFORM bump_data_version('incidents_public');"
    )


def _repk(table: str, columns: list[str]) -> None:
    op.drop_constraint(f"pk_{table}", table, type_="primary")
    op.create_primary_key(f"pk_{table}", table, columns)


def upgrade() -> None:
    # Versions: slots.
    op.add_column(
        "data_versions", sa.Column("slot", sa.SmallInteger(), server_default="0", nullable=False)
    )
    _repk("data_versions", ["name", "slot"])
    op.execute(
        "INSERT INTO data_versions (name, slot, version)"
        " SELECT name, s, 0 FROM (VALUES ('incidents'), ('incidents_public')) n(name),"
        f" generate_series(1, {SLOTS - 1}) s"
    )
    for statement in _VERSION_FUNCTIONS:
        op.execute(statement)

    # The deltas.
    op.create_table(
        "incident_rollup_deltas",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("cell_i", sa.Integer()),
        sa.Column("cell_j", sa.Integer()),
        sa.Column("province_pcode", sa.String(length=32), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("ceasefire_status", sa.String(length=16), nullable=False),
        sa.Column("violation_type", sa.String(length=16), nullable=False),
        sa.Column("guarantors", sa.dialects.postgresql.ARRAY(sa.String(length=3)), nullable=False),
        sa.Column("perpetrator_party_id", sa.String(length=64), nullable=False),
        sa.Column("target_party_id", sa.String(length=64), nullable=False),
        sa.Column("confidence_band", sa.String(length=8), nullable=False),
        sa.Column("incidents", sa.Integer(), nullable=False),
        sa.Column("killed", sa.BigInteger(), nullable=False),
        sa.Column("injured", sa.BigInteger(), nullable=False),
        sa.Column("civilians_killed", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_incident_rollup_deltas")),
    )
    # Folded deltas are dead rows the views scan: vacuum soon, not at 20% of the table (the
    # job also VACUUMs after each fold).
    op.execute(
        "ALTER TABLE incident_rollup_deltas SET (autovacuum_vacuum_scale_factor = 0,"
        " autovacuum_vacuum_threshold = 1000, autovacuum_analyze_scale_factor = 0,"
        " autovacuum_analyze_threshold = 1000)"
    )

    # The confidence band in the rollups' keys (filled by the rebuilds below).
    def band() -> sa.Column:
        return sa.Column(
            "confidence_band", sa.String(length=8), server_default="low", nullable=False
        )

    op.add_column("incident_daily_counts", band())
    _repk("incident_daily_counts", [c.strip() for c in _DAILY.split(",")])
    for table, period in (("incident_cell_days", "day"), ("incident_cell_months", "month")):
        op.add_column(table, band())
        _repk(table, [period, *(c.strip() for c in _CELL_CATEGORIES.split(","))])

    # One trigger function for every rollup; the per-rollup ones go.
    for name in ("insert", "update", "delete"):
        op.execute(f"DROP TRIGGER incidents_tiles_{name} ON incidents")
        op.execute(f"DROP TRIGGER incidents_tiles_category_{name} ON incidents")
    op.execute("DROP FUNCTION incidents_cell_tally()")
    op.execute("DROP FUNCTION incidents_cell_category_tally()")
    op.execute(_DELTA_TRIGGER_FUNCTION)
    op.execute(_public_version_function())
    op.execute(_COMPACT)
    for statement in (*_REBUILDS, *_views()):
        op.execute(statement)
    op.execute("SELECT rebuild_incident_tallies()")
    op.execute("SELECT rebuild_incident_cell_counts()")
    op.execute("SELECT rebuild_incident_cell_categories()")


def downgrade() -> None:
    m20 = _older("2026-11-27_0020_incident_tallies_and_data_versions.py")
    m21 = _older("2026-11-27_0021_incident_cell_counts.py")
    m61 = _older("2026-11-29_0061_public_versions_and_public_digests.py")
    m80 = _older("2026-11-29_0080_cell_rollup_by_category.py")

    def replace(sql: str) -> str:
        return sql.replace("CREATE FUNCTION", "CREATE OR REPLACE FUNCTION")

    op.execute("SELECT compact_incident_rollups()")
    for table in (
        "incident_daily_counts",
        "incident_totals",
        "incident_cell_counts",
        "incident_cell_days",
        "incident_cell_months",
    ):
        op.execute(f"DROP VIEW {table}_now")
    op.drop_table("incident_rollup_deltas")

    # Versions: each dataset's slots summed into one row.
    op.execute(
        "UPDATE data_versions v SET version = s.total FROM (SELECT name, sum(version) AS total"
        " FROM data_versions GROUP BY name) s WHERE v.name = s.name AND v.slot = 0"
    )
    op.execute("DELETE FROM data_versions WHERE slot <> 0")
    op.drop_constraint("pk_data_versions", "data_versions", type_="primary")
    op.drop_column("data_versions", "slot")
    op.create_primary_key("pk_data_versions", "data_versions", ["name"])

    # The confidence band leaves the keys (the rebuilds below refill the rollups).
    op.execute("DELETE FROM incident_daily_counts")
    op.drop_constraint("pk_incident_daily_counts", "incident_daily_counts", type_="primary")
    op.drop_column("incident_daily_counts", "confidence_band")
    op.create_primary_key(
        "pk_incident_daily_counts",
        "incident_daily_counts",
        ["day", "province_pcode", "status", "ceasefire_status", "guarantors"],
    )
    for table, period in (("incident_cell_days", "day"), ("incident_cell_months", "month")):
        op.execute(f"DELETE FROM {table}")
        op.drop_constraint(f"pk_{table}", table, type_="primary")
        op.drop_column(table, "confidence_band")
        op.create_primary_key(
            f"pk_{table}",
            table,
            [period, *(c.strip() for c in m80._CATEGORIES.split(","))],
        )

    # The functions and triggers as they were.
    op.execute(replace(m20._FUNCTIONS[1]))  # incidents_tally
    op.execute(replace(m20._FUNCTIONS[2]))  # rebuild_incident_tallies
    op.execute(m21._FUNCTIONS[0])  # incidents_cell_tally
    op.execute(replace(m21._FUNCTIONS[1]))  # rebuild_incident_cell_counts
    op.execute(m80._FUNCTIONS[0])  # incidents_cell_category_tally
    op.execute(replace(m80._FUNCTIONS[1]))  # rebuild_incident_cell_categories
    op.execute(m80._FUNCTIONS[2])  # theatres_timezone_changed
    op.execute(replace(m61._FUNCTION))  # incidents_public_version
    op.execute("DROP FUNCTION compact_incident_rollups()")
    op.execute("DROP FUNCTION bump_data_version(text)")
    for statement in (*m21._TRIGGERS, *m80._TRIGGERS):
        op.execute(statement)
    op.execute("SELECT rebuild_incident_tallies()")
    op.execute("SELECT rebuild_incident_cell_counts()")
    op.execute("SELECT rebuild_incident_cell_categories()")
