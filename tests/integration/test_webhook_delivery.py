"""Webhook deliveries to a real HTTP receiver on loopback: signatures, retries, giving up."""

import datetime as dt
import time
import uuid

import orjson
import pytest
from sqlalchemy import text

from service.audit.service import CONSOLE
from service.auth.service import Principal
from service.config import get_settings
from service.digest.service import build_days, get_revision, view
from service.subscription import signing
from service.subscription.delivery import backoff_s, deliver_due, make_client
from service.subscription.schemas import SubscriptionCreate
from service.subscription.service import create
from tests.incidents import ALEPPO, make_incidents, report
from tests.webhook_receiver import Receiver, next_port

SECRET = "a-long-enough-secret-for-hmac"  # noqa: S105 - a test subscription's secret
DAY = dt.date(2017, 2, 10)


@pytest.fixture
def settings(monkeypatch):
    s = get_settings()
    monkeypatch.setattr(s, "webhook_allow_private", True)
    # The loopback receivers' ports (tests/webhook_receiver.py), beside the default 80 and 443.
    monkeypatch.setattr(s, "webhook_allowed_ports", [80, 443, *range(8401, 8430)])
    monkeypatch.setattr(s, "webhook_backoff_base_s", 60.0)
    monkeypatch.setattr(s, "webhook_timeout_s", 2.0)
    return s


@pytest.fixture
def monitor(make_key):
    principal, _ = make_key("monitor", "monitor A")
    return principal


def subscribe(
    db, monitor: Principal, url: str, province: str | None = None, secret: str = SECRET
) -> uuid.UUID:
    created, _ = create(
        session=db,
        principal=monitor,
        subscription_in=SubscriptionCreate(callback_url=url, secret=secret, province=province),
        settings=get_settings(),
    )
    return created["id"]


def deliver(db, settings):
    with make_client(settings) as client:
        return deliver_due(session=db, client=client, settings=settings)


def delivery_rows(db, subscription_id):
    return db.execute(
        text(
            "SELECT d.id, d.status, d.attempts, d.next_attempt_at, d.last_error, r.revision"
            " FROM deliveries d JOIN digest_revisions r ON r.id = d.digest_revision_id"
            " WHERE d.subscription_id = :id ORDER BY r.digest_date, r.revision"
        ),
        {"id": subscription_id},
    ).all()


def attempts(db, delivery_id):
    return db.execute(
        text(
            "SELECT attempt, outcome, status_code, error FROM delivery_attempts"
            " WHERE delivery_id = :id ORDER BY attempt"
        ),
        {"id": delivery_id},
    ).all()


def test_a_new_revision_is_posted_signed_and_verifiable(db, settings, monitor, submitter):
    with Receiver() as receiver:
        subscription_id = subscribe(db, monitor, receiver.url)
        make_incidents(db, submitter, report(at="2017-02-10T08:00:00+02:00"))
        build_days(session=db, first=DAY, last=DAY)
        stats = deliver(db, settings)
    assert (stats.delivered, stats.failed) == (1, 0)
    [received] = receiver.received
    headers, body = received.headers, received.body
    assert headers["content-type"] == "application/json"
    assert headers["x-ceasefire-event"] == "digest.revision"
    timestamp = headers["x-ceasefire-timestamp"]
    assert abs(int(timestamp) - time.time()) < 120
    # What the README tells receivers to do:
    assert signing.verify(
        SECRET, timestamp=timestamp, body=body, signature_header=headers["x-ceasefire-signature"]
    )
    assert not signing.verify(
        "another-secret-entirely-000",
        timestamp=timestamp,
        body=body,
        signature_header=headers["x-ceasefire-signature"],
    )
    assert not signing.verify(
        SECRET,
        timestamp=timestamp,
        body=body.replace(b'"revision":1', b'"revision":9'),
        signature_header=headers["x-ceasefire-signature"],
    )
    assert not signing.verify(
        SECRET,
        timestamp=timestamp,
        body=body,
        signature_header=headers["x-ceasefire-signature"],
        now=int(timestamp) + 3600,
    )
    payload = orjson.loads(body)
    [delivery] = delivery_rows(db, subscription_id)
    assert payload["delivery_id"] == str(delivery.id) == headers["x-ceasefire-delivery"]
    assert (payload["date"], payload["revision"], payload["province"]) == ("2017-02-10", 1, None)
    assert payload["digest"] == view(get_revision(session=db, day=DAY), None)
    assert (delivery.status, delivery.attempts) == ("delivered", 1)
    assert [tuple(a) for a in attempts(db, delivery.id)] == [(1, "succeeded", 200, None)]


