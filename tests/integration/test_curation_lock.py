"""Intake and curation acts take turns on one advisory lock: intakes share it, an act holds it
alone, so an act's re-attribution job sees every report derived before the act."""

from sqlalchemy import text
from sqlalchemy.orm import Session

from service import locks
from service.report.service import Lookups


def _try_exclusive(engine) -> bool:
    namespace, key = locks.advisory_key(locks.PARTY_CURATION)
    with engine.connect() as conn:
        got = conn.execute(
            text("SELECT pg_try_advisory_xact_lock(:ns, :key)"), {"ns": namespace, "key": key}
        ).scalar_one()
        conn.rollback()
    return got


def test_an_act_waits_for_an_intake_in_progress_and_intakes_share(engine):
    with Session(engine) as intake, Session(engine) as other_intake:
        Lookups.load(intake)
        Lookups.load(other_intake)  # intakes do not wait for each other
        assert not _try_exclusive(engine)  # an act would wait
        intake.rollback()
        assert not _try_exclusive(engine)
        other_intake.rollback()
    assert _try_exclusive(engine)
