"""The one registry of scheduled jobs: stable ids, triggers in the theatre's time zone.

Jobs are plain functions in each domain's ``jobs.py`` (own session, idempotent); only this
module knows when they run.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from apscheduler.triggers.base import BaseTrigger
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger

from service.changes import jobs as changes_jobs
from service.config import Settings
from service.curation import jobs as curation_jobs
from service.digest import jobs as digest_jobs
from service.maps import jobs as maps_jobs
from service.report import jobs as report_jobs
from service.scheduler import jobs as scheduler_jobs
from service.subscription import jobs as subscription_jobs


@dataclass(frozen=True)
class JobSpec:
    id: str
    func: Callable[[], object]  # returns a short description of what it did
    trigger: BaseTrigger
    description: str
    # Run once at start-up when a fire time within the misfire grace was missed while no
    # scheduler was running (a memory job store forgets fire times across restarts).
    catch_up: bool


def registry(*, timezone: ZoneInfo, settings: Settings) -> list[JobSpec]:
    jobs = [
        JobSpec(
            "digest.build_yesterday",
            digest_jobs.build_yesterday,
            CronTrigger(
                hour=settings.digest_build_hour,
                minute=settings.digest_build_minute,
                timezone=timezone,
            ),
            "build yesterday's digest shortly after midnight, theatre time",
            catch_up=True,
        ),
        JobSpec(
            "digest.rebuild_recent",
            digest_jobs.rebuild_recent,
            CronTrigger(minute=35, timezone=timezone),
            f"rebuild the last {settings.digest_rebuild_days} days' digests, hourly",
            catch_up=True,
        ),
        JobSpec(
            "subscription.deliver_pending",
            subscription_jobs.deliver_pending,
            IntervalTrigger(seconds=settings.scheduler_deliver_interval_s, timezone=timezone),
            "send due webhook deliveries and retries",
            catch_up=False,
        ),
        JobSpec(
            "curation.run_pending",
            curation_jobs.run_pending_jobs,
            IntervalTrigger(seconds=60, timezone=timezone),
            "re-attribute the events that pending curation acts affect",
            catch_up=False,
        ),
        JobSpec(
            "maps.compact_rollups",
            maps_jobs.compact_rollups,
            IntervalTrigger(seconds=settings.scheduler_compact_interval_s, timezone=timezone),
            "fold the rollup deltas incident writers appended into the rollups",
            catch_up=False,
        ),
        JobSpec(
            "scheduler.purge_job_runs",
            scheduler_jobs.purge_job_runs,
            CronTrigger(hour=3, minute=30, timezone=timezone),
            f"forget job runs older than {settings.scheduler_keep_runs_days} days",
            catch_up=False,
        ),
        JobSpec(
            "changes.compact_log",
            changes_jobs.compact_log,
            CronTrigger(hour=4, minute=15, timezone=timezone),
            "delete change-log rows superseded by later changes of the same incident",
            catch_up=False,
        ),
        JobSpec(
            "report.purge_idempotency_keys",
            report_jobs.purge_expired_idempotency_keys,
            CronTrigger(hour=3, minute=45, timezone=timezone),
            f"forget idempotency keys older than {settings.idempotency_retention_days} days",
            catch_up=False,
        ),
    ]
    return jobs