def test_a_failing_receiver_is_retried_with_backoff_until_it_succeeds(
    db, settings, monitor, submitter
):
    with Receiver(statuses=[500, 503]) as receiver:
        subscription_id = subscribe(db, monitor, receiver.url)
        build_days(session=db, first=DAY, last=DAY)
        now = db.execute(text("SELECT now()")).scalar_one()

        assert deliver(db, settings).failed == 1
        [delivery] = delivery_rows(db, subscription_id)
        assert (delivery.status, delivery.attempts, delivery.last_error) == (
            "pending",
            1,
            "HTTP 500",
        )
        assert delivery.next_attempt_at == now + dt.timedelta(seconds=backoff_s(1, settings))
        assert deliver(db, settings).failed == 0  # not due yet: nothing sent
        assert len(receiver.received) == 1

        db.execute(text("UPDATE deliveries SET next_attempt_at = now()"))  # time passes
        assert deliver(db, settings).failed == 1
        [delivery] = delivery_rows(db, subscription_id)
        assert delivery.next_attempt_at == now + dt.timedelta(seconds=backoff_s(2, settings))
        assert backoff_s(2, settings) == 2 * backoff_s(1, settings)

        db.execute(text("UPDATE deliveries SET next_attempt_at = now()"))
        assert deliver(db, settings).delivered == 1
    [delivery] = delivery_rows(db, subscription_id)
    assert (delivery.status, delivery.attempts, delivery.last_error) == ("delivered", 3, None)
    assert [(a.attempt, a.outcome, a.status_code) for a in attempts(db, delivery.id)] == [
        (1, "failed", 500),
        (2, "failed", 503),
        (3, "succeeded", 200),
    ]
    ids = {r.headers["x-ceasefire-delivery"] for r in receiver.received}
    assert ids == {str(delivery.id)}  # the same delivery each time: receivers can dedupe


def test_it_gives_up_after_the_last_attempt(db, settings, monitor, monkeypatch):
    monkeypatch.setattr(settings, "webhook_max_attempts", 2)
    with Receiver(statuses=[500, 500, 500]) as receiver:
        subscription_id = subscribe(db, monitor, receiver.url)
        build_days(session=db, first=DAY, last=DAY)
        deliver(db, settings)
        db.execute(text("UPDATE deliveries SET next_attempt_at = now()"))
        deliver(db, settings)
        db.execute(text("UPDATE deliveries SET next_attempt_at = now()"))
        deliver(db, settings)
    [delivery] = delivery_rows(db, subscription_id)
    assert (delivery.status, delivery.attempts) == ("failed", 2)
    assert len(receiver.received) == 2


def test_refused_connections_and_redirects_are_failures(db, settings, monitor):
    closed = subscribe(db, monitor, f"http://127.0.0.1:{next_port()}/nobody-listens")
    with Receiver(statuses=[302]) as receiver:
        redirecting = subscribe(db, monitor, receiver.url)
        build_days(session=db, first=DAY, last=DAY)
        assert deliver(db, settings).failed == 2
    [refused] = delivery_rows(db, closed)
    assert refused.last_error.startswith("ConnectError")
    [redirected] = delivery_rows(db, redirecting)
    assert redirected.last_error == "HTTP 302"
    assert len(receiver.received) == 1  # the redirect was not followed


def test_a_callback_that_turned_private_is_not_called(db, settings, monitor, monkeypatch):
    with Receiver() as receiver:
        subscription_id = subscribe(db, monitor, receiver.url)
        build_days(session=db, first=DAY, last=DAY)
        monkeypatch.setattr(settings, "webhook_allow_private", False)
        assert deliver(db, settings).failed == 1
    assert receiver.received == []
    [delivery] = delivery_rows(db, subscription_id)
    assert "loopback" in delivery.last_error


def test_a_province_subscription_hears_only_of_its_governorate(db, settings, monitor, submitter):
    with Receiver() as receiver:
        aleppo = subscribe(db, monitor, receiver.url, province="Aleppo")
        make_incidents(db, submitter, report(at="2017-02-10T08:00:00+02:00"))  # Idleb
        build_days(session=db, first=DAY, last=DAY)  # revision 1: every subscriber hears
        make_incidents(db, submitter, report(at="2017-02-10T09:00:00+02:00"))  # Idleb again
        build_days(session=db, first=DAY, last=DAY)  # revision 2: Aleppo unchanged
        make_incidents(db, submitter, report(at="2017-02-10T10:00:00+02:00", where=ALEPPO))
        build_days(session=db, first=DAY, last=DAY)  # revision 3: Aleppo changed
        deliver(db, settings)
    assert [d.revision for d in delivery_rows(db, aleppo)] == [1, 3]
    payloads = [orjson.loads(r.body) for r in receiver.received]
    assert sorted(p["revision"] for p in payloads) == [1, 3]
    for p in payloads:
        assert p["province"] == "SY02"
        assert p["digest"]["province"] == {"pcode": "SY02", "name_en": "Aleppo"}
        assert p["href"].endswith("?province=SY02")


def test_a_backfill_without_notify_queues_nothing(db, monitor, settings):
    with Receiver() as receiver:
        subscription_id = subscribe(db, monitor, receiver.url)
        build_days(session=db, first=DAY, last=DAY, notify=False, actor=CONSOLE)
    assert delivery_rows(db, subscription_id) == []
