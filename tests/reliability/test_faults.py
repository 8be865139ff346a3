"""Nothing lost, nothing doubled, under faults (run by `make test-reliability`).

Eight clients post 2,000 reports, each with its own Idempotency-Key, logging every outcome.
Mid-run PostgreSQL is restarted (a fast stop and start of the cluster), and later the server
process group is killed and started again. Clients retry failed or unanswered requests with
the same key. Afterwards, checked like Jepsen checks lost writes: every acknowledged report is
present exactly once, no key has two reports, and the server recovered from the database
restart by itself (pool pre-ping) while /readyz said 503 during the outage.

This test restarts the machine's PostgreSQL cluster: never run it beside other test runs.
"""

from __future__ import annotations

import itertools
import subprocess
import threading
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest
from sqlalchemy import create_engine, text

from tests.live import LiveServer, create_key, prepare_database, sibling_database_url

TOTAL = 2_000
CLIENTS = 8
RESTART_DB_AFTER = 500  # acknowledged reports
KILL_SERVER_AFTER = 1_200
ATTEMPT_TIMEOUT_S = 5.0
GIVE_UP_AFTER_S = 120.0


def cluster() -> tuple[str, str]:
    versions = sorted(p.name for p in Path("/etc/postgresql").iterdir())
    return versions[-1], "main"


def pg_ctl(action: str, *extra: str) -> None:
    version, name = cluster()
    subprocess.run(  # noqa: S603
        ["pg_ctlcluster", "--skip-systemctl-redirect", version, name, action, *extra],  # noqa: S607
        check=True,
        capture_output=True,
        timeout=120,
    )


def report_body(n: int) -> dict:
    lon = 36.0 + (n % 50) * 0.02
    lat = 35.5 + (n % 40) * 0.01
    return {
        "occurred_at": f"2017-01-{1 + n % 28:02d}T{n % 24:02d}:00:00+02:00",
        "location": {"type": "Point", "coordinates": [lon, lat]},
        "violation_type": "shelling",
        "perpetrator": "Syrian Arab Army" if n % 2 else "Free Syrian Army",
        "casualties": {"killed": n % 3, "injured": n % 5, "civilians_killed": 0},
    }


@dataclass
class Ledger:
    """Every request's outcome, as the clients saw it."""

    lock: threading.Lock = field(default_factory=threading.Lock)
    sent: int = 0
    retried: int = 0
    acked: dict[str, str] = field(default_factory=dict)  # idempotency key -> report id
    refused: dict[str, int] = field(default_factory=dict)
    unanswered: set[str] = field(default_factory=set)
    ack_times: list[float] = field(default_factory=list)

    def first_ack_between(self, start: float, end: float) -> float | None:
        with self.lock:
            return min((t for t in self.ack_times if start < t < end), default=None)


def client(base_url: str, secret: str, work: itertools.count, ledger: Ledger) -> None:
    headers = {"Authorization": f"Bearer {secret}"}
    with httpx.Client(headers=headers, timeout=ATTEMPT_TIMEOUT_S) as http:
        while (n := next(work)) < TOTAL:
            key = str(uuid.uuid4())
            body = report_body(n)
            started = time.monotonic()
            attempt = 0
            while True:
                with ledger.lock:
                    ledger.sent += 1
                    ledger.retried += attempt > 0
                try:
                    response = http.post(
                        base_url() + "/v1/reports", json=body, headers={"Idempotency-Key": key}
                    )
                except httpx.HTTPError:
                    response = None
                if response is not None and response.status_code == 201:
                    with ledger.lock:
                        ledger.acked[key] = response.json()["id"]
                        ledger.ack_times.append(time.monotonic())
                        ledger.unanswered.discard(key)
                    break
                if (
                    response is not None
                    and response.status_code < 500
                    and response.status_code not in (409, 429)
                ):
                    with ledger.lock:
                        ledger.refused[key] = response.status_code
                    break
                with ledger.lock:
                    ledger.unanswered.add(key)
                if time.monotonic() - started > GIVE_UP_AFTER_S:
                    break
                attempt += 1
                time.sleep(min(0.05 * 2**attempt, 1.0))


