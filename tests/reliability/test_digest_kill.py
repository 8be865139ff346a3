"""A digest build killed halfway leaves no partial revision; the next run makes exactly one.

A backfill over the demo data (the real UCDP extract) commits a chunk of days at a time. The
test holds an uncommitted revision row for a day inside the second chunk, so the build stops,
halfway through that chunk's transaction, waiting on the unique index; there it is SIGKILLed.
Every stored revision must then be whole (its body names its own date and revision) and only
the first chunk may be stored. Running the backfill again gives every day exactly one
revision, and a third run writes nothing.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import signal
import subprocess
import time

from sqlalchemy import create_engine, text

from service.config import get_settings
from tests.live import CEASEFIRE, console, prepare_database, sibling_database_url

FIRST, LAST = "2016-12-30", "2017-01-31"  # the ceasefire's first month in the extract
DAYS = 33
CHUNK = 10


def test_a_killed_backfill_leaves_whole_revisions_and_resumes_once():
    database_url = sibling_database_url("reliability_digest")
    prepare_database(database_url)
    events = get_settings().data_dir / "events" / "ucdp_ged_syria_2016-01_2017-01.csv"
    console(database_url, "import", "ucdp", str(events), "--no-progress")
    engine = create_engine(database_url)

    def revisions() -> list[tuple]:
        with engine.connect() as conn:
            return conn.execute(
                text("SELECT digest_date, revision, body FROM digest_revisions ORDER BY 1, 2")
            ).all()

    # Hold a day of the second chunk: the build will wait on it mid-transaction.
    blocked_day = dt.date.fromisoformat(FIRST) + dt.timedelta(days=CHUNK + 5)
    blocker = engine.connect()
    blocker.begin()
    blocker.execute(
        text(
            "INSERT INTO digest_revisions (digest_date, revision, content_hash, generated_at,"
            " body, scopes) VALUES (:day, 1, 'blocker', now(), '{}', '{}')"
        ),
        {"day": blocked_day},
    )
    process = subprocess.Popen(  # noqa: S603
        [
            CEASEFIRE,
            "digest",
            "backfill",
            "--from",
            FIRST,
            "--to",
            LAST,
            "--chunk-days",
            str(CHUNK),
        ],
        env={**os.environ, "DATABASE_URL": database_url},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    deadline = time.monotonic() + 120
    waiting = 0
    while not waiting and time.monotonic() < deadline and process.poll() is None:
        time.sleep(0.05)
        with engine.connect() as conn:
            waiting = conn.execute(
                text(
                    "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()"
                    " AND wait_event_type = 'Lock' AND application_name = 'ceasefire'"
                )
            ).scalar_one()
    assert process.poll() is None, "the backfill ended instead of waiting on the held day"
    os.killpg(process.pid, signal.SIGKILL)
    process.wait(timeout=10)
    blocker.rollback()
    blocker.close()

    stored = revisions()
    print(f"\nkilled halfway through chunk 2 with {len(stored)} of {DAYS} days stored")
    assert len(stored) == CHUNK, "exactly the first chunk is stored; none of the second"
    for digest_date, revision, body in stored:
        document = json.loads(body)
        assert (document["date"], document["revision"], revision) == (digest_date.isoformat(), 1, 1)

    console(database_url, "digest", "backfill", "--from", FIRST, "--to", LAST)
    after = revisions()
    assert len(after) == DAYS
    assert {revision for _, revision, _ in after} == {1}
    assert [body for _, _, body in after[:CHUNK]] == [body for _, _, body in stored]

    summary = console(database_url, "digest", "backfill", "--from", FIRST, "--to", LAST)
    assert f"{DAYS} days: 0 new revisions, {DAYS} unchanged" in summary
    assert len(revisions()) == DAYS
    engine.dispose()
