"""Sending queued deliveries: claim one, POST it with no transaction open, record the attempt.

The queue is the ``deliveries`` table, so it survives restarts. A claim moves the delivery's
``next_attempt_at`` a lease ahead (``FOR UPDATE SKIP LOCKED`` keeps two senders off the
same row): if the sender dies mid-attempt, the delivery becomes due again when the lease
ends. Delivery is therefore at least once; receivers deduplicate on the delivery id header.
Failures are retried after ``base * 2**(attempt - 1)`` seconds (capped), up to the maximum
number of attempts, then the delivery is marked failed.

Each POST goes through :mod:`pinning`: the callback's host is resolved once, every answer
checked, and the connection made to a checked address. Two signatures ride on every
delivery (see :mod:`signing`); the secret is decrypted only for the moment of signing.
"""

from __future__ import annotations

import logging
import ssl
import time
import uuid
from dataclasses import dataclass

import httpx
import orjson
from sqlalchemy import text
from sqlalchemy.orm import Session

from service.config import Settings, get_settings
from service.digest.links import DAILY, document_links
from service.digest.service import StoredRevision, view
from service.subscription import secret_store, signing
from service.subscription.addresses import (
    Refuse,
    RefusedAddress,
    Resolve,
    refused_reason,
    static_check,
    system_resolve,
)
from service.subscription.pinning import PinnedTransport, RefusedConnection

log = logging.getLogger(__name__)

EVENT = "digest.revision"
USER_AGENT = "ceasefire-monitor-webhooks/1"


@dataclass(frozen=True)
class Claim:
    delivery_id: uuid.UUID
    attempt: int
    subscription_id: uuid.UUID
    callback_url: str
    secret_encrypted: str
    province: str | None
    revision: StoredRevision


@dataclass
class Sent:
    ok: bool
    status_code: int | None
    error: str | None


@dataclass
class DeliveryStats:
    delivered: int = 0
    failed: int = 0

    def __str__(self) -> str:
        return f"{self.delivered} delivered, {self.failed} failed"


def backoff_s(attempt: int, settings: Settings) -> float:
    """Seconds to wait after failed attempt number ``attempt`` (1-based)."""
    return min(settings.webhook_backoff_base_s * 2 ** (attempt - 1), settings.webhook_backoff_max_s)


def lease_s(settings: Settings) -> float:
    return settings.webhook_connect_timeout_s + settings.webhook_timeout_s * 4 + 60


_CLAIM = text(
    """
    WITH due AS (
        SELECT d.id FROM deliveries d
        WHERE d.status = 'pending' AND d.next_attempt_at <= now()
        ORDER BY d.next_attempt_at, d.id
        LIMIT 1
        FOR UPDATE SKIP LOCKED
    )
    UPDATE deliveries d
    SET attempts = d.attempts + 1, next_attempt_at = now() + make_interval(secs => :lease)
    FROM due WHERE d.id = due.id
    RETURNING d.id, d.attempts, d.subscription_id, d.digest_revision_id
    """
)
_CLAIMED_SUBSCRIPTION = text(
    "SELECT callback_url, secret_encrypted, province_pcode AS province"
    " FROM subscriptions WHERE id = :id"
)
_CLAIMED_REVISION = text(
    "SELECT id, digest_date, revision, generated_at, content_hash, body, scopes, changes"
    " FROM digest_revisions WHERE id = :id"
)


def claim_next(session: Session, settings: Settings) -> Claim | None:
    """Claim the next due delivery and log its attempt as in flight. Caller commits."""
    claimed = session.execute(_CLAIM, {"lease": lease_s(settings)}).first()
    if claimed is None:
        return None
    session.execute(
        text(
            "INSERT INTO delivery_attempts (delivery_id, attempt, started_at, outcome)"
            " VALUES (:id, :attempt, now(), 'in_flight')"
        ),
        {"id": claimed.id, "attempt": claimed.attempts},
    )
    subscription = session.execute(_CLAIMED_SUBSCRIPTION, {"id": claimed.subscription_id}).one()
    revision = session.execute(_CLAIMED_REVISION, {"id": claimed.digest_revision_id}).one()
    return Claim(
        delivery_id=claimed.id,
        attempt=claimed.attempts,
        subscription_id=claimed.subscription_id,
        revision=StoredRevision(**revision._mapping),
        **subscription._mapping,
    )


def payload(claim: Claim) -> bytes:
    """The body POSTed: the revision (narrowed to the subscription's governorate) with what
    a receiver needs to deduplicate and to fetch it again (``href``, relative as before, and
    ``links``, absolute, as the document served has them)."""
    stored = claim.revision
    path = f"{DAILY}/{stored.digest_date.isoformat()}/revisions/{stored.revision}"
    href = path
    if claim.province:
        href += f"?province={claim.province}"
    return orjson.dumps(
        {
            "event": EVENT,
            "delivery_id": str(claim.delivery_id),
            "subscription_id": str(claim.subscription_id),
            "date": stored.digest_date.isoformat(),
            "revision": stored.revision,
            "province": claim.province,
            "href": href,
            # As the revision's document carries them: itself in every format, the feed, the
            # day's revisions and its latest version, absolute (an immutable revision's
            # links never change, so a receiver may keep them).
            "links": document_links(stored, "json", claim.province, path=path, around=None),
            "digest": view(stored, claim.province),
        }
    )