@pytest.fixture(scope="module")
def service(tmp_path_factory):
    database_url = sibling_database_url("reliability")
    prepare_database(database_url)
    secret = create_key(database_url, "reporter", "reliability reporter")
    server = LiveServer(
        database_url,
        workers=2,
        env={"CEASEFIRE_RATE_LIMIT_REQUESTS": "0"},  # this test is about faults, not limits
        log_path=tmp_path_factory.mktemp("reliability") / "server.log",
    )
    server.start()
    yield server, secret, database_url
    server.stop()


def test_nothing_lost_nothing_doubled(service):
    server, secret, database_url = service
    ledger = Ledger()
    work = itertools.count()
    threads = [
        threading.Thread(
            target=client, args=(lambda: server.url, secret, work, ledger), daemon=True
        )
        for _ in range(CLIENTS)
    ]
    run_started = time.monotonic()
    for t in threads:
        t.start()

    def wait_for_acks(n: int) -> None:
        while len(ledger.acked) < n and any(t.is_alive() for t in threads):
            time.sleep(0.05)

    # Fault 1: PostgreSQL restarts under load; the server must recover by itself.
    wait_for_acks(RESTART_DB_AFTER)
    server_pid = server.process.pid
    pg_ctl("stop", "-m", "fast")
    ready_while_down = []
    down_started = time.monotonic()
    while time.monotonic() - down_started < 3:
        try:
            ready_while_down.append(httpx.get(server.url + "/readyz", timeout=2).status_code)
        except httpx.HTTPError:
            ready_while_down.append(None)
        time.sleep(0.3)
    pg_ctl("start")
    db_back_at = time.monotonic()

    # Fault 2: the server process group is killed and started again.
    wait_for_acks(KILL_SERVER_AFTER)
    assert server.process.pid == server_pid, "the server was restarted before the kill fault"
    killed_at = time.monotonic()
    first_ack_after_db = ledger.first_ack_between(db_back_at, killed_at)
    server.kill()
    time.sleep(1)
    server.start()

    for t in threads:
        t.join(timeout=GIVE_UP_AFTER_S + 60)
    elapsed = time.monotonic() - run_started
    time.sleep(2)  # quiet period

    engine = create_engine(database_url)
    with engine.connect() as conn:
        reporter = conn.execute(
            text("SELECT id FROM api_keys WHERE name = 'reliability reporter'")
        ).scalar_one()
        reports = dict(
            conn.execute(
                text(
                    "SELECT k.key, r.id::text FROM reports r"
                    " LEFT JOIN idempotency_keys k ON k.resource_id = r.id AND k.api_key_id = r.reporter_key_id"
                    " WHERE r.reporter_key_id = :reporter"
                ),
                {"reporter": reporter},
            ).all()
        )
        report_count = conn.execute(
            text("SELECT count(*) FROM reports WHERE reporter_key_id = :r"), {"r": reporter}
        ).scalar_one()
        key_count = conn.execute(
            text("SELECT count(*) FROM idempotency_keys WHERE api_key_id = :r"), {"r": reporter}
        ).scalar_one()
    engine.dispose()

    lost = [key for key, report_id in ledger.acked.items() if reports.get(key) != report_id]
    duplicated = report_count - len(reports)  # reports without their own key, or a key twice
    orphans = [key for key in reports if key is None]
    unknown_present = sum(1 for key in ledger.unanswered if key in reports)
    recover_s = (first_ack_after_db - db_back_at) if first_ack_after_db else float("nan")
    print(
        f"\nrequests sent {ledger.sent}, acknowledged {len(ledger.acked)}, retried {ledger.retried},"
        f" refused {len(ledger.refused)}, never answered {len(ledger.unanswered)}"
        f" ({unknown_present} of them stored, at most once each)\n"
        f"lost {len(lost)}, duplicated {duplicated}, reports stored {report_count},"
        f" idempotency keys {key_count}\n"
        f"/readyz while PostgreSQL was down: {sorted(set(map(str, ready_while_down)))};"
        f" time to recover after PostgreSQL came back: {recover_s * 1000:.0f} ms; run took {elapsed:.1f} s"
    )
    assert not ledger.refused, f"valid reports were refused: {ledger.refused}"
    assert lost == [], f"acknowledged but missing: {lost[:5]}"
    assert duplicated == 0 and not orphans
    assert key_count == report_count
    assert len(ledger.acked) + len(ledger.unanswered) == TOTAL
    assert 503 in ready_while_down, (
        f"/readyz did not report 503 while the database was down: {ready_while_down}"
    )
    assert first_ack_after_db is not None, (
        "no report was acknowledged between the database restart and the kill"
    )
