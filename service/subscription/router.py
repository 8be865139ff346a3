from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Query
from starlette.responses import Response

from service import links
from service.api import StrictJSONRoute
from service.auth.dependencies import Monitor
from service.config import get_settings
from service.db import SessionDep
from service.event.paging import CursorQuery
from service.subscription import service
from service.subscription.schemas import (
    DeliveryPage,
    SubscriptionCreate,
    SubscriptionCreated,
    SubscriptionRead,
)

router = APIRouter(prefix="/v1/subscriptions", tags=["subscriptions"], route_class=StrictJSONRoute)

_AUTH = {
    401: {"description": "An API key is required"},
    403: {"description": "Only monitor and admin keys"},
}


@router.post(
    "",
    status_code=201,
    response_model=SubscriptionCreated,
    responses={**_AUTH, 201: {"headers": {"Location": {"schema": {"type": "string"}}}}},
)
def create_subscription(
    subscription_in: SubscriptionCreate, session: SessionDep, principal: Monitor, response: Response
) -> dict:
    """Subscribe a callback URL to new digest revisions (optionally of one governorate).

    Each delivery is a signed POST; see the README for verifying the signature.
    """
    created, generated = service.create(
        session=session,
        principal=principal,
        subscription_in=subscription_in,
        settings=get_settings(),
    )
    session.commit()
    response.headers["Location"] = links.absolute(f"/v1/subscriptions/{created['id']}")
    return {**created, "secret": generated}


@router.get("", response_model=list[SubscriptionRead], responses=_AUTH)
def list_subscriptions(session: SessionDep, principal: Monitor) -> list[dict]:
    """The caller's subscriptions (an admin sees every one)."""
    return service.list_for(session=session, principal=principal)


@router.get("/{subscription_id}", response_model=SubscriptionRead, responses=_AUTH)
def get_subscription(subscription_id: uuid.UUID, session: SessionDep, principal: Monitor) -> dict:
    return service.get(session=session, principal=principal, subscription_id=subscription_id)


@router.delete("/{subscription_id}", status_code=204, response_class=Response, responses=_AUTH)
def delete_subscription(
    subscription_id: uuid.UUID, session: SessionDep, principal: Monitor
) -> Response:
    """Stop deliveries: pending ones are cancelled and the secret is erased."""
    service.delete(session=session, principal=principal, subscription_id=subscription_id)
    session.commit()
    return Response(status_code=204)


@router.get("/{subscription_id}/deliveries", response_model=DeliveryPage, responses=_AUTH)
def list_subscription_deliveries(
    subscription_id: uuid.UUID,
    session: SessionDep,
    principal: Monitor,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    cursor: CursorQuery = None,
) -> dict:
    """Every delivery to this subscription, newest first, with every attempt made."""
    items, next_cursor = service.list_deliveries(
        session=session,
        principal=principal,
        subscription_id=subscription_id,
        cursor=service.DELIVERY_ORDER.decode(cursor),
        limit=limit,
    )
    return {"items": items, "next_cursor": next_cursor}
