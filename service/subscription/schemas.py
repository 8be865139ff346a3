"""Subscription input and output. The secret goes in and never comes back out (except a
secret the service generated, once, in the creation response)."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Annotated

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, HttpUrl


def _no_nul(value: str) -> str:
    if "\x00" in value:
        raise ValueError("must not contain NUL characters")
    return value


class SubscriptionCreate(BaseModel):
    model_config = ConfigDict(extra="forbid", allow_inf_nan=False, str_strip_whitespace=True)

    callback_url: HttpUrl = Field(
        description="http or https; private, loopback and link-local addresses are refused."
    )
    secret: Annotated[str, Field(min_length=16, max_length=256), AfterValidator(_no_nul)] | None = (
        Field(
            default=None,
            description="Signs every delivery (HMAC-SHA256). Omit it to have one generated;"
            " it is shown once, in this response.",
        )
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
        description="The generated secret, when none was given; never shown again."
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
