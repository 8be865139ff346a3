"""Two `ceasefire scheduler` processes at once (a deploy overlap): one revision per day and
one delivery per revision, against a database of their own."""

import datetime as dt
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import BinaryIO

import orjson
import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session

from service.audit.service import CONSOLE
from service.auth.models import Role
from service.auth.service import Principal, create_key
from service.config import Settings, sqlalchemy_url
from service.subscription import signing
from service.subscription.schemas import SubscriptionCreate
from service.subscription.service import create as create_subscription
from tests.conftest import TEST_DATABASE_URL, migrate_and_seed
from tests.incidents import make_incidents, report, submitter_for
from tests.webhook_receiver import Receiver

# Scheduler processes: not in `make test-fast`.
pytestmark = pytest.mark.live

SCHEDULER_DATABASE_URL = TEST_DATABASE_URL + "_sched"
SECRET = "two-schedulers-share-one-secret"  # noqa: S105 - a test subscription's secret
DEADLINE_S = 120  # a bound on waiting, not a speed check


@pytest.fixture(scope="module")
def sched_engine():
    migrate_and_seed(SCHEDULER_DATABASE_URL)
    engine = create_engine(sqlalchemy_url(SCHEDULER_DATABASE_URL))
    yield engine
    engine.dispose()
    target = make_url(sqlalchemy_url(SCHEDULER_DATABASE_URL))
    admin = create_engine(target.set(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{target.database}" WITH (FORCE)'))
    admin.dispose()


def start_scheduler(log: BinaryIO, receiver_port: int) -> subprocess.Popen:
    env = {
        **os.environ,  # with the test run's CEASEFIRE_SECRETS_KEY (tests/conftest.py)
        "DATABASE_URL": SCHEDULER_DATABASE_URL,
        "CEASEFIRE_WEBHOOK_ALLOW_PRIVATE": "true",
        "CEASEFIRE_WEBHOOK_ALLOWED_PORTS": f"[{receiver_port}]",
        "CEASEFIRE_SCHEDULER_DELIVER_INTERVAL_S": "1",
    }
    command = [str(Path(sys.executable).with_name("ceasefire")), "scheduler"]
    return subprocess.Popen(command, env=env, stdout=log, stderr=subprocess.STDOUT)  # noqa: S603


def test_two_schedulers_make_one_revision_and_one_delivery(sched_engine, tmp_path):
    with Session(sched_engine) as session:
        key, _ = create_key(session=session, role="reporter", name="field", actor=CONSOLE)
        monitor, _ = create_key(session=session, role="monitor", name="monitor", actor=CONSOLE)
        yesterday = session.execute(
            text("SELECT CAST(now() AT TIME ZONE 'Asia/Damascus' AS date) - 1")
        ).scalar_one()
        noon = dt.datetime.combine(yesterday, dt.time(12), dt.timezone(dt.timedelta(hours=3)))
        make_incidents(
            session,
            submitter_for(Principal(key["id"], key["name"], Role(key["role"]))),
            report(at=noon.isoformat()),
        )
        session.commit()

    with Receiver() as receiver:
        with Session(sched_engine) as session:
            create_subscription(
                session=session,
                principal=Principal(monitor["id"], monitor["name"], Role(monitor["role"])),
                subscription_in=SubscriptionCreate(callback_url=receiver.url, secret=SECRET),
                settings=Settings(
                    webhook_allow_private=True, webhook_allowed_ports=[receiver.port]
                ),
            )
            session.commit()
        logs = [tmp_path / "scheduler-a.log", tmp_path / "scheduler-b.log"]
        with logs[0].open("wb") as log_a, logs[1].open("wb") as log_b:
            processes = [
                start_scheduler(log_a, receiver.port),
                start_scheduler(log_b, receiver.port),
            ]
            try:
                settled = _wait_until_settled(sched_engine, processes)
            finally:
                for process in processes:
                    process.send_signal(signal.SIGTERM)
                exit_codes = [process.wait(timeout=60) for process in processes]
        received = list(receiver.received)

    output = "\n".join(log.read_text() for log in logs)
    assert settled, f"the schedulers did not deliver in time:\n{output[-3000:]}"
    assert exit_codes == [0, 0], output[-3000:]
    with sched_engine.connect() as conn:
        revisions = conn.execute(
            text("SELECT digest_date, count(*) FROM digest_revisions GROUP BY 1")
        ).all()
        deliveries = conn.execute(
            text("SELECT digest_revision_id, count(*), min(status) FROM deliveries GROUP BY 1")
        ).all()
        runners = conn.execute(text("SELECT count(DISTINCT runner) FROM job_runs")).scalar_one()
        violations = conn.execute(
            text("SELECT body FROM digest_revisions WHERE digest_date = :day"),
            {"day": yesterday},
        ).scalar_one()
    assert dict((day, n) for day, n in revisions)[yesterday] == 1
    assert all(n == 1 for _, n in revisions)  # one revision per day, however many schedulers
    assert len(deliveries) == len(revisions)
    assert all(n == 1 and status == "delivered" for _, n, status in deliveries)
    assert runners == 2  # both processes really ran jobs
    assert orjson.loads(violations)["totals"]["violations"] == 1
    delivery_ids = [r.headers["x-ceasefire-delivery"] for r in received]
    assert len(delivery_ids) == len(set(delivery_ids)) == len(revisions)
    for r in received:
        assert signing.verify(
            SECRET,
            timestamp=r.headers["x-ceasefire-timestamp"],
            body=r.body,
            signature_header=r.headers["x-ceasefire-signature"],
        )


def _wait_until_settled(engine, processes) -> bool:
    """True once every queued delivery is delivered and both schedulers have since run the
    deliverer twice more (so a duplicate, had there been one, would have been sent)."""
    deadline = time.monotonic() + DEADLINE_S
    while time.monotonic() < deadline:
        if any(p.poll() is not None for p in processes):
            return False
        with engine.connect() as conn:
            state = conn.execute(
                text(
                    """
                    SELECT (SELECT count(*) FROM deliveries) AS queued,
                           (SELECT count(*) FROM deliveries WHERE status <> 'delivered')
                               AS undelivered,
                           (SELECT max(delivered_at) FROM deliveries) AS last,
                           (SELECT count(*) FROM job_runs WHERE job_id = 'digest.rebuild_recent'
                                AND outcome = 'succeeded') AS rebuilds
                    """
                )
            ).one()
            if state.queued and not state.undelivered and state.rebuilds:
                runs_since = conn.execute(
                    text(
                        "SELECT runner, count(*) FROM job_runs"
                        " WHERE job_id = 'subscription.deliver_pending' AND started_at > :last"
                        " AND outcome IN ('succeeded', 'skipped') GROUP BY runner"
                    ),
                    {"last": state.last},
                ).all()
                if len(runs_since) == 2 and all(n >= 2 for _, n in runs_since):
                    return True
        time.sleep(0.5)
    return False
