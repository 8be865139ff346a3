"""A partner mirrors the changes feed while reports, reviews, merges and rejections keep
arriving in committed transactions (on a copy of the test database), including a
transaction that commits after a later one: the mirrors, full and public, end identical to
``/v1/incidents`` and to the public OGC items."""

from __future__ import annotations

import random
import threading
import time
import uuid
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import text
from sqlalchemy.orm import Session

from service.audit.service import CONSOLE, Actor
from service.auth.service import create_key
from service.report.schemas import ReportCreate
from service.report.service import Submitter, submit
from tests.changes_mirror import Mirror, full_list, public_list
from tests.http.report_helpers import auth, report_body
from tests.live import copied_database

# Serial: the feed's horizon is the cluster's, so the transactions other workers' tests hold
# open (each test is one, rolled back at its end) would hold it back: the mirrors would wait,
# and compaction would find nothing below it (as it did on three workers in CI).
pytestmark = [pytest.mark.db, pytest.mark.serial]


@pytest.fixture(scope="module")
def sync_engine(engine):
    with copied_database(engine, "changes") as (_, copy):
        yield copy


@pytest.fixture(scope="module")
def sync_app(sync_engine):
    from service.db import get_session
    from service.main import create_app

    app = create_app()

    def session() -> Iterator[Session]:
        with Session(sync_engine, expire_on_commit=False) as s:
            yield s

    app.dependency_overrides[get_session] = session
    return app


def committed_key(engine, role: str) -> tuple[uuid.UUID, str]:
    with Session(engine) as session:
        key, secret = create_key(session=session, role=role, name=f"sync {role}", actor=CONSOLE)
        session.commit()
    return key["id"], secret


def body(day: int) -> dict:
    # A day and a place of its own: correlation joins nothing the test did not merge.
    occurred = f"2017-{1 + day // 28:02d}-{1 + day % 28:02d}T09:30:00+02:00"
    return report_body(
        occurred_at=occurred,
        location={"type": "Point", "coordinates": [36.55 + (day % 10) / 100, 35.93]},
        casualties={"killed": day % 7, "injured": day % 5, "civilians_killed": 0},
    )


def sync_until_equal(client, full: Mirror, public: Mirror, monitor, timeout_s: float = 120):
    """Sync both mirrors until they equal the lists. The feed stops at the cluster's oldest
    open transaction (another test's, on a shared server): that is latency, so wait."""
    deadline = time.monotonic() + timeout_s
    while True:
        full.sync(client)
        public.sync(client)
        expected_full, expected_public = full_list(client, monitor), public_list(client)
        if full.incidents == expected_full and public.incidents == expected_public:
            return expected_full, expected_public
        assert time.monotonic() < deadline, (
            f"mirrors differ: full {set(full.incidents) ^ set(expected_full)},"
            f" public {set(public.incidents) ^ set(expected_public)}"
        )
        time.sleep(0.5)


# What the casualty rule would publish, as a held corroboration stores it.
PROPOSED = (
    '{"report_count": 2, "casualties": {"killed": 1, "injured": 0, "civilians_killed": 0},'
    ' "casualties_range": {"killed": [1, 1], "injured": [0, 0], "civilians_killed": [0, 0]}}'
)


def changes_after(client, since: str, headers, timeout_s: float = 120) -> list[tuple]:
    """(id, pending_review) of the items after ``since``, once there are any (the horizon
    is the cluster's: another session's open transaction delays them)."""
    deadline = time.monotonic() + timeout_s
    while True:
        response = client.get("/v1/changes", params={"since": since}, headers=headers)
        items = response.json()["items"]
        if items:
            return [(i["id"], i["incident"]["pending_review"]) for i in items]
        assert time.monotonic() < deadline, "the feed never moved past the committed rows"
        time.sleep(0.5)


