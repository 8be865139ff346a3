"""The scheduler in-process: the registry, misfire settings, catch-up after downtime, the
advisory-lock guard, job runs and the metric of the last success."""

import datetime as dt
import logging
import uuid
from zoneinfo import ZoneInfo

import pytest
from apscheduler.jobstores.memory import MemoryJobStore
from apscheduler.schedulers.background import BackgroundScheduler
from sqlalchemy import text

from service.config import get_settings
from service.scheduler.process import create_scheduler, due_on_start, previous_fire_time
from service.scheduler.registry import registry
from service.scheduler.runner import job_lock_key, run_guarded

DAMASCUS = ZoneInfo("Asia/Damascus")


@pytest.fixture
def specs():
    return {s.id: s for s in registry(timezone=DAMASCUS, settings=get_settings())}


def test_jobs_are_registered_once_with_stable_ids(specs):
    assert set(specs) == {
        "digest.build_yesterday",
        "digest.rebuild_recent",
        "subscription.deliver_pending",
        "curation.run_pending",
        "maps.compact_rollups",
        "scheduler.purge_job_runs",
        "changes.compact_log",
        "report.purge_idempotency_keys",
    }
    build = specs["digest.build_yesterday"]
    first = build.trigger.get_next_fire_time(None, dt.datetime(2017, 3, 1, 12, tzinfo=DAMASCUS))
    assert first == dt.datetime(2017, 3, 2, 0, 15, tzinfo=DAMASCUS)  # after midnight, Damascus


def test_misfire_coalesce_and_one_instance_with_a_memory_store(specs):
    settings = get_settings()
    scheduler = create_scheduler(
        specs=list(specs.values()),
        settings=settings,
        timezone=DAMASCUS,
        successes={},
        now=dt.datetime.now(dt.UTC),
        scheduler_class=BackgroundScheduler,
    )
    scheduler.start(paused=True)
    try:
        assert isinstance(scheduler._jobstores["default"], MemoryJobStore)
        jobs = {job.id: job for job in scheduler.get_jobs()}
        assert set(jobs) == set(specs)
        for job in jobs.values():
            assert job.coalesce is True
            assert job.max_instances == 1
            assert job.misfire_grace_time == settings.scheduler_misfire_grace_s >= 3600
    finally:
        scheduler.shutdown(wait=False)


def test_a_daily_run_missed_while_down_runs_once_at_start(specs):
    build = specs["digest.build_yesterday"]
    grace = dt.timedelta(hours=12)
    at_three = dt.datetime(2017, 3, 2, 3, 0, tzinfo=DAMASCUS)  # down from 00:00 to 03:00
    fired = dt.datetime(2017, 3, 2, 0, 15, tzinfo=DAMASCUS)
    assert previous_fire_time(build.trigger, at_three, grace) == fired
    yesterday_run = dt.datetime(2017, 3, 1, 0, 16, tzinfo=DAMASCUS)
    assert due_on_start(build, last_success=yesterday_run, now=at_three, grace=grace)
    assert due_on_start(build, last_success=None, now=at_three, grace=grace)
    today_run = dt.datetime(2017, 3, 2, 0, 16, tzinfo=DAMASCUS)
    assert not due_on_start(build, last_success=today_run, now=at_three, grace=grace)
    # Beyond the grace time the run is not caught up (the hourly rebuild covers it).
    assert not due_on_start(
        build, last_success=yesterday_run, now=at_three, grace=dt.timedelta(hours=1)
    )
    deliver = specs["subscription.deliver_pending"]
    assert not due_on_start(deliver, last_success=None, now=at_three, grace=grace)


def test_a_caught_up_job_is_scheduled_to_run_now(specs):
    now = dt.datetime(2017, 3, 2, 3, 0, tzinfo=DAMASCUS)
    scheduler = create_scheduler(
        specs=list(specs.values()),
        settings=get_settings(),
        timezone=DAMASCUS,
        successes={"digest.rebuild_recent": now - dt.timedelta(minutes=5)},
        now=now,
        scheduler_class=BackgroundScheduler,
    )
    # Not started: only a caught-up job has a run time of its own yet.
    jobs = {job.id: getattr(job, "next_run_time", None) for job in scheduler.get_jobs()}
    assert jobs["digest.build_yesterday"] == now
    assert jobs["digest.rebuild_recent"] is None


