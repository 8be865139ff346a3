"""Subscription input and output. The secret goes in and never comes back out (except a
secret the service generated, once, in the creation response)."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Annotated

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, HttpUrl

from service.subscription.signing import STANDARD_KEY_BYTES, WHSEC_PREFIX, whsec_key


def _no_nul(value: str) -> str:
    if "\x00" in value:
        raise ValueError("must not contain NUL characters")
    return value


def _whole_whsec(value: str) -> str:
    """A ``whsec_`` secret is a Standard Webhooks key: it must be one, or it would be signed
    with a key its owner's library does not expect."""
    if value.startswith(WHSEC_PREFIX):
        key = whsec_key(value)
        low, high = STANDARD_KEY_BYTES
        if key is None or not low <= len(key) <= high:
            raise ValueError(f"a whsec_ secret must be base64 of {low} to {high} bytes")
    return value


class SubscriptionCreate(BaseModel):
    model_config = ConfigDict(extra="forbid", allow_inf_nan=False, str_strip_whitespace=True)

    callback_url: HttpUrl = Field(
        description="http or https, on an allowed port (80 and 443 by default); hosts"
        " resolving to private, loopback, link-local, shared, reserved or multicast addresses"
        " (or IPv6 forms embedding one: 6to4, Teredo, NAT64, IPv4-mapped) are refused."
    )
    secret: (
        Annotated[
            str,
            Field(min_length=16, max_length=256),
            AfterValidator(_no_nul),
            AfterValidator(_whole_whsec),
        ]
        | None
    ) = Field(
        default=None,
        description="Signs every delivery (HMAC-SHA256; stored encrypted). A Standard"
        " Webhooks secret (whsec_<base64 of 24-64 bytes>) is keyed with the bytes it encodes."
        " Omit it to have a whsec_ secret generated; it is shown once, in this response.",
    )
    province: (
        Annotated[str, Field(min_length=1, max_length=200), AfterValidator(_no_nul)] | None
    ) = Field(
        default=None,
        description="Only revisions that change this governorate's figures (P-code or"
        " name), each narrowed to it.",
    )


class AreaRead(BaseModel):
    pcode: str
    name_en: str


class SubscriptionRead(BaseModel):
    id: uuid.UUID
    callback_url: str
    province: AreaRead | None
    created_at: dt.datetime
    owner_key_id: uuid.UUID


class SubscriptionCreated(SubscriptionRead):
    secret: str | None = Field(
        description="The generated secret (whsec_<base64>, usable as it is by Standard"
        " Webhooks libraries and for X-Ceasefire-Signature), when none was given; never"
        " shown again."
    )


class DeliveryAttemptRead(BaseModel):
    attempt: int
    started_at: dt.datetime
    finished_at: dt.datetime | None
    outcome: str = Field(description="in_flight, succeeded or failed.")
    status_code: int | None
    error: str | None


class DeliveryRead(BaseModel):
    id: uuid.UUID
    date: dt.date
    revision: int
    status: str = Field(description="pending, delivered, failed (gave up) or cancelled.")
    attempts: int
    next_attempt_at: dt.datetime | None
    created_at: dt.datetime
    delivered_at: dt.datetime | None
    last_error: str | None
    attempt_log: list[DeliveryAttemptRead]


class DeliveryPage(BaseModel):
    items: list[DeliveryRead]
    next_cursor: str | None
