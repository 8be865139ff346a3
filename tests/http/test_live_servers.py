"""Against real server processes and committed transactions: concurrent retries from two
client processes leave exactly one report (reliability.md row 5), the per-key rate limit
holds across server processes (row 28), a declared oversize body is refused before it is
sent (row 10), and a report racing a merge joins the survivor."""

from __future__ import annotations

import socket
import threading
import time
import uuid

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session

from service.audit.service import CONSOLE, Actor
from service.auth import ratelimit
from service.auth.service import create_key
from service.config import sqlalchemy_url
from service.incident.verification import merge
from service.report.schemas import ReportCreate
from service.report.service import Submitter, submit
from tests.conftest import TEST_DATABASE_URL
from tests.http.report_helpers import auth, new_key, report_body
from tests.live import (
    copy_database,
    drop_database,
    outcomes,
    serving,
    start_clients,
    wait_until_a_session_waits_for_a_lock,
)

# Servers on fixed ports, rate limits by the clock: alone, after the parallel run.
pytestmark = [pytest.mark.live, pytest.mark.serial]

PORTS = [8101, 8102]
RATE_LIMIT = 30


@pytest.fixture(scope="module")
def live(engine, tmp_path_factory):
    """Two `ceasefire serve` processes on a copy of the test database, and a way to make
    keys there. Everything is removed afterwards."""
    engine.dispose()  # the copy needs the template database to have no connections
    url = copy_database(TEST_DATABASE_URL, "live")
    live_engine = create_engine(sqlalchemy_url(url))
    key_ids: list[uuid.UUID] = []

    def make_key(role: str) -> tuple[uuid.UUID, str]:
        with Session(live_engine) as session:
            key, secret = create_key(session=session, role=role, name=f"live {role}", actor=CONSOLE)
            session.commit()
        key_ids.append(key["id"])
        return key["id"], secret

    env = {
        "CEASEFIRE_RATE_LIMIT_REQUESTS": str(RATE_LIMIT),
        # Windows align to the clock; one of 10^9 s (2001-2033) is never crossed mid-test.
        "CEASEFIRE_RATE_LIMIT_WINDOW_S": str(10**9),
        "CEASEFIRE_LOG_LEVEL": "WARNING",
    }
    try:
        with serving(url, PORTS, tmp_path_factory.mktemp("live"), env) as urls:
            yield urls, live_engine, make_key
    finally:
        live_engine.dispose()
        drop_database(url)
        # The servers' counters live under their database's namespace.
        redis = ratelimit._client()
        for name in redis.scan_iter(match=f"ceasefire:rl:{make_url(url).database}:*"):
            redis.delete(name)


def scalar(engine, sql: str, **params):
    with engine.connect() as conn:
        return conn.execute(text(sql), params).scalar_one()


@pytest.mark.parametrize("retry_key", ["idempotency_key", "client_report_id"])
def test_twenty_retries_at_once_from_two_processes_leave_one_report(live, retry_key):
    urls, engine, make_key = live
    key_id, secret = make_key("reporter")
    headers = auth(secret)
    body = report_body()
    if retry_key == "idempotency_key":
        headers["Idempotency-Key"] = new_key()
    else:
        body["client_report_id"] = str(uuid.uuid4())
    start_at = time.time() + 1.5  # both processes' threads are waiting by then
    jobs = [
        {
            "url": f"{url}/v1/reports",
            "headers": headers,
            "json": body,
            "requests": 10,
            "concurrent": True,
            "start_at": start_at,
        }
        for url in urls  # one client process per server process
    ]
    results = outcomes(start_clients(jobs))

    assert len(results) == 20
    assert [r["error"] for r in results] == [None] * 20
    assert [r["status"] for r in results] == [201] * 20  # every retry waits, then replays
    [report_id] = {r["id"] for r in results}
    assert scalar(engine, "SELECT count(*) FROM reports WHERE reporter_key_id = :k", k=key_id) == 1
    assert scalar(engine, "SELECT id::text FROM reports WHERE reporter_key_id = :k", k=key_id) == (
        report_id
    )
    assert (
        scalar(
            engine,
            "SELECT count(*) FROM incidents i JOIN reports r ON r.incident_id = i.id"
            " WHERE r.reporter_key_id = :k",
            k=key_id,
        )
        == 1
    )
    assert (
        scalar(engine, "SELECT count(*) FROM report_revisions WHERE actor_key_id = :k", k=key_id)
        == 1
    )
    assert (
        scalar(
            engine,
            "SELECT count(*) FROM audit_events WHERE actor_key_id = :k AND action = 'report.created'",
            k=key_id,
        )
        == 1
    )
    stored_keys = scalar(
        engine, "SELECT count(*) FROM idempotency_keys WHERE api_key_id = :k", k=key_id
    )
    assert stored_keys == (1 if retry_key == "idempotency_key" else 0)


