"""The scheduler process (`ceasefire scheduler`): APScheduler 3.x, one per deployment.

A memory job store (APScheduler cannot share a store between processes); every job runs
through ``run_guarded`` (advisory lock, job_runs row), with ``coalesce``, one instance at a
time and a generous ``misfire_grace_time``. Because a memory store forgets fire times, a
job whose last fire time (within the grace) passed while no scheduler was up, and that has
not succeeded since, runs once at start-up.
"""

from __future__ import annotations

import datetime as dt
import logging
import signal
from typing import Any

from apscheduler.events import EVENT_JOB_MISSED, JobExecutionEvent
from apscheduler.executors.pool import ThreadPoolExecutor
from apscheduler.jobstores.memory import MemoryJobStore
from apscheduler.schedulers.base import BaseScheduler
from apscheduler.schedulers.blocking import BlockingScheduler
from apscheduler.triggers.base import BaseTrigger

from service.config import Settings, get_settings
from service.db import get_sessionmaker
from service.scheduler.registry import JobSpec, registry
from service.scheduler.runner import run_guarded
from service.scheduler.service import last_successes
from service.theatre.terms import load_terms

log = logging.getLogger("ceasefire.scheduler")


def previous_fire_time(
    trigger: BaseTrigger, now: dt.datetime, grace: dt.timedelta
) -> dt.datetime | None:
    """The trigger's last fire time in ``(now - grace, now]``, if any."""
    fire = trigger.get_next_fire_time(None, now - grace)
    last = None
    while fire is not None and fire <= now:
        last = fire
        fire = trigger.get_next_fire_time(fire, fire + dt.timedelta(microseconds=1))
    return last


def due_on_start(
    spec: JobSpec, *, last_success: dt.datetime | None, now: dt.datetime, grace: dt.timedelta
) -> bool:
    if not spec.catch_up:
        return False
    missed = previous_fire_time(spec.trigger, now, grace)
    return missed is not None and (last_success is None or last_success < missed)


def job_defaults(settings: Settings) -> dict[str, Any]:
    return {
        "coalesce": True,
        "max_instances": 1,
        "misfire_grace_time": settings.scheduler_misfire_grace_s,
    }


def create_scheduler(
    *,
    specs: list[JobSpec],
    settings: Settings,
    timezone: dt.tzinfo,
    successes: dict[str, dt.datetime],
    now: dt.datetime,
    scheduler_class: type[BaseScheduler] = BlockingScheduler,
) -> BaseScheduler:
    scheduler = scheduler_class(
        jobstores={"default": MemoryJobStore()},
        executors={"default": ThreadPoolExecutor(max_workers=4)},
        job_defaults=job_defaults(settings),
        timezone=timezone,
    )
    grace = dt.timedelta(seconds=settings.scheduler_misfire_grace_s)
    for spec in specs:
        extra: dict[str, Any] = {}
        if due_on_start(spec, last_success=successes.get(spec.id), now=now, grace=grace):
            extra["next_run_time"] = now
            log.info("missed while down: runs now", extra={"fields": {"job": spec.id}})
        scheduler.add_job(
            run_guarded,
            trigger=spec.trigger,
            args=(spec.id, spec.func),
            id=spec.id,
            name=spec.description,
            replace_existing=True,
            **extra,
        )

    def missed(event: JobExecutionEvent) -> None:
        log.warning("run missed beyond the grace time", extra={"fields": {"job": event.job_id}})

    scheduler.add_listener(missed, EVENT_JOB_MISSED)
    return scheduler


def run() -> None:
    """Start the scheduler and block until SIGTERM or SIGINT."""
    settings = get_settings()
    # httpx would log every callback URL at INFO, APScheduler every run twice: ours suffice.
    logging.getLogger("httpx").setLevel(logging.WARNING)
    logging.getLogger("apscheduler.executors").setLevel(logging.WARNING)
    with get_sessionmaker()() as session:
        terms = load_terms(session)
        successes = last_successes(session)
    now = dt.datetime.now(dt.UTC)
    specs = registry(timezone=terms.timezone, settings=settings)
    scheduler = create_scheduler(
        specs=specs, settings=settings, timezone=terms.timezone, successes=successes, now=now
    )

    def stop(signum: int, _: Any) -> None:
        log.info("stopping", extra={"fields": {"signal": signal.Signals(signum).name}})
        scheduler.shutdown(wait=True)

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    log.info(
        "scheduler started",
        extra={"fields": {"jobs": [s.id for s in specs], "timezone": terms.timezone.key}},
    )
    scheduler.start()
    log.info("scheduler stopped")
