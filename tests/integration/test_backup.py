"""Backups: pg_dump custom format restored into an empty database gives identical data."""

import pytest
from sqlalchemy import create_engine
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session

from service.audit.service import CONSOLE
from service.auth.service import create_key
from service.backup.service import backup, fingerprint, restore
from service.config import sqlalchemy_url
from service.errors import Conflict
from service.report.schemas import ReportCreate
from service.report.service import Submitter, submit
from tests.conftest import TEST_DATABASE_URL, migrate_and_seed, recreate_database


def sibling_url(suffix: str) -> str:
    url = make_url(sqlalchemy_url(TEST_DATABASE_URL))
    return url.set(database=f"{url.database}_{suffix}").render_as_string(hide_password=False)


@pytest.fixture(scope="module")
def source_url():
    """A committed database with reference data and a few reports (tests roll back theirs)."""
    url = sibling_url("backup_src")
    migrate_and_seed(url)
    engine = create_engine(sqlalchemy_url(url))
    with Session(engine) as session:
        key, _ = create_key(session=session, role="reporter", name="backup test", actor=CONSOLE)
        reports = [
            ReportCreate.model_validate(
                {
                    "occurred_at": f"2017-01-{day:02d}T10:00:00+02:00",
                    "location": {"type": "Point", "coordinates": [36.63, 35.93]},
                    "violation_type": "shelling",
                    "perpetrator": "SAA",
                }
            )
            for day in range(2, 9)
        ]
        outcomes = submit(
            session=session,
            submitter=Submitter(key_id=key["id"], actor=CONSOLE),
            reports_in=reports,
        )
        assert all(o.status == 201 for o in outcomes)
        session.commit()
    engine.dispose()
    return url


def test_a_restored_backup_is_identical(source_url, tmp_path):
    target_url = sibling_url("backup_dst")
    recreate_database(target_url)
    result = backup(database_url=source_url, path=tmp_path / "ceasefire.dump")
    assert result.size_bytes > 0
    restore(database_url=target_url, path=result.path)
    original, restored = fingerprint(source_url), fingerprint(target_url)
    assert original["counts"]["reports"] == 7
    assert restored == original


def test_restore_refuses_a_database_that_is_not_empty(source_url, tmp_path):
    result = backup(database_url=source_url, path=tmp_path / "again.dump")
    before = fingerprint(source_url)
    with pytest.raises(Conflict, match="not empty"):
        restore(database_url=source_url, path=result.path)
    assert fingerprint(source_url) == before


def test_backup_never_overwrites(source_url, tmp_path):
    path = tmp_path / "exists.dump"
    path.write_text("keep me")
    with pytest.raises(Conflict, match="exists"):
        backup(database_url=source_url, path=path)
    assert path.read_text() == "keep me"
