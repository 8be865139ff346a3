"""Readiness: the database answers, its schema is at head, the reference data is loaded."""

from __future__ import annotations

from functools import lru_cache

from alembic.config import Config
from alembic.script import ScriptDirectory
from sqlalchemy import text
from sqlalchemy.orm import Session

from service.config import get_settings


@lru_cache
def migration_heads() -> frozenset[str]:
    config = Config()
    config.set_main_option("script_location", str(get_settings().migrations_dir))
    return frozenset(ScriptDirectory.from_config(config).get_heads())


def readiness(session: Session) -> dict[str, str]:
    """Each check's outcome ("ok" or why not). Raises if the database cannot be reached."""
    checks: dict[str, str] = {"database": "ok"}
    session.execute(text("SELECT 1"))
    current = frozenset(
        session.execute(
            text("SELECT version_num FROM alembic_version")
            if session.execute(text("SELECT to_regclass('alembic_version')")).scalar()
            else text("SELECT NULL WHERE false")
        ).scalars()
    )
    heads = migration_heads()
    checks["migrations"] = (
        "ok"
        if current == heads
        else (f"at {', '.join(sorted(current)) or 'nothing'}, head is {', '.join(sorted(heads))}")
    )
    if checks["migrations"] != "ok":
        checks["reference_data"] = "unknown until migrated"
        return checks
    counts = session.execute(
        text(
            "SELECT (SELECT count(*) FROM theatres), (SELECT count(*) FROM admin_areas),"
            " (SELECT count(*) FROM parties)"
        )
    ).one()
    missing = [
        name for name, n in zip(("theatre", "areas", "parties"), counts, strict=True) if not n
    ]
    checks["reference_data"] = "ok" if not missing else "missing " + ", ".join(missing)
    return checks