def test_a_transaction_committing_after_a_later_one_is_not_skipped(sync_engine, sync_app):
    """The early transaction starts first (its xid is the lower: it wrote elsewhere first,
    as a submit writes reports before incidents) and commits last; its incident's
    ``created_at`` (the transaction's start) is the earlier too, so a feed by timestamps
    would hand out a cursor past it."""
    key_id, _ = committed_key(sync_engine, "reporter")
    _, monitor_secret = committed_key(sync_engine, "monitor")
    monitor = auth(monitor_secret)
    submitter = Submitter(key_id=key_id, actor=Actor(key_id=key_id, label="key:sync reporter"))

    def write(session: Session, day: int) -> uuid.UUID:
        [outcome] = submit(
            session=session,
            submitter=submitter,
            reports_in=[ReportCreate.model_validate(body(day))],
        )
        return outcome.report["incident_id"]

    full = Mirror(monitor)
    with TestClient(sync_app) as client:
        full.sync(client)
        early = Session(sync_engine)
        try:
            early_xid = early.execute(text("SELECT pg_current_xact_id()::text::bigint")).scalar()
            with Session(sync_engine) as late:
                late_id = write(late, 301)
                late.commit()
            # The later transaction has committed and its incident is listed, but the feed
            # stops before the earlier one, still open: no cursor handed out passes it.
            assert str(late_id) in full_list(client, monitor)
            full.sync(client)
            assert str(late_id) not in full.incidents
            early_id = write(early, 300)
            full.sync(client)
            assert str(late_id) not in full.incidents
            early.commit()
        finally:
            early.close()
        with sync_engine.connect() as conn:
            rows = conn.execute(
                text(
                    "SELECT c.incident_id, c.xid, i.created_at FROM incident_changes c"
                    " JOIN incidents i ON i.id = c.incident_id"
                    " WHERE c.incident_id IN (:a, :b) ORDER BY c.xid, c.seq"
                ),
                {"a": early_id, "b": late_id},
            ).all()
        assert rows[0].incident_id == early_id and rows[0].xid == early_xid
        assert rows[-1].incident_id == late_id
        assert rows[0].created_at < rows[-1].created_at  # a timestamp cursor would skip it
        sync_until_equal(client, full, Mirror(), monitor)
        assert {str(early_id), str(late_id)} <= set(full.incidents)


def test_rows_logged_first_but_committed_last_come_after_the_cursor(sync_engine, sync_app):
    """At the log itself: the early transaction logs its row first (the lower sequence
    number too) and commits after a later one. A feed by sequence number would hand out a
    cursor past the later row and never return to the earlier; this one waits for it. (The
    writes are held corroborations: today's incident writers also queue on the tallies'
    rows, which would serialise two incident inserts.)"""
    key_id, _ = committed_key(sync_engine, "reporter")
    _, monitor_secret = committed_key(sync_engine, "monitor")
    monitor = auth(monitor_secret)
    submitter = Submitter(key_id=key_id, actor=Actor(key_id=key_id, label="key:sync reporter"))
    with Session(sync_engine) as session:
        first, second = (
            submit(
                session=session,
                submitter=submitter,
                reports_in=[ReportCreate.model_validate(body(day))],
            )[0].report["incident_id"]
            for day in (200, 202)
        )
        session.commit()
    hold = text(
        "INSERT INTO incident_pending_reviews (incident_id, proposed)"
        " VALUES (:id, CAST(:proposed AS jsonb))"
    ).bindparams(proposed=PROPOSED)
    full = Mirror(monitor)
    with TestClient(sync_app) as client:
        full.sync(client)
        early = Session(sync_engine)
        try:
            early.execute(hold, {"id": first})
            with Session(sync_engine) as late:
                late.execute(hold, {"id": second})
                late.commit()
            with sync_engine.connect() as conn:
                [(early_seq, late_seq)] = conn.execute(
                    text(
                        "SELECT max(seq) FILTER (WHERE incident_id = :a),"
                        " max(seq) FILTER (WHERE incident_id = :b) FROM incident_changes"
                    ),
                    {"a": first, "b": second},
                ).all()
            assert late_seq > (early_seq or 0)  # the early row is not visible yet
            before = full.since
            full.sync(client)
            assert full.since == before  # the cursor did not pass the open transaction
            early.commit()
        finally:
            early.close()
        changed = changes_after(client, before, monitor)
    assert changed[-2:] == [(str(first), True), (str(second), True)]