def send(client: httpx.Client, claim: Claim, settings: Settings) -> Sent:
    """POST one delivery. No database work happens here. The scheme, port and a literal
    address are checked here; the host's addresses by the client's transport (``pinning``),
    on the very answer it connects to."""
    try:
        static_check(
            claim.callback_url,
            allowed_ports=settings.webhook_allowed_ports,
            allow_private=settings.webhook_allow_private,
        )
    except RefusedAddress as exc:
        return Sent(False, None, exc.detail)
    try:
        secret = secret_store.unseal(claim.secret_encrypted, settings)
    except (secret_store.SecretsKeyMissing, secret_store.SecretUnreadable) as exc:
        return Sent(False, None, f"the secret cannot be decrypted: {exc}"[:300])
    body = payload(claim)
    timestamp = str(int(time.time()))
    delivery_id = str(claim.delivery_id)
    headers = {
        "Content-Type": "application/json",
        "User-Agent": USER_AGENT,
        signing.EVENT_HEADER: EVENT,
        signing.DELIVERY_HEADER: delivery_id,
        signing.TIMESTAMP_HEADER: timestamp,
        signing.SIGNATURE_HEADER: signing.signature(secret, timestamp, body),
        # Standard Webhooks: the id is the delivery's, the same on every retry (deduplication).
        signing.STANDARD_ID_HEADER: delivery_id,
        signing.STANDARD_TIMESTAMP_HEADER: timestamp,
        signing.STANDARD_SIGNATURE_HEADER: signing.standard_signature(
            secret, delivery_id, timestamp, body
        ),
    }
    try:
        # Streamed and closed unread: a receiver cannot make us download a large answer.
        with client.stream("POST", claim.callback_url, content=body, headers=headers) as response:
            status = response.status_code
    except httpx.TimeoutException:
        return Sent(False, None, "timed out")
    except httpx.HTTPError as exc:
        if isinstance(exc.__cause__, RefusedConnection):
            return Sent(False, None, exc.__cause__.refused.detail)
        return Sent(False, None, f"{type(exc).__name__}: {exc}"[:300])
    if 200 <= status < 300:
        return Sent(True, status, None)
    return Sent(False, status, f"HTTP {status}")


def record(session: Session, claim: Claim, sent: Sent, settings: Settings) -> None:
    """Write the attempt's outcome and the delivery's next state. Caller commits."""
    session.execute(
        text(
            "UPDATE delivery_attempts SET finished_at = now(), outcome = :outcome,"
            " status_code = :status_code, error = :error"
            " WHERE delivery_id = :id AND attempt = :attempt"
        ),
        {
            "id": claim.delivery_id,
            "attempt": claim.attempt,
            "outcome": "succeeded" if sent.ok else "failed",
            "status_code": sent.status_code,
            "error": sent.error,
        },
    )
    if sent.ok:
        update = (
            "UPDATE deliveries SET status = 'delivered', delivered_at = now(), last_error = NULL"
            " WHERE id = :id AND status = 'pending'"
        )
        params: dict = {"id": claim.delivery_id}
    else:
        give_up = claim.attempt >= settings.webhook_max_attempts
        update = (
            "UPDATE deliveries SET last_error = :error,"
            " status = CASE WHEN :give_up THEN 'failed' ELSE status END,"
            " next_attempt_at = now() + make_interval(secs => :delay)"
            " WHERE id = :id AND status = 'pending'"
        )
        params = {
            "id": claim.delivery_id,
            "error": sent.error,
            "give_up": give_up,
            "delay": backoff_s(claim.attempt, settings),
        }
    session.execute(text(update), params)


def make_client(
    settings: Settings,
    *,
    resolve: Resolve = system_resolve,
    refuse_address: Refuse = refused_reason,
    ssl_context: ssl.SSLContext | None = None,
) -> httpx.Client:
    """The delivery client: no redirects, no proxies from the environment, and connections
    only to checked addresses. ``resolve``, ``refuse_address`` and ``ssl_context`` (default:
    the certifi roots) are there for tests."""
    return httpx.Client(
        transport=PinnedTransport(
            allow_private=settings.webhook_allow_private,
            resolve=resolve,
            refuse_address=refuse_address,
            ssl_context=ssl_context,
        ),
        timeout=httpx.Timeout(
            settings.webhook_timeout_s, connect=settings.webhook_connect_timeout_s
        ),
        follow_redirects=False,
        trust_env=False,
    )


def deliver_due(
    *, session: Session, client: httpx.Client, settings: Settings | None = None
) -> DeliveryStats:
    """Send due deliveries one by one, committing around (never during) each HTTP call.

    Without a secrets key nothing is claimed (``SecretsKeyMissing``, so the job run fails
    loudly): deliveries wait, their attempts unspent, until a key is configured."""
    settings = settings or get_settings()
    secret_store.box(settings)
    stats = DeliveryStats()
    for _ in range(settings.webhook_deliveries_per_run):
        claim = claim_next(session, settings)
        session.commit()
        if claim is None:
            break
        sent = send(client, claim, settings)
        record(session, claim, sent, settings)
        session.commit()
        if sent.ok:
            stats.delivered += 1
        else:
            stats.failed += 1
            log.info(
                "webhook delivery failed",
                extra={
                    "fields": {
                        "delivery_id": str(claim.delivery_id),
                        "attempt": claim.attempt,
                        "error": sent.error,
                    }
                },
            )
    return stats
