"""Backups with PostgreSQL's own tools: pg_dump's custom format, pg_restore into an empty
database, and a fingerprint (row counts and a checksum over report ids) to prove a restore.
"""

from __future__ import annotations

import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from service.errors import Conflict, Invalid, Unavailable

# Tables whose counts a restore must reproduce exactly.
FINGERPRINT_TABLES = (
    "admin_areas",
    "parties",
    "party_aliases",
    "api_keys",
    "incidents",
    "reports",
    "report_revisions",
    "audit_events",
)


def libpq_url(database_url: str) -> str:
    """The SQLAlchemy URL as plain libpq understands it (no driver suffix)."""
    url = make_url(database_url)
    return url.set(drivername="postgresql").render_as_string(hide_password=False)


def _tool(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        raise Unavailable(f"{name} is not installed (Debian: postgresql-client)")
    return path


def _run(args: list[str]) -> None:
    done = subprocess.run(args, capture_output=True, text=True, check=False)  # noqa: S603
    if done.returncode != 0:
        reason = (done.stderr or done.stdout).strip().splitlines()
        raise Invalid(f"{Path(args[0]).name} failed: {reason[-1] if reason else done.returncode}")


@dataclass(frozen=True)
class BackupResult:
    path: Path
    size_bytes: int


def backup(*, database_url: str, path: Path) -> BackupResult:
    """Dump the whole database in pg_dump's custom format (compressed, restorable in parallel)."""
    if path.exists():
        raise Conflict(f"{path} exists; choose a new file (backups are never overwritten)")
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(path.name + ".partial")
    try:
        _run(
            [
                _tool("pg_dump"),
                "--format=custom",
                "--no-owner",
                "--file",
                str(partial),
                "--dbname",
                libpq_url(database_url),
            ]
        )
        partial.rename(path)  # a backup file is complete or absent
    finally:
        partial.unlink(missing_ok=True)
    return BackupResult(path=path, size_bytes=path.stat().st_size)


def _user_tables(database_url: str) -> list[str]:
    engine = create_engine(database_url)
    try:
        with engine.connect() as conn:
            return list(
                conn.execute(
                    text(
                        "SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace"
                        " WHERE c.relkind IN ('r', 'p') AND n.nspname NOT IN ('pg_catalog', 'information_schema', 'topology', 'tiger')"
                        " AND n.nspname NOT LIKE 'pg_toast%' AND c.relname <> 'spatial_ref_sys'"
                        " ORDER BY 1"
                    )
                ).scalars()
            )
    finally:
        engine.dispose()


def restore(*, database_url: str, path: Path) -> None:
    """Restore a backup into an EMPTY database; a database with tables is refused untouched."""
    if not path.is_file():
        raise Invalid(f"{path}: no such backup file")
    existing = _user_tables(database_url)
    if existing:
        shown = ", ".join(existing[:5]) + (" ..." if len(existing) > 5 else "")
        raise Conflict(f"the target database is not empty ({shown}); restore into an empty one")
    _run(
        [
            _tool("pg_restore"),
            "--no-owner",
            "--exit-on-error",
            "--single-transaction",
            "--dbname",
            libpq_url(database_url),
            str(path),
        ]
    )


def fingerprint(database_url: str) -> dict[str, object]:
    """Row counts of the key tables and an md5 over every report id, to compare two databases."""
    engine = create_engine(database_url)
    try:
        with engine.connect() as conn:
            counts = {
                table: conn.execute(text(f"SELECT count(*) FROM {table}")).scalar_one()
                for table in FINGERPRINT_TABLES
            }
            checksum = conn.execute(
                text("SELECT md5(coalesce(string_agg(id::text, ',' ORDER BY id), '')) FROM reports")
            ).scalar_one()
    finally:
        engine.dispose()
    return {"counts": counts, "report_ids_md5": checksum}
