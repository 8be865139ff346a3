"""Subscriptions: created, listed and deleted by their owner's key; callback URLs checked."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import case, literal_column, select, text
from sqlalchemy.orm import Session

from service.audit.service import record
from service.auth.models import Role
from service.auth.service import Principal
from service.config import Settings
from service.digest.models import DigestRevision
from service.errors import NotFound
from service.event.paging import Keyset, Kind, Position
from service.geography.service import resolve_province
from service.subscription import secret_store, signing
from service.subscription.addresses import (
    RefusedAddress,
    Resolve,
    check_callback_url,
    system_resolve,
)
from service.subscription.models import Delivery, DeliveryStatus
from service.subscription.schemas import SubscriptionCreate

__all__ = ["RefusedAddress", "check_callback_url", "create", "delete", "get", "list_for"]


_READ = """
    SELECT s.id, s.callback_url, s.created_at, s.owner_key_id, s.province_pcode,
           a.name_en AS province_name
    FROM subscriptions s LEFT JOIN admin_areas a ON a.pcode = s.province_pcode
    WHERE s.deleted_at IS NULL
"""


def _read(row: Any) -> dict[str, Any]:
    return {
        "id": row.id,
        "callback_url": row.callback_url,
        "province": (
            {"pcode": row.province_pcode, "name_en": row.province_name}
            if row.province_pcode
            else None
        ),
        "created_at": row.created_at,
        "owner_key_id": row.owner_key_id,
    }


def _visible(principal: Principal) -> tuple[str, dict[str, Any]]:
    """Object-level authorisation: a key sees its own subscriptions; an admin sees all."""
    if principal.role == Role.admin:
        return "true", {}
    return "s.owner_key_id = :owner", {"owner": principal.key_id}


def create(
    *,
    session: Session,
    principal: Principal,
    subscription_in: SubscriptionCreate,
    settings: Settings,
    resolve: Resolve = system_resolve,
) -> tuple[dict[str, Any], str | None]:
    """The new subscription, and its secret when the service generated it. The secret is
    stored encrypted (``secret_store``)."""
    url = str(subscription_in.callback_url)
    check_callback_url(
        url,
        allow_private=settings.webhook_allow_private,
        allowed_ports=settings.webhook_allowed_ports,
        resolve=resolve,
    )
    pcode = None
    if subscription_in.province is not None:
        pcode = resolve_province(
            session=session, name=subscription_in.province, location="body"
        ).pcode
    generated = None if subscription_in.secret else signing.generate_secret()
    sealed = secret_store.seal(subscription_in.secret or generated or "", settings)
    subscription_id = uuid.uuid4()
    session.execute(
        text(
            "INSERT INTO subscriptions"
            " (id, owner_key_id, callback_url, secret_encrypted, province_pcode)"
            " VALUES (:id, :owner, :url, :secret, :pcode)"
        ),
        {
            "id": subscription_id,
            "owner": principal.key_id,
            "url": url,
            "secret": sealed,
            "pcode": pcode,
        },
    )
    created = get(session=session, principal=principal, subscription_id=subscription_id)
    record(
        session,
        actor=principal.actor,
        action="subscription.created",
        entity_type="subscription",
        entity_id=str(subscription_id),
        after={"callback_url": url, "province": pcode},
    )
    return created, generated


def list_for(*, session: Session, principal: Principal) -> list[dict[str, Any]]:
    condition, params = _visible(principal)
    rows = session.execute(text(f"{_READ} AND {condition} ORDER BY s.created_at, s.id"), params)
    return [_read(row) for row in rows]


def get(*, session: Session, principal: Principal, subscription_id: uuid.UUID) -> dict[str, Any]:
    condition, params = _visible(principal)
    row = session.execute(
        text(f"{_READ} AND {condition} AND s.id = :id"), {**params, "id": subscription_id}
    ).first()
    if row is None:
        raise NotFound(f"no subscription {subscription_id}")
    return _read(row)


def delete(*, session: Session, principal: Principal, subscription_id: uuid.UUID) -> None:
    """Stop the subscription: its secret is erased and its pending deliveries cancelled; the
    delivery log is kept."""
    before = get(session=session, principal=principal, subscription_id=subscription_id)
    session.execute(
        text(
            "UPDATE subscriptions SET deleted_at = now(), secret_encrypted = NULL"
            " WHERE id = :id AND deleted_at IS NULL"
        ),
        {"id": subscription_id},
    )
    session.execute(
        text(
            "UPDATE deliveries SET status = 'cancelled'"
            " WHERE subscription_id = :id AND status = 'pending'"
        ),
        {"id": subscription_id},
    )
    record(
        session,
        actor=principal.actor,
        action="subscription.deleted",
        entity_type="subscription",
        entity_id=str(subscription_id),
        before={"callback_url": before["callback_url"], "province": before["province"]},
    )


# Newest first, by (created_at, id).
DELIVERIES = Delivery.__table__.alias("d")
# Every attempt at a delivery ``d``, in order, as JSON.
_ATTEMPT_LOG = literal_column(
    """coalesce((
        SELECT json_agg(json_build_object(
            'attempt', a.attempt, 'started_at', a.started_at,
            'finished_at', a.finished_at, 'outcome', a.outcome,
            'status_code', a.status_code, 'error', a.error) ORDER BY a.attempt)
        FROM delivery_attempts a WHERE a.delivery_id = d.id), '[]')"""
).label("attempt_log")
DELIVERY_ORDER = Keyset(("created_at", "id"), (Kind.time, Kind.uuid))


def list_deliveries(
    *,
    session: Session,
    principal: Principal,
    subscription_id: uuid.UUID,
    cursor: Position | None,
    limit: int,
) -> tuple[list[dict[str, Any]], str | None]:
    """The subscription's deliveries, newest first, each with every attempt made."""
    get(session=session, principal=principal, subscription_id=subscription_id)
    d, r = DELIVERIES, DigestRevision.__table__.alias("r")
    rows = session.execute(
        select(
            d.c.id,
            r.c.digest_date,
            r.c.revision,
            d.c.status,
            d.c.attempts,
            case((d.c.status == DeliveryStatus.pending.value, d.c.next_attempt_at)).label(
                "next_attempt_at"
            ),
            d.c.created_at,
            d.c.delivered_at,
            d.c.last_error,
            _ATTEMPT_LOG,
        )
        .select_from(d.join(r, r.c.id == d.c.digest_revision_id))
        .where(d.c.subscription_id == subscription_id, DELIVERY_ORDER.after(cursor, d))
        .order_by(*DELIVERY_ORDER.order_by(d))
        .limit(limit + 1)
    ).all()
    items = [
        {
            "id": row.id,
            "date": row.digest_date,
            "revision": row.revision,
            "status": row.status,
            "attempts": row.attempts,
            "next_attempt_at": row.next_attempt_at,
            "created_at": row.created_at,
            "delivered_at": row.delivered_at,
            "last_error": row.last_error,
            "attempt_log": row.attempt_log,
        }
        for row in rows[:limit]
    ]
    more = len(rows) > limit
    last = rows[limit - 1] if more else None
    return items, (DELIVERY_ORDER.encode((last.created_at, last.id)) if last else None)