def test_mirrors_applying_the_feed_during_writes_end_identical(sync_engine, sync_app):
    rng = random.Random(13)  # noqa: S311 - a reproducible workload
    reporters = [committed_key(sync_engine, "reporter")[1] for _ in range(3)]
    _, verifier = committed_key(sync_engine, "verifier")
    _, monitor_secret = committed_key(sync_engine, "monitor")
    monitor = auth(monitor_secret)
    full, public = Mirror(monitor), Mirror()
    errors: list[str] = []
    done = threading.Event()

    def writer() -> None:
        open_ids: list[str] = []
        try:
            with TestClient(sync_app) as client:
                for n in range(60):
                    secret = rng.choice(reporters)
                    response = client.post("/v1/reports", json=body(n), headers=auth(secret))
                    if response.status_code != 201:
                        errors.append(response.text)
                        continue
                    open_ids.append(response.json()["incident_id"])
                    action = rng.random()
                    if action < 0.35 and open_ids:
                        target = rng.choice(open_ids)
                        status = rng.choice(["verified", "verified", "disputed", "rejected"])
                        client.post(
                            f"/v1/incidents/{target}/review",
                            json={"status": status},
                            headers=auth(verifier),
                        )
                        if status == "rejected":
                            open_ids.remove(target)
                    elif action < 0.5 and len(open_ids) >= 2:
                        victim, survivor = rng.sample(open_ids, 2)
                        response = client.post(
                            f"/v1/incidents/{victim}/merge",
                            json={"into": survivor},
                            headers=auth(verifier),
                        )
                        if response.status_code == 200:
                            open_ids.remove(victim)
        except Exception as exc:  # surfaced by the assertion below
            errors.append(repr(exc))
        finally:
            done.set()

    thread = threading.Thread(target=writer)
    with TestClient(sync_app) as client:
        thread.start()
        syncs = 0
        while not done.is_set():
            full.sync(client, limit=7)
            public.sync(client, limit=5)
            syncs += 1
            time.sleep(0.05)
        thread.join(timeout=60)
        assert not errors, errors
        expected_full, expected_public = sync_until_equal(client, full, public, monitor)
    assert syncs > 1  # the mirrors read while the writer wrote
    assert len(expected_full) >= 30 and expected_public
    assert "merged" in {t["change"] for t in full.tombstones}
    assert "rejected" in {i["status"] for i in full.incidents.values()}  # upserts, as listed


def log_rows(engine) -> tuple[int, int]:
    with engine.connect() as conn:
        return conn.execute(
            text("SELECT count(*), count(DISTINCT incident_id) FROM incident_changes")
        ).one()


def test_compaction_keeps_mirrors_behind_and_fresh_ones_identical(sync_engine, sync_app):
    from service.changes.service import compact

    _, monitor_secret = committed_key(sync_engine, "monitor")
    monitor = auth(monitor_secret)
    behind, behind_public = Mirror(monitor), Mirror()
    with TestClient(sync_app) as client:
        # Mirrors that read one page, then stopped: their cursors point into rows about to go.
        for mirror in (behind, behind_public):
            response = client.get("/v1/changes", params={"limit": 10}, headers=mirror.headers)
            mirror.apply(response.json())
        rows, incidents = log_rows(sync_engine)
        deadline = time.monotonic() + 120
        while True:
            with Session(sync_engine) as session:
                deleted = compact(session=session, batch=50)
                session.commit()
            if deleted == 0 and log_rows(sync_engine)[0] < rows:
                break
            assert time.monotonic() < deadline, "nothing below the horizon to compact"
            time.sleep(0.2 if deleted else 0.5)
        left, still = log_rows(sync_engine)
        assert incidents <= left < rows and still == incidents  # every incident keeps its row
        for mirror in (behind, behind_public):
            mirror.sync(client)
        sync_until_equal(client, behind, behind_public, monitor)
        sync_until_equal(client, Mirror(monitor), Mirror(), monitor)
