"""Idempotency keys: (API key, Idempotency-Key) -> the request's fingerprint and its response.

The key is claimed by inserting its record at the start of the request's transaction and
filled in with the response before the commit, so a key never exists without its report or
a report without its key. A concurrent request with the same key blocks on the primary key
until the first commits (then replays its response) or rolls back (then proceeds itself):
concurrent duplicates make exactly one report and every one of them gets the same answer.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from sqlalchemy import text
from sqlalchemy.orm import Session

from service.errors import Conflict, Invalid


@dataclass(frozen=True)
class StoredResponse:
    """A response as first sent: replayed byte for byte to a retry."""

    status: int
    body: bytes
    resource_id: uuid.UUID | None = None
    replayed: bool = False


def claim(
    *, session: Session, api_key_id: uuid.UUID, key: str, request_hash: str
) -> StoredResponse | None:
    """Claim ``key`` for this request (None), or the response already stored under it.

    Raises Invalid when the key was used for a different request.
    """
    claimed = session.execute(
        text(
            "INSERT INTO idempotency_keys (api_key_id, key, request_hash, status_code,"
            " response_body) VALUES (:api_key_id, :key, :hash, 0, '')"
            " ON CONFLICT ON CONSTRAINT pk_idempotency_keys DO NOTHING RETURNING true"
        ),
        {"api_key_id": api_key_id, "key": key, "hash": request_hash},
    ).first()
    if claimed is not None:
        return None
    stored = session.execute(
        text(
            "SELECT request_hash, status_code, response_body, resource_id FROM idempotency_keys"
            " WHERE api_key_id = :api_key_id AND key = :key"
        ),
        {"api_key_id": api_key_id, "key": key},
    ).first()
    if stored is None:  # purged between the two statements
        raise Conflict(
            "the Idempotency-Key expired while this request ran; retry",
            headers={"Retry-After": "1"},
        )
    if stored.request_hash != request_hash:
        raise Invalid(
            "Idempotency-Key already used with a different payload; use a new key for a new"
            " request",
            errors=[{"field": "header.Idempotency-Key", "message": "used with another payload"}],
        )
    return StoredResponse(
        status=stored.status_code,
        body=bytes(stored.response_body),
        resource_id=stored.resource_id,
        replayed=True,
    )


def store(*, session: Session, api_key_id: uuid.UUID, key: str, response: StoredResponse) -> None:
    """Record the response of the request that claimed ``key`` (same transaction)."""
    session.execute(
        text(
            "UPDATE idempotency_keys SET status_code = :status, response_body = :body,"
            " resource_id = :resource_id WHERE api_key_id = :api_key_id AND key = :key"
        ),
        {
            "status": response.status,
            "body": response.body,
            "resource_id": response.resource_id,
            "api_key_id": api_key_id,
            "key": key,
        },
    )


def purge_idempotency_keys(*, session: Session, older_than_days: int = 30) -> int:
    """Delete idempotency records older than ``older_than_days``; returns how many.

    Does not commit. A retry after this still cannot duplicate a report that carries a
    ``client_report_id`` (unique per reporter forever).
    """
    if older_than_days < 0:
        raise Invalid("older_than_days must be zero or more")
    result = session.execute(
        text(
            "DELETE FROM idempotency_keys"
            " WHERE created_at < now() - make_interval(days => CAST(:days AS int))"
        ),
        {"days": older_than_days},
    )
    return result.rowcount
