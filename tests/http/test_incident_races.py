"""Two verifiers deciding on one incident with the same ETag, in committed transactions (so
on a copy of the test database): exactly one succeeds, the other gets 412, never two
successes; through the service under the row lock, and through the ASGI app from two
threads."""

from __future__ import annotations

import datetime as dt
import itertools
import threading
import uuid

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import text
from sqlalchemy.orm import Session

from service.audit.service import CONSOLE, Actor
from service.auth.service import create_key
from service.caching import IfMatch
from service.errors import PreconditionFailed
from service.incident.service import current_etag
from service.incident.verification import review
from service.report.schemas import ReportCreate
from service.report.service import Submitter, submit
from tests.http.report_helpers import auth, report_body
from tests.live import copied_database, wait_until_a_session_waits_for_a_lock


@pytest.fixture(scope="module")
def race_engine(engine):
    with copied_database(engine, "races") as (_, copy):
        yield copy


def committed_key(engine, role: str) -> tuple[uuid.UUID, str]:
    with Session(engine) as session:
        key, secret = create_key(session=session, role=role, name=f"race {role}", actor=CONSOLE)
        session.commit()
    return key["id"], secret


# Each incident a day apart from the others: reports of one place and time from different
# keys would be joined into one incident by automatic correlation.
_DAYS = itertools.count()


def committed_incident(engine) -> uuid.UUID:
    key_id, _ = committed_key(engine, "reporter")
    occurred = dt.datetime(2017, 1, 10, 9, 30, tzinfo=dt.UTC) + dt.timedelta(days=next(_DAYS))
    submitter = Submitter(key_id=key_id, actor=Actor(key_id=key_id, label="key:race reporter"))
    with Session(engine) as session:
        [outcome] = submit(
            session=session,
            submitter=submitter,
            reports_in=[ReportCreate.model_validate(report_body(occurred_at=occurred.isoformat()))],
        )
        session.commit()
    return outcome.report["incident_id"]


def scalar(engine, sql: str, **params):
    with engine.connect() as conn:
        return conn.execute(text(sql), params).scalar_one()


def verdicts(engine, incident_id) -> int:
    return scalar(
        engine,
        "SELECT count(*) FROM audit_events WHERE entity_id = :id AND action = 'incident.reviewed'",
        id=str(incident_id),
    )


def test_the_second_verdict_waits_for_the_row_lock_then_gets_412(race_engine):
    incident_id = committed_incident(race_engine)
    with Session(race_engine) as session:
        tag = current_etag(session, incident_id)
    condition = IfMatch.parse([tag])

    def decide(session: Session, status: str) -> None:
        review(
            session=session,
            incident_id=incident_id,
            status=status,
            note=status,
            actor=CONSOLE,
            if_match=condition,
        )

    first = Session(race_engine)
    decide(first, "verified")
    outcome: dict = {}

    def second() -> None:
        with Session(race_engine) as session:
            try:
                decide(session, "rejected")
                session.commit()
                outcome["result"] = "written"
            except PreconditionFailed as exc:
                session.rollback()
                outcome["result"] = exc

    racer = threading.Thread(target=second)
    racer.start()
    try:
        # The second checked nothing yet: it waits for the first's row lock.
        wait_until_a_session_waits_for_a_lock(race_engine, "the second verdict")
    finally:
        first.commit()
        first.close()
        racer.join(timeout=30)
    assert isinstance(outcome["result"], PreconditionFailed)
    assert (
        scalar(
            race_engine,
            "SELECT status || ':' || review_note FROM incidents WHERE id = :id",
            id=incident_id,
        )
        == "verified:verified"
    )
    assert verdicts(race_engine, incident_id) == 1


@pytest.fixture
def race_app(race_engine):
    from service.db import get_session
    from service.main import create_app

    app = create_app()

    def session():
        with Session(race_engine, expire_on_commit=False) as s:
            yield s

    app.dependency_overrides[get_session] = session
    return app


@pytest.mark.parametrize("action", ["review", "merge"])
def test_two_verifiers_racing_with_one_etag_get_one_success_and_one_412(
    race_engine, race_app, action
):
    incident_id = committed_incident(race_engine)
    survivors = [committed_incident(race_engine) for _ in range(2)]
    _, one = committed_key(race_engine, "verifier")
    _, other = committed_key(race_engine, "verifier")
    with TestClient(race_app) as client:
        response = client.get(f"/v1/incidents/{incident_id}", headers=auth(one))
        tag = response.headers["ETag"]
    barrier = threading.Barrier(2)
    answers: list = []
    won: list[int] = []

    def decide(secret: str, n: int) -> None:
        with TestClient(race_app) as client:
            path = f"/v1/incidents/{incident_id}/{action}"
            body = (
                {"status": ("verified", "rejected")[n], "note": f"verifier {n}"}
                if action == "review"
                else {"into": str(survivors[n]), "note": f"verifier {n}"}
            )
            barrier.wait(timeout=30)
            response = client.post(path, json=body, headers=auth(secret, **{"If-Match": tag}))
            answers.append(response)
            if response.status_code == 200:
                won.append(n)

    threads = [threading.Thread(target=decide, args=(s, n)) for n, s in enumerate((one, other))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    statuses = sorted(a.status_code for a in answers)
    assert statuses == [200, 412], [a.text for a in answers]
    loser = next(a for a in answers if a.status_code == 412)
    assert loser.headers["content-type"] == "application/problem+json"
    winner = next(a for a in answers if a.status_code == 200)
    if action == "review":
        assert verdicts(race_engine, incident_id) == 1
        note = scalar(
            race_engine, "SELECT review_note FROM incidents WHERE id = :id", id=incident_id
        )
        assert (note, winner.json()["review_note"]) == (f"verifier {won[0]}",) * 2
    else:
        merged_into = scalar(
            race_engine, "SELECT merged_into_id FROM incidents WHERE id = :id", id=incident_id
        )
        assert str(merged_into) == winner.json()["id"]
        assert str(merged_into) == str(survivors[won[0]])
        counts = [
            scalar(race_engine, "SELECT report_count FROM incidents WHERE id = :id", id=s)
            for s in survivors
        ]
        assert sorted(counts) == [1, 2]