@pytest.fixture
def job_id(engine):
    """A job id of this test's own; its committed runs are deleted afterwards."""
    job = f"test.{uuid.uuid4().hex[:12]}"
    yield job
    with engine.begin() as conn:
        conn.execute(text("DELETE FROM job_runs WHERE job_id = :job"), {"job": job})


def runs(engine, job):
    with engine.connect() as conn:
        return conn.execute(
            text(
                "SELECT outcome, detail, finished_at IS NOT NULL AS finished, runner"
                " FROM job_runs WHERE job_id = :job ORDER BY id"
            ),
            {"job": job},
        ).all()


def test_a_run_is_skipped_while_another_process_holds_the_lock(engine, job_id, caplog):
    calls = []
    namespace, key = job_lock_key(job_id)
    with engine.connect() as other_scheduler:
        other_scheduler.execute(
            text("SELECT pg_advisory_lock(:ns, :key)"), {"ns": namespace, "key": key}
        )
        with caplog.at_level(logging.INFO, logger="ceasefire.scheduler"):
            outcome = run_guarded(job_id, lambda: calls.append(1), engine=engine)
        other_scheduler.execute(
            text("SELECT pg_advisory_unlock(:ns, :key)"), {"ns": namespace, "key": key}
        )
    assert outcome == "skipped" and calls == []
    assert any(r.getMessage() == "lock held, skipped" for r in caplog.records)
    [skipped] = runs(engine, job_id)
    assert (skipped.outcome, skipped.finished) == ("skipped", True)
    assert "lock held" in skipped.detail

    assert run_guarded(job_id, lambda: "did it", engine=engine) == "succeeded"
    assert [(r.outcome, r.detail) for r in runs(engine, job_id)][-1] == ("succeeded", "did it")
    assert run_guarded(job_id, lambda: 42, engine=engine) == "succeeded"  # e.g. rows purged
    assert runs(engine, job_id)[-1].detail == "42"


def test_a_failing_job_is_recorded_and_releases_its_lock(engine, job_id):
    def broken() -> str:
        raise RuntimeError("the database said no")

    assert run_guarded(job_id, broken, engine=engine) == "failed"
    [failed] = runs(engine, job_id)
    assert failed.outcome == "failed" and failed.detail == "RuntimeError: the database said no"
    assert run_guarded(job_id, lambda: None, engine=engine) == "succeeded"


def test_metrics_expose_the_last_success_of_each_job(client, db, make_key):
    _, secret = make_key("admin")
    db.execute(
        text(
            "INSERT INTO job_runs (job_id, started_at, finished_at, outcome, runner) VALUES"
            " ('digest.build_yesterday', '2017-03-02T00:15:00+02', '2017-03-02T00:15:02+02',"
            "  'succeeded', 'test'),"
            " ('digest.build_yesterday', '2017-03-03T00:15:00+02', '2017-03-03T00:16:00+02',"
            "  'failed', 'test')"
        )
    )
    body = client.get("/metrics", headers={"Authorization": f"Bearer {secret}"}).text
    expected = dt.datetime(2017, 3, 2, 0, 15, 2, tzinfo=dt.timezone(dt.timedelta(hours=2)))
    line = next(
        line
        for line in body.splitlines()
        if line.startswith('ceasefire_job_last_success_timestamp_seconds{job="digest.build_')
    )
    assert float(line.split()[-1]) == expected.timestamp()


def test_readyz_does_not_depend_on_the_scheduler(client, db):
    assert db.execute(text("SELECT count(*) FROM job_runs WHERE outcome = 'running'")).scalar() == 0
    assert client.get("/readyz").status_code == 200
