"""Webhook deliveries to a real HTTP receiver on loopback: signatures, retries, giving up."""

import datetime as dt
import ssl
import time
import uuid

import orjson
import pytest
import standardwebhooks
from pydantic import SecretStr
from sqlalchemy import text

from service.audit.service import CONSOLE
from service.auth.service import Principal
from service.config import get_settings
from service.digest.service import build_days, get_revision, view
from service.subscription import secret_store, signing
from service.subscription.addresses import system_resolve
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


def to_loopback(host: str, port: int) -> list[str]:
    """A DNS stand-in for the test names (hooks.test...): every name is 127.0.0.1."""
    return ["127.0.0.1"]


def subscribe(
    db,
    monitor: Principal,
    url: str,
    province: str | None = None,
    secret: str = SECRET,
    resolve=system_resolve,
) -> uuid.UUID:
    created, _ = create(
        session=db,
        principal=monitor,
        subscription_in=SubscriptionCreate(callback_url=url, secret=secret, province=province),
        settings=get_settings(),
        resolve=resolve,
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
    # The revision's links, absolute, as its document served has them.
    by_rel = {(link["rel"], link["type"]): link["href"] for link in payload["links"]}
    base = get_settings().public_base_url
    assert by_rel[("self", "application/json")] == base + payload["href"]
    assert by_rel[("alternate", "text/csv")] == base + payload["href"] + "?format=csv"
    assert by_rel[("latest-version", "application/json")] == f"{base}/v1/digests/daily/2017-02-10"
    assert by_rel[("version-history", "application/json")].endswith("/2017-02-10/revisions")
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
        assert all(
            "province=SY02" in link["href"]
            for link in p["links"]
            if link["rel"] != "version-history"
        )


def test_a_backfill_without_notify_queues_nothing(db, monitor, settings):
    with Receiver() as receiver:
        subscription_id = subscribe(db, monitor, receiver.url)
        build_days(session=db, first=DAY, last=DAY, notify=False, actor=CONSOLE)
    assert delivery_rows(db, subscription_id) == []


# --- Connections go to the checked address --------------------------------------------------


class Rebinding:
    """A DNS name that answers ``first`` once, then ``later`` (a rebinding attacker)."""

    def __init__(self, first: str, later: str) -> None:
        self.answers = [first, later]
        self.calls: list[str] = []

    def __call__(self, host: str, port: int) -> list[str]:
        self.calls.append(host)
        return [self.answers[0] if len(self.calls) == 1 else self.answers[1]]


def stand_in_private(address):
    """For these tests, 127.0.0.2 plays a private address and 127.0.0.1 a public one."""
    return "private" if str(address) == "127.0.0.2" else None


@pytest.mark.parametrize("checked_first", ["127.0.0.1", "127.0.0.2"])
def test_the_connection_goes_to_the_address_that_was_checked(
    db, settings, monitor, monkeypatch, checked_first
):
    port = next_port()
    with Receiver(port=port) as public, Receiver(port=port, host="127.0.0.2") as private:
        subscription_id = subscribe(
            db, monitor, f"http://rebind.test:{port}/hook", resolve=to_loopback
        )
        build_days(session=db, first=DAY, last=DAY)
        monkeypatch.setattr(settings, "webhook_allow_private", False)
        other = "127.0.0.2" if checked_first == "127.0.0.1" else "127.0.0.1"
        dns = Rebinding(checked_first, other)
        with make_client(settings, resolve=dns, refuse_address=stand_in_private) as client:
            stats = deliver_due(session=db, client=client, settings=settings)
    assert dns.calls == ["rebind.test"]  # one lookup per delivery: checked, then connected to
    assert private.received == []
    [delivery] = delivery_rows(db, subscription_id)
    if checked_first == "127.0.0.1":
        assert stats.delivered == 1
        [received] = public.received
        assert received.headers["host"] == f"rebind.test:{port}"  # the URL's host, unchanged
    else:
        assert stats.failed == 1 and public.received == []
        assert delivery.last_error == (
            "callback_url: rebind.test resolves to a private address, which is not allowed"
        )


def test_a_name_checked_public_at_subscription_and_private_at_delivery_is_not_called(
    db, settings, monitor, monkeypatch
):
    monkeypatch.setattr(settings, "webhook_allow_private", False)
    with Receiver() as receiver:
        url = f"http://hooks.test:{receiver.port}/hook"
        created, _ = create(
            session=db,
            principal=monitor,
            subscription_in=SubscriptionCreate(callback_url=url, secret=SECRET),
            settings=settings,
            resolve=lambda host, port: ["93.184.216.34"],  # public when checked; never called
        )
        build_days(session=db, first=DAY, last=DAY)
        dns = Rebinding("127.0.0.1", "127.0.0.1")
        with make_client(settings, resolve=dns) as client:
            assert deliver_due(session=db, client=client, settings=settings).failed == 1
    assert receiver.received == []
    assert dns.calls == ["hooks.test"]
    [delivery] = delivery_rows(db, created["id"])
    assert "loopback" in delivery.last_error


def test_a_port_no_longer_allowed_is_not_called(db, settings, monitor, monkeypatch):
    with Receiver() as receiver:
        subscription_id = subscribe(db, monitor, receiver.url)
        build_days(session=db, first=DAY, last=DAY)
        monkeypatch.setattr(settings, "webhook_allowed_ports", [80, 443])
        assert deliver(db, settings).failed == 1
    assert receiver.received == []
    [delivery] = delivery_rows(db, subscription_id)
    assert f"port {receiver.port} is not allowed" in delivery.last_error


def _tls_pair(tmp_path, name: str):
    """A throwaway CA and a server certificate for ``name``: (server context, client context)."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    def cert(subject, issuer, key, signer, *, ca, sans=()):
        now = dt.datetime.now(dt.UTC)
        builder = (
            x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, subject)]))
            .issuer_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, issuer)]))
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(minutes=5))
            .not_valid_after(now + dt.timedelta(hours=1))
            .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
        )
        if sans:
            builder = builder.add_extension(
                x509.SubjectAlternativeName([x509.DNSName(s) for s in sans]), critical=False
            )
        return builder.sign(signer, hashes.SHA256())

    ca_key, key = ec.generate_private_key(ec.SECP256R1()), ec.generate_private_key(ec.SECP256R1())
    ca = cert("test CA", "test CA", ca_key, ca_key, ca=True)
    leaf = cert(name, "test CA", key, ca_key, ca=False, sans=[name])
    pem = serialization.Encoding.PEM
    (tmp_path / "ca.pem").write_bytes(ca.public_bytes(pem))
    (tmp_path / "leaf.pem").write_bytes(leaf.public_bytes(pem))
    (tmp_path / "leaf.key").write_bytes(
        key.private_bytes(pem, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    server = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server.load_cert_chain(tmp_path / "leaf.pem", tmp_path / "leaf.key")
    client = ssl.create_default_context(cafile=str(tmp_path / "ca.pem"))
    return server, client


@pytest.mark.parametrize(("certified", "ok"), [("hooks.test", True), ("other.test", False)])
def test_https_to_the_pinned_address_verifies_the_url_host_name(
    db, settings, monitor, tmp_path, certified, ok
):
    server_tls, client_tls = _tls_pair(tmp_path, certified)
    with Receiver(tls=server_tls) as receiver:
        subscription_id = subscribe(
            db, monitor, f"https://hooks.test:{receiver.port}/hook", resolve=to_loopback
        )
        build_days(session=db, first=DAY, last=DAY)
        with make_client(settings, resolve=to_loopback, ssl_context=client_tls) as client:
            stats = deliver_due(session=db, client=client, settings=settings)
    [delivery] = delivery_rows(db, subscription_id)
    if ok:  # SNI and the certificate check used hooks.test, not the address connected to
        assert stats.delivered == 1 and len(receiver.received) == 1
        assert receiver.received[0].headers["host"] == f"hooks.test:{receiver.port}"
    else:
        assert stats.failed == 1 and receiver.received == []
        assert "CERTIFICATE_VERIFY_FAILED" in delivery.last_error


# --- Standard Webhooks signatures and secrets at rest ---------------------------------------


def test_deliveries_verify_with_the_standardwebhooks_library(db, settings, monitor):
    with Receiver() as receiver:
        given = subscribe(db, monitor, receiver.url)  # a plain secret of the subscriber's
        created, generated = create(
            session=db,
            principal=monitor,
            subscription_in=SubscriptionCreate(callback_url=receiver.url),
            settings=settings,
        )
        build_days(session=db, first=DAY, last=DAY)
        assert deliver(db, settings).delivered == 2
    by_subscription = {orjson.loads(r.body)["subscription_id"]: r for r in receiver.received}
    plain = by_subscription[str(given)]
    whsec = by_subscription[str(created["id"])]
    # A generated secret is a whsec_ secret, taken as it is; a plain one in its whsec_ form.
    for received, secret in ((whsec, generated), (plain, signing.standard_secret(SECRET))):
        verified = standardwebhooks.Webhook(secret).verify(received.body, received.headers)
        assert verified == orjson.loads(received.body)
        assert received.headers["webhook-id"] == received.headers["x-ceasefire-delivery"]
        assert received.headers["webhook-timestamp"] == received.headers["x-ceasefire-timestamp"]
        with pytest.raises(standardwebhooks.WebhookVerificationError):
            standardwebhooks.Webhook(secret).verify(
                received.body.replace(b'"revision":1', b'"revision":2'), received.headers
            )
    standardwebhooks.Webhook(SECRET.encode()).verify(plain.body, plain.headers)
    with pytest.raises(standardwebhooks.WebhookVerificationError):
        standardwebhooks.Webhook(signing.standard_secret(SECRET)).verify(whsec.body, whsec.headers)
    # Today's header still verifies, with the secret as given.
    assert signing.verify(
        generated,
        timestamp=whsec.headers["x-ceasefire-timestamp"],
        body=whsec.body,
        signature_header=whsec.headers["x-ceasefire-signature"],
    )


def test_secrets_are_stored_encrypted_and_keys_rotate(
    db, settings, monitor, submitter, monkeypatch
):
    old_key, new_key = secret_store.generate_key(), secret_store.generate_key()
    monkeypatch.setattr(settings, "secrets_key", SecretStr(old_key))
    with Receiver() as receiver:
        subscription_id = subscribe(db, monitor, receiver.url)
        stored = db.execute(
            text("SELECT secret_encrypted FROM subscriptions WHERE id = :id"),
            {"id": subscription_id},
        ).scalar_one()
        row = db.execute(
            text("SELECT s::text FROM subscriptions s WHERE id = :id"), {"id": subscription_id}
        ).scalar_one()
        assert SECRET not in row and stored in row

        monkeypatch.setattr(settings, "secrets_key", SecretStr(f"{new_key},{old_key}"))
        assert secret_store.rotate(session=db, settings=settings) >= 1
        rotated = db.execute(
            text("SELECT secret_encrypted FROM subscriptions WHERE id = :id"),
            {"id": subscription_id},
        ).scalar_one()
        assert rotated != stored
        monkeypatch.setattr(settings, "secrets_key", SecretStr(new_key))  # old key dropped
        build_days(session=db, first=DAY, last=DAY)
        assert deliver(db, settings).delivered == 1

        make_incidents(db, submitter, report(at="2017-02-10T08:00:00+02:00"))
        build_days(session=db, first=DAY, last=DAY)  # revision 2
        monkeypatch.setattr(settings, "secrets_key", SecretStr(old_key))  # the wrong key
        assert deliver(db, settings).failed == 1
    [received] = receiver.received  # nothing was sent without the secret
    assert signing.verify(
        SECRET,
        timestamp=received.headers["x-ceasefire-timestamp"],
        body=received.body,
        signature_header=received.headers["x-ceasefire-signature"],
    )
    failed = [d for d in delivery_rows(db, subscription_id) if d.status == "pending"]
    assert [d.last_error for d in failed] == [
        "the secret cannot be decrypted: no configured key decrypts the subscription's secret"
    ]


def test_without_a_secrets_key_nothing_is_claimed(db, settings, monitor, monkeypatch, tmp_path):
    with Receiver() as receiver:
        subscription_id = subscribe(db, monitor, receiver.url)
        build_days(session=db, first=DAY, last=DAY)
        monkeypatch.setattr(settings, "secrets_key", None)
        monkeypatch.setattr(settings, "secrets_key_file", tmp_path / "missing")
        with pytest.raises(secret_store.SecretsKeyMissing):
            deliver(db, settings)
    assert receiver.received == []
    [delivery] = delivery_rows(db, subscription_id)
    assert (delivery.status, delivery.attempts) == ("pending", 0)  # waits, attempts unspent
