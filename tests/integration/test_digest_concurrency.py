"""Two builders of the same day at once (the scheduler and an operator's `digest build`):
they take turns on the builders' advisory lock, so there is one revision."""

import datetime as dt
import threading

from sqlalchemy import text
from sqlalchemy.orm import Session

from service.digest.service import build_days

DAY = dt.date(2017, 8, 20)


def test_concurrent_builders_write_one_revision(engine):
    barrier = threading.Barrier(4)
    outcomes, errors = [], []

    def builder() -> None:
        try:
            with Session(engine) as session:
                barrier.wait(timeout=30)
                outcomes.extend(build_days(session=session, first=DAY, last=DAY))
                session.commit()
        except Exception as exc:  # reported below, with the others
            errors.append(exc)

    threads = [threading.Thread(target=builder) for _ in range(4)]
    try:
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=60)
        assert errors == []
        assert sorted(o.created for o in outcomes) == [False, False, False, True]
        assert {o.revision for o in outcomes} == {1}
        with engine.connect() as conn:
            revisions = conn.execute(
                text("SELECT revision FROM digest_revisions WHERE digest_date = :day"),
                {"day": DAY},
            ).scalars()
            assert list(revisions) == [1]
    finally:
        with engine.begin() as conn:
            conn.execute(
                text("DELETE FROM digest_revisions WHERE digest_date = :day"), {"day": DAY}
            )