def test_the_rate_limit_holds_across_server_processes(live):
    urls, _, make_key = live
    _, secret = make_key("monitor")
    jobs = [
        {
            "url": f"{url}/v1/reports?limit=1",
            "method": "GET",
            "headers": auth(secret),
            "requests": 20,
            "concurrent": False,
        }
        for url in urls
    ]
    results = outcomes(start_clients(jobs))
    statuses = [r["status"] for r in results]
    assert statuses.count(200) == RATE_LIMIT  # not 2 x the limit
    assert statuses.count(429) == 40 - RATE_LIMIT
    assert all(int(r["retry_after"]) >= 1 for r in results if r["status"] == 429)


def test_a_declared_oversize_body_is_refused_before_it_is_sent(live):
    urls, engine, make_key = live
    key_id, secret = make_key("reporter")
    head = (
        "POST /v1/reports HTTP/1.1\r\nHost: 127.0.0.1\r\n"
        f"Authorization: Bearer {secret}\r\nContent-Type: application/json\r\n"
        f"Content-Length: {10 * 1024 * 1024}\r\n\r\n"
    )
    with socket.create_connection(("127.0.0.1", PORTS[0]), timeout=10) as sock:
        sock.sendall(head.encode())  # and not one byte of the body
        response = b""
        while b"\r\n\r\n" not in response:
            chunk = sock.recv(65536)
            assert chunk, response
            response += chunk
    assert response.startswith(b"HTTP/1.1 413"), response[:200]
    assert b"application/problem+json" in response
    assert scalar(engine, "SELECT count(*) FROM reports WHERE reporter_key_id = :k", k=key_id) == 0


VICTIM_AT, SURVIVOR_AT = "2017-01-27T05:00:00+02:00", "2017-01-28T05:00:00+02:00"


def test_a_report_joining_an_incident_being_merged_is_refused_naming_the_survivor(live):
    """Two committed transactions racing (so on the live copy): a merge holds its locks while
    a corroborating report for the merged incident arrives; the report must wait, then be
    refused naming the survivor (a claim is never moved to another incident behind the
    reporter's back) instead of reviving the merged incident."""
    _, engine, make_key = live
    key_id, _ = make_key("reporter")
    submitter = Submitter(key_id=key_id, actor=Actor(key_id=key_id, label="key:live reporter"))
    with Session(engine) as session:
        victim, survivor = (
            o.report["incident_id"]
            for o in submit(
                session=session,
                submitter=submitter,
                # Days of their own: a report like another test's on this shared copy would
                # be joined to that incident by automatic correlation.
                reports_in=[
                    ReportCreate.model_validate(report_body(occurred_at=at))
                    for at in (VICTIM_AT, SURVIVOR_AT)
                ],
            )
        )
        session.commit()

    merging = Session(engine)
    merge(session=merging, incident_id=victim, into_id=survivor, note=None, actor=CONSOLE)
    joined: dict = {}

    def corroborate() -> None:
        with Session(engine) as session:
            report_in = ReportCreate.model_validate(
                report_body(incident_id=str(victim), occurred_at=VICTIM_AT)
            )
            [outcome] = submit(session=session, submitter=submitter, reports_in=[report_in])
            session.commit()
            joined["status"] = outcome.status
            joined["detail"] = outcome.error.detail if outcome.error else None

    racer = threading.Thread(target=corroborate)
    racer.start()
    try:
        wait_until_a_session_waits_for_a_lock(engine, "the report")
    finally:
        merging.commit()
        merging.close()
        racer.join(timeout=30)
    assert joined["status"] == 422 and str(survivor) in joined["detail"]
    assert scalar(engine, "SELECT count(*) FROM reports WHERE incident_id = :id", id=victim) == 0
    assert scalar(engine, "SELECT report_count FROM incidents WHERE id = :id", id=victim) == 0
    assert scalar(engine, "SELECT report_count FROM incidents WHERE id = :id", id=survivor) == 2
