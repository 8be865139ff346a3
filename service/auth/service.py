"""API keys: create (the secret is shown once), list, revoke, and authenticate a secret."""

from __future__ import annotations

import hashlib
import secrets
import uuid
from dataclasses import dataclass

from sqlalchemy import text
from sqlalchemy.orm import Session

from service.audit.service import Actor, record
from service.auth.models import Role
from service.errors import Conflict, Invalid, NotFound

SECRET_PREFIX = "cfm_"  # noqa: S105 - a marker, not a secret


@dataclass(frozen=True)
class Principal:
    """Who is calling: an API key's id, name and role."""

    key_id: uuid.UUID
    name: str
    role: Role

    @property
    def actor(self) -> Actor:
        return Actor(key_id=self.key_id, label=f"key:{self.name}")


def hash_secret(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def create_key(*, session: Session, role: str, name: str, actor: Actor) -> tuple[dict, str]:
    """A new key and its secret. Only the hash is stored; the secret cannot be shown again."""
    try:
        role = Role(role)
    except ValueError as exc:
        raise Invalid(f"unknown role {role!r}; one of {', '.join(r.value for r in Role)}") from exc
    name = name.strip()
    if not name or len(name) > 200:
        raise Invalid("a key needs a name of 1 to 200 characters")
    secret = SECRET_PREFIX + secrets.token_urlsafe(32)
    row = session.execute(
        text(
            "INSERT INTO api_keys (id, name, role, prefix, secret_hash)"
            " VALUES (:id, :name, :role, :prefix, :hash)"
            " RETURNING id, name, role, prefix, created_at, revoked_at"
        ),
        {
            "id": uuid.uuid4(),
            "name": name,
            "role": role.value,
            "prefix": secret[: len(SECRET_PREFIX) + 4],
            "hash": hash_secret(secret),
        },
    ).one()
    key = dict(row._mapping)
    record(
        session,
        actor=actor,
        action="key.created",
        entity_type="api_key",
        entity_id=str(key["id"]),
        after={"name": name, "role": role.value},
    )
    return key, secret


def list_keys(*, session: Session) -> list[dict]:
    rows = session.execute(
        text(
            "SELECT id, name, role, prefix, created_at, revoked_at FROM api_keys ORDER BY created_at, id"
        )
    )
    return [dict(r._mapping) for r in rows]


def revoke_key(
    *, session: Session, key_id: uuid.UUID, actor: Actor, reason: str | None = None
) -> dict:
    row = session.execute(
        text("SELECT id, name, role, revoked_at FROM api_keys WHERE id = :id FOR UPDATE"),
        {"id": key_id},
    ).first()
    if row is None:
        raise NotFound(f"no key with id {key_id}")
    if row.revoked_at is not None:
        raise Conflict(f"key {key_id} was already revoked at {row.revoked_at.isoformat()}")
    revoked_at = session.execute(
        text("UPDATE api_keys SET revoked_at = now() WHERE id = :id RETURNING revoked_at"),
        {"id": key_id},
    ).scalar_one()
    record(
        session,
        actor=actor,
        action="key.revoked",
        entity_type="api_key",
        entity_id=str(key_id),
        before={"revoked_at": None},
        after={"revoked_at": revoked_at.isoformat()},
        reason=reason,
    )
    from service.auth.keycache import announce_revocation  # noqa: PLC0415 - it imports us

    announce_revocation(session, key_id)
    return {"id": row.id, "name": row.name, "role": row.role, "revoked_at": revoked_at}


@dataclass(frozen=True)
class KeyLookup:
    principal: Principal | None
    revoked: bool


def authenticate(*, session: Session, secret: str) -> KeyLookup:
    row = session.execute(
        text("SELECT id, name, role, revoked_at FROM api_keys WHERE secret_hash = :hash"),
        {"hash": hash_secret(secret)},
    ).first()
    if row is None:
        return KeyLookup(principal=None, revoked=False)
    if row.revoked_at is not None:
        return KeyLookup(principal=None, revoked=True)
    return KeyLookup(principal=Principal(row.id, row.name, Role(row.role)), revoked=False)
